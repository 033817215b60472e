"""Clone and catch-up at scale on the sandbox: 1 GB and 5 GB of data on blue, under 2,000 writes/s.

Goals (issue 16): the clone of 1 GB in <= 10 s with blue's longest commit stall <= 50 ms, and
green catching up faster than blue writes at 2,000 writes/s.

Per size:
1. blue is filled with incompressible rows, outside the binlog (the data a clone copies, not a
   backlog for replication);
2. the application (``aurora-bluegreen sandbox load``, its own process) writes at ``--rate``;
   blue is cloned meanwhile. Printed: the clone's seconds, and the application's longest wait
   between two acknowledged writes over a window holding the clone, beside the same figure for a
   window of the same length without one;
3. the application keeps writing for ``--backlog-seconds`` more before replication starts (what
   green has to catch up), then replication starts (our operator) and green's executed GTIDs are
   polled until they hold every write blue had when polling began; printed: the backlog, the
   catch-up time, and green's apply rate against blue's write rate while it caught up.

Printed, never asserted; also written to bench/results/clone-catchup-<engine>.json.
Run: .venv/bin/python bench/clone_catchup.py [--sizes-gb 1,5] [--rate 2000] [--engine mysql]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path

from aurora_bluegreen.gtid import MysqlGtidSet
from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.sandbox import Sandbox

# The cutover benchmark's application process and sandbox set-up (connections, replication user).
_spec = importlib.util.spec_from_file_location("bench_cutover", Path(__file__).with_name("cutover.py"))
bench_cutover = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_cutover)

ROW_BYTES, BATCH_ROWS = 4000, 5000


def fill(sandbox: Sandbox, cluster_id: str, size_gb: float) -> float:
    """``size_gb`` of incompressible rows on blue, written outside the binlog; returns seconds."""
    started = time.monotonic()
    with sandbox.connect(cluster_id, "root") as root, root.cursor() as cursor:
        cursor.execute("CREATE DATABASE IF NOT EXISTS bench")
        cursor.execute(
            "CREATE TABLE bench.filler (id BIGINT AUTO_INCREMENT PRIMARY KEY, pad VARBINARY(4000))"
        )
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute("SET SESSION cte_max_recursion_depth = %s", (BATCH_ROWS,))
        for _ in range(int(size_gb * 1e9) // (ROW_BYTES * BATCH_ROWS)):
            cursor.execute(
                "INSERT INTO bench.filler (pad) WITH RECURSIVE seq (n) AS "
                "(SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %s) "
                "SELECT CONCAT(RANDOM_BYTES(1000), RANDOM_BYTES(1000), RANDOM_BYTES(1000), "
                "RANDOM_BYTES(1000)) FROM seq",
                (BATCH_ROWS,),
            )
            root.commit()
    return time.monotonic() - started


def executed(sandbox: Sandbox, cluster_id: str) -> int:
    """How many transactions the server has executed (its GTID set's size)."""
    with sandbox.connect(cluster_id, "root") as root, root.cursor() as cursor:
        cursor.execute("SELECT @@global.gtid_executed")
        gtids = MysqlGtidSet.parse(cursor.fetchone()[0])
    return sum(end - start + 1 for _, intervals in gtids.intervals for start, end in intervals)


def window_gap_ms(
    bench: bench_cutover.Bench, rate: float, seconds: float, action=None
) -> tuple[float, float]:
    """The application's longest write wait over a window of ``seconds`` (``action`` in it)."""
    application = bench_cutover.Application(bench.sandbox, rate)
    application.wait_until_writing()
    time.sleep(1.0)
    started = time.monotonic()
    if action:
        action()
    took = time.monotonic() - started
    time.sleep(max(0.5, seconds - took))
    counters = application.stop()
    return counters["max_ack_gap_ms"], took


def one_size(bench: bench_cutover.Bench, size_gb: float, rate: float, backlog_seconds: float) -> dict:
    sandbox, blue = bench.sandbox, bench.writer
    fill_seconds = fill(sandbox, blue, size_gb)
    datadir_gb = (
        sum(p.stat().st_size for p in Path(sandbox.record(blue).datadir).rglob("*") if p.is_file()) / 1e9
    )
    print(f"{size_gb:g} GB: filled in {fill_seconds:.0f} s; blue's data directory {datadir_gb:.2f} GB")
    green = f"bench-green-{size_gb:g}gb".replace(".", "-")

    def clone() -> None:
        sandbox.clone(CloneSpec(source_cluster_id=blue, cluster_id=green, writer_instance_id=f"{green}-w"))

    baseline_gap, _ = window_gap_ms(bench, rate, 5.0)
    clone_gap, clone_seconds = window_gap_ms(bench, rate, 5.0, clone)
    print(
        f"  clone: {clone_seconds:.1f} s; application's longest write wait {clone_gap:.0f} ms over the "
        f"clone's window vs {baseline_gap:.0f} ms without a clone (at {rate:g} writes/s)"
    )

    application = bench_cutover.Application(sandbox, rate)
    application.wait_until_writing()
    time.sleep(backlog_seconds)
    backlog = executed(sandbox, blue) - executed(sandbox, green)
    started = time.monotonic()
    StartBinlogReplicationOperator(
        task_id="replicate",
        blue_cluster_id=blue,
        green_cluster_id=green,
        replication_conn_id="bench_repl",
        **bench.planes,
    ).execute({})
    green_start, blue_start = executed(sandbox, green), executed(sandbox, blue)
    polled = time.monotonic()
    while True:
        green_now, blue_now = executed(sandbox, green), executed(sandbox, blue)
        if green_now >= blue_now - rate * 0.25 or time.monotonic() - started > 600:
            break
        time.sleep(0.2)
    caught_up = time.monotonic()
    counters = application.stop()
    elapsed = caught_up - polled
    apply_rate = (green_now - green_start) / elapsed if elapsed else float("inf")
    write_rate = (blue_now - blue_start) / elapsed if elapsed else 0.0
    print(
        f"  catch-up: backlog {backlog} transactions; green within 0.25 s of blue "
        f"{caught_up - started:.1f} s "
        f"after replication started; green applied {apply_rate:.0f}/s while blue wrote {write_rate:.0f}/s "
        f"(application acknowledged {counters['acknowledged']})"
    )
    result = {
        "size_gb": size_gb,
        "datadir_gb": round(datadir_gb, 2),
        "fill_seconds": round(fill_seconds, 1),
        "clone_seconds": round(clone_seconds, 2),
        "clone_window_longest_write_wait_ms": round(clone_gap, 1),
        "baseline_longest_write_wait_ms": round(baseline_gap, 1),
        "backlog_transactions": backlog,
        "catch_up_seconds": round(caught_up - started, 1),
        "green_apply_per_s": round(apply_rate),
        "blue_write_per_s": round(write_rate),
    }
    sandbox.delete(green)
    with sandbox.connect(blue, "root") as root, root.cursor() as cursor:
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute("DROP DATABASE bench")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-gb", default="1,5")
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--backlog-seconds", type=float, default=10.0)
    parser.add_argument("--engine", default="mysql", choices=["mysql"], help="GTID counting needs MySQL")
    args = parser.parse_args()
    sandbox = Sandbox(Path(tempfile.mkdtemp(prefix="clone-catchup-")), engine=args.engine)
    results = []
    try:
        bench = bench_cutover.Bench(sandbox)
        print(f"engine: {sandbox.engine.version}")
        for size in (float(value) for value in args.sizes_gb.split(",")):
            results.append(one_size(bench, size, args.rate, args.backlog_seconds))
    finally:
        sandbox.down()
    output = Path(f"bench/results/clone-catchup-{args.engine}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps({"rate": args.rate, "results": results}, indent=2))
    print(f"results: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
