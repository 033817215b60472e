"""Figures of an engine upgrade on the sandbox: green's MariaDB upgraded in place while blue takes writes.

Each round clones blue into a new green, replicates into it (file and position, then GTID, by
turns), lets it catch up, and upgrades it (``Sandbox.upgrade``: 10.11 -> 11.8 on Debian 12) while
the application writes to blue at ``--rate``. A sampler reads green's lag every 50 ms from the
upgrade's start until green has caught up again:

- ``behind``: transactions blue has committed that green has not applied, from the GTID sequence
  numbers of blue's domain (``@@gtid_binlog_pos`` on blue, ``@@gtid_slave_pos`` on green; MariaDB
  keeps the latter in file-and-position replication too);
- ``down``: how long green answered no query (its server stopped or starting);
- ``catch_up``: from the end of the upgrade until ``behind`` was 0 again.

Every round also checks that green holds every write the application saw acknowledged. Printed,
never asserted. Also printed: the trixie root's build time and size, as recorded when it was built.

Run: PYTHONPATH=plugins .venv/bin/python bench/upgrade.py [--rounds 4] [--rate 300]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.sandbox import Sandbox
from aurora_bluegreen.sandbox.connect import root_connection
from aurora_bluegreen.sandbox.debian_root import KNOWN_ROOTS, find_root
from aurora_bluegreen.sandbox.installations import system_installation, upgrade_path
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

REPLICATION_USER = "repl_bench"
REPLICATION_PASSWORD = "bench'pa\"ss\\wörd"
ENDPOINT = "app"
SAMPLE_SECONDS = 0.05


@dataclass
class Lag:
    """What the sampler saw of green from the upgrade's start until it had caught up."""

    samples: list[tuple[float, int | None]] = field(default_factory=list)  # (seconds, behind | None)

    @property
    def max_behind(self) -> int:
        return max((behind for _, behind in self.samples if behind is not None), default=0)

    @property
    def down_seconds(self) -> float:
        """The time between a sample that found green not answering and the next sample."""
        pairs = zip(self.samples, self.samples[1:], strict=False)
        return sum(later - t for (t, behind), (later, _) in pairs if behind is None)


class Sampler(threading.Thread):
    """Samples green's lag behind blue until stopped."""

    def __init__(self, blue_socket: str, green_socket: str, domain_server: str) -> None:
        super().__init__(daemon=True)
        self.blue_socket, self.green_socket, self.domain_server = blue_socket, green_socket, domain_server
        self.lag = Lag()
        self.started = time.monotonic()
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.lag.samples.append((time.monotonic() - self.started, self.behind()))
            time.sleep(SAMPLE_SECONDS)

    def behind(self) -> int | None:
        try:
            source = _seq(_variable(self.blue_socket, "gtid_binlog_pos"), self.domain_server)
            applied = _seq(_variable(self.green_socket, "gtid_slave_pos"), self.domain_server)
        except pymysql.err.MySQLError:
            return None
        return max(source - applied, 0)


def _variable(socket: str, name: str) -> str:
    with root_connection(socket, connect_timeout=0.5, read_timeout=1) as root, root.cursor() as cursor:
        cursor.execute(f"SELECT @@GLOBAL.{name}")
        return cursor.fetchone()[0]


def _seq(gtid_position: str, domain_server: str) -> int:
    """The sequence number of blue's GTIDs (``0-<server_id>-<seq>``) in a MariaDB GTID position."""
    for gtid in filter(None, gtid_position.split(",")):
        domain, server_id, seq = gtid.strip().split("-")
        if f"{domain}-{server_id}" == domain_server:
            return int(seq)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rate", type=float, default=300, help="application writes per second on blue")
    parser.add_argument("--json", type=Path, default=None, help="also write every round's figures here")
    arguments = parser.parse_args()
    path = upgrade_path(system_installation().series)  # UpgradeUnavailable says why there is none
    work = Path(tempfile.mkdtemp(prefix="upgrade-bench-"))
    sandbox = Sandbox(work / "sandbox", engine="mariadb")
    try:
        sandbox.create_blue("blue")
        _replication_user(sandbox)
        sandbox.point_endpoint(ENDPOINT, "blue")
        rounds = [_round(sandbox, n, path.to_series, arguments.rate) for n in range(arguments.rounds)]
        _report_root(path.root)
        _summary(rounds)
        if arguments.json:
            arguments.json.write_text(json.dumps(rounds, indent=2) + "\n")
    finally:
        sandbox.down()
        shutil.rmtree(work, ignore_errors=True)


