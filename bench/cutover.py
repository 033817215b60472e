"""Cutover benchmark on the sandbox: our CutoverOperator against a minimal raw-SQL cutover.

Each round clones the current writer, replicates into the clone, and cuts the application over
to it while the load generator writes; the clone then becomes the writer for the next round.
Rounds rotate between our operator and two raw floors (plain statements as root, and the same
steps through the mysql.rds_* procedures as on Aurora), so all see the same machine state.

The application (the load generator) runs in a process of its own, as it would in production:
sharing this process's interpreter lock would slow whichever cutover does more Python work.

Two freeze figures per cutover:
- ``freeze_ms``: blue read-only issued -> application repointed, timed by the cutover itself;
- ``app_gap_ms``: the longest gap between two acknowledged writes seen by the application.
Each run in the JSON also keeps its steps' durations (``steps_ms``), to see where a freeze went.

Run: .venv/bin/python bench/cutover.py [--engine mysql|mariadb] [--rounds 20] [--rate 500]
[--rates 100,500,2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import MySQLdb

from aurora_bluegreen import dialects
from aurora_bluegreen.models import BinlogPosition, CloneSpec
from aurora_bluegreen.operators.cutover import CutoverOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.sandbox import Sandbox
from aurora_bluegreen.sandbox.endpoints import Endpoint, write_endpoint
from aurora_bluegreen.sandbox.engines import DEFAULT_ENGINE, ENGINES
from aurora_bluegreen.sandbox.load import missing_writes

REPLICATION_USER = "repl_bench"
REPLICATION_PASSWORD = "bench'pa\"ss\\wörd"
ENDPOINT = "app"
KINDS = ("ours", "raw", "raw_rds")
RDS_STEPS = {
    "freeze": "CALL mysql.rds_set_read_only(1)",
    "stop": "CALL mysql.rds_stop_replication()",
    "reset": "CALL mysql.rds_reset_external_source()",
    "writable": "CALL mysql.rds_set_read_only(0)",
}


class Application:
    """``aurora-bluegreen sandbox load`` in its own process, following the endpoint file."""

    def __init__(self, sandbox: Sandbox, rate: float) -> None:
        self.run_id = f"bench-{uuid.uuid4().hex[:8]}"
        load_dir = Path(sandbox.state_dir) / "load"
        self.acked_ids_file = load_dir / f"{self.run_id}.acked"
        self.summary_file = load_dir / f"{self.run_id}.summary.json"
        command = [str(Path(sys.executable).with_name("aurora-bluegreen")), "sandbox", "load"]
        options = {
            "--state-dir": sandbox.state_dir,
            "--endpoint": ENDPOINT,
            "--rate": rate,
            "--run-id": self.run_id,
        }
        arguments = [str(part) for option in options.items() for part in option]
        self.process = subprocess.Popen([*command, *arguments], stdout=subprocess.DEVNULL)

    def wait_until_writing(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not (self.acked_ids_file.exists() and self.acked_ids_file.stat().st_size):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the load process did not start writing (exit {self.process.poll()})")
            time.sleep(0.05)

    def stop(self) -> dict:
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(timeout=30) != 0:
            raise RuntimeError(f"the load process failed with exit code {self.process.returncode}")
        return json.loads(self.summary_file.read_text())["counters"]


class Bench:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.writer = "bench-blue"
        self.round = 0
        sandbox.create_blue(self.writer)
        sandbox.point_endpoint(ENDPOINT, self.writer)
        credentials = sandbox.credentials
        conns = {
            "BENCH_CP": {"conn_type": "aurora_sandbox", "extra": {"state_dir": str(sandbox.state_dir)}},
            "BENCH_ADMIN": {
                "conn_type": "mysql",
                "login": credentials.admin_user,
                "password": credentials.admin_password,
            },
            "BENCH_REPL": {"conn_type": "mysql", "login": REPLICATION_USER, "password": REPLICATION_PASSWORD},
        }
        for name, conn in conns.items():
            os.environ[f"AIRFLOW_CONN_{name}"] = json.dumps(conn)
        self.planes = {"control_plane_conn_id": "bench_cp", "admin_conn_id": "bench_admin"}

    def prepare_green(self) -> str:
        self.round += 1
        green = f"bench-green-{self.round}"
        self.sandbox.clone(
            CloneSpec(source_cluster_id=self.writer, cluster_id=green, writer_instance_id=f"{green}-w")
        )
        StartBinlogReplicationOperator(
            task_id="replicate",
            blue_cluster_id=self.writer,
            green_cluster_id=green,
            replication_conn_id="bench_repl",
            **self.planes,
        ).execute({})
        return green

    def ours(self, green: str) -> tuple[float, dict[str, float]]:
        """Our operator's freeze, and how long each of its steps took."""
        report = CutoverOperator(
            task_id="cutover",
            blue_cluster_id=self.writer,
            green_cluster_id=green,
            replication_conn_id="bench_repl",
            max_freeze_seconds=5,
            max_lag_seconds=30,
            repoint=f"sandbox:{ENDPOINT}",
            **self.planes,
        ).execute({})
        return report["freeze_ms"], {step["name"]: step["duration_ms"] for step in report["steps"]}

    def raw(self, green: str, via_rds_procedures: bool = False) -> tuple[float, dict[str, float]]:
        """The floor: the same server-side steps, with nothing checked or recorded.

        As root with plain statements, or (``via_rds_procedures``) as the master user through the
        mysql.rds_* procedures, the only way the same steps can be taken on Aurora.
        """
        blue_conn = self.client(self.writer, as_root=not via_rds_procedures)
        server = self.server_version(blue_conn)
        statements = RDS_STEPS if via_rds_procedures else plain_steps(server)
        green_conn = self.client(green, as_root=not via_rds_procedures)
        info = self.sandbox.describe(green)
        steps: dict[str, float] = {}
        with blue_conn.cursor() as blue, green_conn.cursor() as replica:
            started = last = time.perf_counter()

            def step_done(name: str) -> None:
                nonlocal last
                now = time.perf_counter()
                steps[name], last = (now - last) * 1000, now

            blue.execute(statements["freeze"])
            step_done("freeze")
            blue.execute(dialects.show_source_status(server).sql)
            file, position, *rest = blue.fetchone()
            step_done("final_position")
            # The quickest exact wait the server offers, as a DBA would pick it: by GTID where the
            # source reports its set (MySQL), since a multithreaded replica's position lags.
            gtids = "".join((rest[2] if len(rest) > 2 else "").split())
            if gtids:
                replica.execute(*dialects.wait_for_gtid_set(gtids, 5))
            else:
                replica.execute(*dialects.wait_for_position(server, BinlogPosition(file, int(position)), 5))
            step_done("wait")
            for name in ("stop", "reset", "writable"):
                replica.execute(statements[name])
                step_done(name)
            write_endpoint(self.sandbox.endpoint_file(ENDPOINT), Endpoint(info.endpoint, info.port, green))
            step_done("repoint")
            freeze = (time.perf_counter() - started) * 1000
        blue_conn.close()
        green_conn.close()
        return freeze, steps

    @staticmethod
    def server_version(connection: MySQLdb.Connection) -> dialects.ServerVersion:
        with connection.cursor() as cursor:
            cursor.execute(dialects.VERSION.sql)
            return dialects.ServerVersion(*cursor.fetchone())

    def client(self, cluster_id: str, as_root: bool) -> MySQLdb.Connection:
        """The C client our operator uses too (through the mysql provider), so the floor does not
        pay for a slower driver: root over the unix socket, or the master user over TCP."""
        if as_root:
            return MySQLdb.connect(
                unix_socket=str(self.sandbox.socket(cluster_id)), user="root", autocommit=True
            )
        info, credentials = self.sandbox.describe(cluster_id), self.sandbox.credentials
        return MySQLdb.connect(
            host=info.endpoint,
            port=info.port,
            user=credentials.admin_user,
            password=credentials.admin_password,
            charset="utf8mb4",
            autocommit=True,
        )

    def cutover_under_load(self, kind: str, rate: float) -> dict:
        green = self.prepare_green()
        application = Application(self.sandbox, rate)
        application.wait_until_writing()
        # A random start: the servers flush and purge on one-second timers that start with them,
        # and a fixed delay would land every cutover of a kind at the same phase of those timers.
        time.sleep(random.uniform(0.5, 1.5))
        freeze_ms, steps = (
            self.ours(green) if kind == "ours" else self.raw(green, via_rds_procedures=kind == "raw_rds")
        )
        time.sleep(0.5)
        counters = application.stop()
        with self.sandbox.connect(green, "root") as connection:
            missing = len(missing_writes(application.acked_ids_file, connection))
        self.retire(self.writer)
        self.writer = green
        return {
            "kind": kind,
            "rate": rate,
            "freeze_ms": freeze_ms,
            "app_gap_ms": counters["max_ack_gap_ms"],
            "acknowledged": counters["acknowledged"],
            "missing": missing,
            "steps_ms": steps,
        }

    def retire(self, cluster_id: str) -> None:
        if self.sandbox.describe(cluster_id).is_managed:
            self.sandbox.delete(cluster_id)
        else:
            self.sandbox.stop_server(cluster_id)


