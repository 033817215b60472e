"""A fleet of N blues in one wave against N deployments one after the other, on one Airflow.

Both sides deploy N sandbox blues, each under its own write load, and every approval is answered
over REST ``--settle`` seconds after it opens. Printed per side: wall time from the first trigger
to the last run's end, how many approvals were answered, and worker time: the seconds tasks ran
in a worker slot, beside the seconds spent waiting (catch-up sensors deferred to the triggerer,
approvals awaiting input), which hold no slot. The deployment DAG has steps the fleet leaves out
(SQL file checks, preflight, migrations and checks on green, AWS-only skips), so its worker time
is a little higher per cluster for reasons other than waves.

Run: .venv/bin/python bench/fleet_vs_sequential.py [--size 4] [--rate 200] [--engine mysql]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aurora_bluegreen.demo.airflow_rest import APPROVAL_SETTLE_SECONDS, AirflowRestClient
from aurora_bluegreen.demo.airflow_stack import AirflowStack
from aurora_bluegreen.demo.fleet import FLEET_DAG_ID, FleetDemo
from aurora_bluegreen.demo.processes import free_port
from aurora_bluegreen.demo.report import seconds_between
from aurora_bluegreen.demo.runner import DAG_ID, DemoOptions, default_conf
from aurora_bluegreen.sandbox import Sandbox
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

WAITING_OPERATORS = {"ReplicaLagSensor", "ApprovalOperator", "AskedApprovalOperator"}
REPO_ROOT = Path(__file__).resolve().parents[1]


def slot_seconds(client: AirflowRestClient, dag_id: str, run_id: str) -> dict[str, float]:
    worker = waiting = 0.0
    for ti in client.task_instances(dag_id, run_id):
        seconds = ti.get("duration") or 0.0
        if (ti.get("operator_name") or ti.get("operator")) in WAITING_OPERATORS:
            waiting += seconds
        else:
            worker += seconds
    return {"worker_slot_seconds": round(worker, 1), "waiting_without_slot_seconds": round(waiting, 1)}


class FleetBench(FleetDemo):
    def __init__(self, work: Path, size: int, rate: float, engine: str, settle: float) -> None:
        options = DemoOptions(
            repo_root=REPO_ROOT, port=free_port(), rate=rate, engine=engine, approval_settle_seconds=settle
        )
        super().__init__(options, size=size, wave_size=size, say=print)
        self.sandbox = Sandbox(work / "sandbox", engine=engine)
        self.stack = AirflowStack(REPO_ROOT, home=work / "airflow", port=options.port)

    def fleet(self, client: AirflowRestClient) -> dict[str, Any]:
        loads = self._loads(
            [m["blue_cluster_id"] for m in self.members], [m["repoint"] for m in self.members]
        )
        started = time.monotonic()
        ok = self._deploy_fleet(client, loads)
        wall = time.monotonic() - started
        _, run_id = self._run
        run = client.get_dag_run(FLEET_DAG_ID, run_id)
        return {
            "ok": ok,
            "wall_seconds": round(wall, 1),
            "run_seconds": seconds_between(run["queued_at"], run["end_date"]),
            "approvals": 1,
            **slot_seconds(client, FLEET_DAG_ID, run_id),
        }

    def sequential(self, client: AirflowRestClient) -> dict[str, Any]:
        names = [f"seq-{n}" for n in range(1, len(self.members) + 1)]
        for name in names:
            self._start_member(
                {"blue_cluster_id": f"{name}-blue", "repoint": f"sandbox:{name.replace('-', '_')}"}
            )
        loads = self._loads(
            [f"{name}-blue" for name in names], [f"sandbox:{n.replace('-', '_')}" for n in names]
        )
        connections = {key: value for key, value in default_conf().items() if key.endswith("_conn_id")}
        totals = {"worker_slot_seconds": 0.0, "waiting_without_slot_seconds": 0.0}
        started, missing = time.monotonic(), 0
        for name in names:
            conf = {
                "blue_cluster_id": f"{name}-blue",
                "green_cluster_id": f"{name}-green",
                "writer_instance_id": f"{name}-green-writer",
                "repoint": f"sandbox:{name.replace('-', '_')}",
                **connections,
            }
            run_id = f"bench_seq_{name}_{uuid.uuid4().hex[:6]}"
            client.trigger_dag_run(DAG_ID, run_id=run_id, conf=conf)
            request = client.wait_for_approval_request(DAG_ID, run_id, timeout=900)
            client.answer_when_settled(request, ["Approve"], self.options.approval_settle_seconds)
            run = client.wait_for_dag_run(DAG_ID, run_id, timeout=900)
            self.say(f"sequential {name}: {run['state']}")
            for key, value in slot_seconds(client, DAG_ID, run_id).items():
                totals[key] += value
        wall = time.monotonic() - started
        for name in names:
            summary = loads[f"{name}-blue"].stop()
            with self.sandbox.connect(f"{name}-green") as green:
                missing += len(missing_writes(Path(summary.acked_ids_file), green))
        return {
            "wall_seconds": round(wall, 1),
            "approvals": len(names),
            "missing": missing,
            **{key: round(value, 1) for key, value in totals.items()},
        }

    def _loads(self, blues: list[str], repoints: list[str]) -> dict[str, LoadGenerator]:
        loads = {}
        for blue, repoint in zip(blues, repoints, strict=True):
            loads[blue] = LoadGenerator.in_sandbox(
                self.sandbox.state_dir, repoint.split(":", 1)[1], self.options.rate
            )
            loads[blue].start()
        return loads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--engine", default="mysql", choices=["mysql", "mariadb"])
    # Sooner than this, Airflow 3.3.2 sometimes fails the approval it answers (seen here at 2 s).
    parser.add_argument(
        "--settle",
        type=float,
        default=APPROVAL_SETTLE_SECONDS,
        help=f"seconds before each approval is answered (default: {APPROVAL_SETTLE_SECONDS:g})",
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    bench = FleetBench(work, args.size, args.rate, args.engine, args.settle)
    try:
        blues = [bench._start_member(m) for m in bench.members]
        client = bench._start_airflow(blues[0])
        client.unpause_dag(DAG_ID)
        results = {"size": args.size, "rate": args.rate, "engine": bench.sandbox.engine.version}
        results["fleet_one_wave"] = bench.fleet(client)
        results["sequential"] = bench.sequential(client)
    finally:
        bench.stop()
        bench.sandbox.down()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    output = REPO_ROOT / "bench" / "results" / f"fleet-vs-sequential-{args.engine}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