def _replication_user(sandbox: Sandbox) -> None:
    with sandbox.connect("blue", "admin") as admin, admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (REPLICATION_USER, REPLICATION_PASSWORD))
        cursor.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'%%'", (REPLICATION_USER,))


def _green(sandbox: Sandbox, green: str, gtid: bool) -> None:
    sandbox.clone(CloneSpec("blue", green, f"{green}-1"))
    position = sandbox.clone_coordinates(green).position
    blue = sandbox.describe("blue")
    with sandbox.connect(green, "admin") as admin, admin.cursor() as cursor:
        if gtid:
            cursor.execute(
                "CALL mysql.rds_set_external_source_with_auto_position(%s, %s, %s, %s, 0)",
                (blue.endpoint, blue.port, REPLICATION_USER, REPLICATION_PASSWORD),
            )
        else:
            cursor.execute(
                "CALL mysql.rds_set_external_source(%s, %s, %s, %s, %s, %s, 0)",
                (
                    blue.endpoint,
                    blue.port,
                    REPLICATION_USER,
                    REPLICATION_PASSWORD,
                    position.file,
                    position.position,
                ),
            )
        cursor.execute("CALL mysql.rds_start_replication()")


def _round(sandbox: Sandbox, n: int, target: str, rate: float) -> dict:
    gtid = n % 2 == 1
    green = f"green-{n}"
    _green(sandbox, green, gtid)
    blue_socket, green_socket = str(sandbox.socket("blue")), str(sandbox.socket(green))
    domain_server = f"0-{sandbox.record('blue').server_id}"
    load = LoadGenerator.in_sandbox(sandbox.state_dir, ENDPOINT, rate)
    load.start()
    time.sleep(2)  # green replicating under the load before the upgrade
    sampler = Sampler(blue_socket, green_socket, domain_server)
    sampler.start()
    report = sandbox.upgrade(green, target)
    upgraded_at = time.monotonic() - sampler.started
    while sampler.lag.samples[-1][1] != 0 or sampler.lag.samples[-1][0] < upgraded_at:
        time.sleep(SAMPLE_SECONDS)
    caught_up_at = sampler.lag.samples[-1][0]
    sampler.halt.set()
    summary = load.stop()
    time.sleep(1)
    with root_connection(green_socket) as root:
        missing = len(missing_writes(Path(summary.acked_ids_file), root))
    figures = {
        "round": n,
        "replication": "gtid" if gtid else "file-position",
        "upgrade_s": report.seconds,
        "green_down_s": round(sampler.lag.down_seconds, 2),
        "max_behind": sampler.lag.max_behind,
        "catch_up_s": round(caught_up_at - upgraded_at, 2),
        "acknowledged": summary.counters.acknowledged,
        "missing_on_green": missing,
        "to_version": report.to_version,
    }
    print(json.dumps(figures))
    sandbox.delete(green)
    return figures


def _report_root(name: str) -> None:
    root = find_root(KNOWN_ROOTS[name])
    if root is not None:
        print(
            f"root {name}: {root.main_package} {root.version} from {root.archive}, built in "
            f"{root.build_seconds:.0f} s, {root.size_bytes / 1e6:.0f} MB, at {root.built_at}"
        )


def _summary(rounds: list[dict]) -> None:
    def spread(values: list[float]) -> str:
        return f"median {statistics.median(values):.2f}, min {min(values):.2f}, max {max(values):.2f}"

    print(f"{len(rounds)} rounds, green {rounds[0]['to_version']}")
    for step in rounds[0]["upgrade_s"]:
        print(f"  upgrade {step} s: {spread([r['upgrade_s'][step] for r in rounds])}")
    print(f"  green answering no query, s: {spread([r['green_down_s'] for r in rounds])}")
    print(f"  most transactions behind: {spread([r['max_behind'] for r in rounds])}")
    print(f"  catch-up after the upgrade, s: {spread([r['catch_up_s'] for r in rounds])}")
    print(f"  acknowledged writes missing on green: {sum(r['missing_on_green'] for r in rounds)}")


if __name__ == "__main__":
    main()
