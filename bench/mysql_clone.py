"""Figures of the sandbox's MySQL engine: root, template, start/stop, memory, and clones under writes.

The question the clone rounds answer: how long does a clone of a ~500 MB source take, and how
long do the source's commits stall meanwhile? A writer commits single-row inserts on the source
as fast as it can (autocommit, one connection); the stall is the longest gap between two
consecutive acknowledged commits, shown beside the same figure for the seconds before the clone.
Every round also checks that the clone holds a gap-free prefix of the writes (the tests prove the
coordinates exact; this only keeps a fast clone from hiding a torn one).

Printed, never asserted. Run: PYTHONPATH=plugins .venv/bin/python bench/mysql_clone.py [--size-mb 500]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from aurora_bluegreen.gtid import MysqlGtidSet
from aurora_bluegreen.sandbox import server
from aurora_bluegreen.sandbox.connect import root_connection
from aurora_bluegreen.sandbox.debian_root import MYSQL_ROOT, find_root
from aurora_bluegreen.sandbox.mysql import server as mysql_server
from aurora_bluegreen.sandbox.mysql.clone import clone_server

ROW_BYTES = 4000
BATCH_ROWS = 5000
BASELINE_SECONDS = 3.0


class Writer(threading.Thread):
    """Commits one row at a time on the source and notes when each commit was acknowledged."""

    def __init__(self, socket: str) -> None:
        super().__init__(daemon=True)
        self.socket = socket
        self.acknowledged: list[tuple[float, int]] = []  # (monotonic time, id)
        self.stopping = threading.Event()

    def run(self) -> None:
        with root_connection(self.socket) as root, root.cursor() as cursor:
            while not self.stopping.is_set():
                cursor.execute("INSERT INTO bench.writes (at) VALUES (NOW(6))")
                self.acknowledged.append((time.monotonic(), cursor.lastrowid))

    def longest_gap_ms(self, start: float, end: float) -> float:
        times = [at for at, _ in self.acknowledged if start <= at <= end]
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0) * 1000

    def rate(self, start: float, end: float) -> float:
        return sum(1 for at, _ in self.acknowledged if start <= at <= end) / (end - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500, help="data to put on the source before cloning")
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    installation = mysql_server.mysql_installation()
    report_root(installation)
    work = Path(tempfile.mkdtemp(prefix="mysql-clone-bench-"))
    try:
        report_template_and_start(installation, work)
        run_clone_rounds(installation, work, arguments.size_mb, arguments.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report_root(installation: mysql_server.MysqlInstallation) -> None:
    root = find_root(MYSQL_ROOT)
    assert root is not None
    print(f"root: {root.path}, {root.main_package} {root.version} from {root.archive}")
    print(f"root: built in {root.build_seconds:.0f} s, {root.size_bytes / 1e6:.0f} MB, at {root.built_at}")
    version = subprocess.run(
        installation.command("usr/sbin/mysqld", "--version"), capture_output=True, text=True, check=True
    )
    print(f"mysqld: {version.stdout.strip()}")


def report_template_and_start(installation: mysql_server.MysqlInstallation, work: Path) -> None:
    datadir = work / "initialize" / "data"
    datadir.parent.mkdir()
    started = time.monotonic()
    command = installation.mysqld(
        *mysql_server.INITIALIZE_OPTIONS, f"--datadir={datadir}", f"--log-error={work / 'init.log'}"
    )
    subprocess.run(command, check=True)
    print(f"--initialize-insecure (what the template saves per server): {time.monotonic() - started:.1f} s")
    starts, stops, rss = [], [], []
    for n in range(3):
        files = mysql_server.server_files(work / f"start-{n}", f"start-{n}")
        started = time.monotonic()
        mysql_server.init_datadir(installation, files.datadir)
        pid = mysql_server.start(installation, files, server.free_port(set()), 100 + n, False)
        server.wait_until_ready(files, pid)
        starts.append(time.monotonic() - started)
        time.sleep(1)
        rss.append(_rss_mb(pid))
        started = time.monotonic()
        server.stop(pid, files)
        stops.append(time.monotonic() - started)
    print(f"template copy + start until root connects: {_spread(starts, 's')}")
    print(f"idle RSS: {_spread(rss, 'MB')}; SIGTERM stop: {_spread(stops, 's')}")


def run_clone_rounds(
    installation: mysql_server.MysqlInstallation, work: Path, size_mb: int, rounds: int
) -> None:
    source = mysql_server.server_files(work / "source", "source")
    mysql_server.init_datadir(installation, source.datadir)
    port = server.free_port(set())
    pid = mysql_server.start(installation, source, port, 1, False)
    server.wait_until_ready(source, pid)
    try:
        filled = time.monotonic()
        _fill(str(source.socket), size_mb)
        seconds = time.monotonic() - filled
        on_disk = sum(path.stat().st_size for path in source.datadir.rglob("*") if path.is_file()) / 1e6
        print(f"source filled in {seconds:.0f} s: data directory {on_disk:.0f} MB; RSS {_rss_mb(pid):.0f} MB")
        for n in range(rounds):
            _clone_round(installation, work, source, port, n)
    finally:
        server.stop(pid, source)


def _clone_round(
    installation: mysql_server.MysqlInstallation, work: Path, source: server.ServerFiles, port: int, n: int
) -> None:
    writer = Writer(str(source.socket))
    writer.start()
    time.sleep(BASELINE_SECONDS)
    files = mysql_server.server_files(work / f"clone-{n}", f"clone-{n}")
    clone_started = time.monotonic()
    cloned = clone_server(
        installation, str(source.socket), port, files, server.free_port({port}), 10 + n, True
    )
    clone_ended = time.monotonic()
    writer.stopping.set()
    writer.join()
    with root_connection(str(files.socket)) as root, root.cursor() as cursor:
        cursor.execute(
            "SELECT STAGE, TIMESTAMPDIFF(MICROSECOND, BEGIN_TIME, END_TIME) "
            "FROM performance_schema.clone_progress"
        )
        stages = ", ".join(f"{stage.lower()} {us / 1e6:.2f}" for stage, us in cursor.fetchall() if us)
        cursor.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM bench.writes")
        last_id, count = cursor.fetchone()
    ((_, cloned_intervals),) = MysqlGtidSet.parse(cloned.coordinates.gtid_set).intervals
    # One writer commits in id order, so a consistent copy holds exactly ids 1..last_id.
    prefix = count == last_id and any(row_id == last_id for _, row_id in writer.acknowledged)
    print(
        f"clone {n}: {cloned.seconds:.2f} s in all (CLONE stages, s: {stages}); "
        f"source commit stall {writer.longest_gap_ms(clone_started, clone_ended):.0f} ms during the clone vs "
        f"{writer.longest_gap_ms(clone_started - BASELINE_SECONDS, clone_started):.0f} ms before; "
        f"{writer.rate(clone_started, clone_ended):.0f} commits/s during vs "
        f"{writer.rate(clone_started - BASELINE_SECONDS, clone_started):.0f} before; "
        f"clone ends at {cloned.coordinates.position} (GTID ..{cloned_intervals[-1][1]}), "
        f"holding writes 1..{last_id} without a gap: {prefix}"
    )
    server.stop(cloned.pid, files)
    shutil.rmtree(files.server_dir, ignore_errors=True)


def _fill(socket: str, size_mb: int) -> None:
    """``size_mb`` of incompressible rows, written outside the binlog, and the writer's table."""
    with root_connection(socket) as root, root.cursor() as cursor:
        cursor.execute("CREATE DATABASE bench")
        cursor.execute(
            "CREATE TABLE bench.writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME(6) NOT NULL)"
        )
        cursor.execute(
            "CREATE TABLE bench.filler (id BIGINT AUTO_INCREMENT PRIMARY KEY, pad VARBINARY(4000))"
        )
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute("SET SESSION cte_max_recursion_depth = %s", (BATCH_ROWS,))
        for _ in range(size_mb * 1_000_000 // (ROW_BYTES * BATCH_ROWS)):
            cursor.execute(
                "INSERT INTO bench.filler (pad) WITH RECURSIVE seq (n) AS "
                "(SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %s) "
                "SELECT CONCAT(RANDOM_BYTES(1000), RANDOM_BYTES(1000), RANDOM_BYTES(1000), "
                "RANDOM_BYTES(1000)) FROM seq",
                (BATCH_ROWS,),
            )


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _spread(values: list[float], unit: str) -> str:
    return f"min {min(values):.2f} / median {statistics.median(values):.2f} / max {max(values):.2f} {unit}"


if __name__ == "__main__":
    main()