def plain_steps(server: dialects.ServerVersion) -> dict[str, str]:
    """The native statements root would send, in the words this server's version speaks."""
    native = dialects.Dialect.MYSQL if server.engine is dialects.Engine.MYSQL else dialects.Dialect.MARIADB
    return {
        "freeze": "SET GLOBAL read_only = 1",
        "stop": dialects.stop_replication(native, server).sql,
        "reset": dialects.reset_external_source(native, server).sql,
        "writable": "SET GLOBAL read_only = 0",
    }


def describe(values: list[float]) -> dict:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def fmt(stats: dict) -> str:
    return f"{stats['min']:7.1f} {stats['median']:7.1f} {stats['max']:7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20, help="cutovers of each kind at --rate")
    parser.add_argument("--rate", type=float, default=500, help="writes/s for the comparison")
    parser.add_argument("--rates", default="100,500,2000", help="write rates for the freeze-vs-rate table")
    parser.add_argument("--per-rate", type=int, default=5, help="cutovers of ours at each of --rates")
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULT_ENGINE, help="the sandbox's server")
    parser.add_argument("--output", default=None, help="default: bench/results/cutover-<engine>.json")
    args = parser.parse_args()

    sandbox = Sandbox(tempfile.mkdtemp(prefix="bench-cutover-"), engine=args.engine)
    print(f"engine: {sandbox.engine.version}", flush=True)
    results = []
    try:
        bench = Bench(sandbox)
        for i in range(args.rounds * len(KINDS)):
            results.append(bench.cutover_under_load(KINDS[i % len(KINDS)], args.rate))
            print(json.dumps(results[-1]), flush=True)
        for rate in (float(r) for r in args.rates.split(",")):
            for _ in range(args.per_rate):
                results.append(bench.cutover_under_load("ours", rate))
                print(json.dumps(results[-1]), flush=True)
    finally:
        sandbox.down()

    comparison = results[: args.rounds * len(KINDS)]
    summary = {}
    for kind in KINDS:
        runs = [r for r in comparison if r["kind"] == kind]
        summary[kind] = {
            "freeze_ms": describe([r["freeze_ms"] for r in runs]),
            "app_gap_ms": describe([r["app_gap_ms"] for r in runs]),
            "acknowledged": sum(r["acknowledged"] for r in runs),
            "missing": sum(r["missing"] for r in runs),
        }
    ratio = summary["ours"]["freeze_ms"]["median"] / summary["raw"]["freeze_ms"]["median"]
    app_ratio = summary["ours"]["app_gap_ms"]["median"] / summary["raw"]["app_gap_ms"]["median"]
    rds_ratio = summary["ours"]["freeze_ms"]["median"] / summary["raw_rds"]["freeze_ms"]["median"]
    by_rate = {}
    for rate in sorted({r["rate"] for r in results[len(comparison) :]}):
        runs = [r for r in results[len(comparison) :] if r["rate"] == rate]
        by_rate[rate] = {
            "freeze_ms": describe([r["freeze_ms"] for r in runs]),
            "app_gap_ms": describe([r["app_gap_ms"] for r in runs]),
            "missing": sum(r["missing"] for r in runs),
        }

    print(
        f"\nCutover freeze at {args.rate:.0f} writes/s, {args.rounds} cutovers each (min / median / max, ms)"
    )
    print(f"{'':6} {'freeze (cutover timer)':>24}   {'app gap (longest ack gap)':>26}   acked  missing")
    for kind in KINDS:
        s = summary[kind]
        print(
            f"{kind:6} {fmt(s['freeze_ms']):>24}   {fmt(s['app_gap_ms']):>26}   "
            f"{s['acknowledged']:6d}  {s['missing']}"
        )
    print(f"median ratio ours/raw: freeze {ratio:.2f}x, app gap {app_ratio:.2f}x")
    print(
        f"median ratio ours/raw_rds (the same steps through mysql.rds_* procedures): freeze {rds_ratio:.2f}x"
    )
    print("\nFreeze against write rate (ours)")
    for rate, s in by_rate.items():
        print(
            f"{rate:6.0f}/s  freeze {fmt(s['freeze_ms'])}   "
            f"app gap {fmt(s['app_gap_ms'])}   missing {s['missing']}"
        )

    output = Path(args.output or f"bench/results/cutover-{args.engine}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        json.dumps(
            {
                "engine": sandbox.engine.version,
                "comparison": summary,
                "ratio_median_freeze": ratio,
                "ratio_median_freeze_vs_rds_procedures": rds_ratio,
                "by_rate": by_rate,
                "runs": results,
            },
            indent=2,
        )
    )
    print(f"\nresults: {output}")
    total_missing = sum(r["missing"] for r in results)
    return 1 if total_missing else 0


if __name__ == "__main__":
    sys.exit(main())
