"""The load generator against real servers: it follows the endpoint and loses no acknowledged write."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pymysql
import pytest

from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes, read_acked_ids

pytestmark = pytest.mark.integration

READ_ONLY_ERROR = "1290"


def _wait_for_acks(load: LoadGenerator, count: int, timeout: float = 10) -> None:
    target = load.counters().acknowledged + count
    deadline = time.monotonic() + timeout
    while load.counters().acknowledged < target:
        assert time.monotonic() < deadline, f"load stalled: {load.counters()}"
        time.sleep(0.01)


def _call(connection: pymysql.connections.Connection, statement: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement)


def test_load_follows_the_endpoint_through_a_cutover_and_loses_no_acknowledged_write(
    sandbox, connect, replication
):
    sandbox.clone(CloneSpec("blue", "lg-green", "lg-green-1", tags={"role": "green"}))
    replication.start("lg-green", sandbox.clone_coordinates("lg-green").position)
    sandbox.point_endpoint("lg", "blue")
    load = LoadGenerator.in_sandbox(sandbox.state_dir, "lg", rate=1000)
    load.start()
    try:
        _wait_for_acks(load, 300)
        # A bare-hands cutover; the writes in between fail with 1290 and are retried.
        sandbox.set_read_only("blue", True)
        replication.wait_caught_up("lg-green")
        green = connect("lg-green", "admin")
        _call(green, "CALL mysql.rds_stop_replication()")
        _call(green, "CALL mysql.rds_reset_external_source()")
        _call(green, "CALL mysql.rds_set_read_only(0)")
        sandbox.point_endpoint("lg", "lg-green")
        _wait_for_acks(load, 300)
    finally:
        summary = load.stop()
        sandbox.set_read_only("blue", False)
    counters = summary.counters
    print(f"\n[load] write freeze {counters.max_ack_gap_ms:.1f} ms; {counters}")

    assert counters.clusters_seen == ["blue", "lg-green"]
    assert counters.errors_by_code.get(READ_ONLY_ERROR, 0) > 0
    assert counters.reconnects >= 1
    assert counters.acknowledged == len(read_acked_ids(load.acked_ids_file)) >= 600
    assert counters.attempted - counters.acknowledged <= 1
    assert counters.max_ack_gap_ms > 0
    assert missing_writes(load.acked_ids_file, connect("lg-green", "admin")) == []
    assert json.loads(load.summary_file.read_text())["counters"]["acknowledged"] == counters.acknowledged
    sandbox.delete("lg-green")


def test_load_reconnects_after_its_connection_is_killed(sandbox, connect):
    sandbox.point_endpoint("kill", "blue")
    load = LoadGenerator.in_sandbox(sandbox.state_dir, "kill", rate=1000)
    load.start()
    admin = connect("blue", "admin")
    try:
        for _ in range(3):
            _wait_for_acks(load, 100)
            with admin.cursor() as cursor:
                cursor.execute("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app'")
                for (thread_id,) in cursor.fetchall():
                    cursor.execute("CALL mysql.rds_kill(%s)", (thread_id,))
        _wait_for_acks(load, 100)
    finally:
        summary = load.stop()
    assert summary.counters.reconnects >= 3
    assert summary.counters.attempted - summary.counters.acknowledged <= 1
    assert missing_writes(load.acked_ids_file, admin) == []


def test_missing_writes_reports_acknowledged_ids_absent_from_the_server(sandbox, connect, tmp_path):
    acked = tmp_path / "acked"
    acked.write_text("seed-1\nnever-written-1\nseed-2\nnever-written-2\ncut-off-by-a-cra")
    assert missing_writes(acked, connect("blue", "app")) == ["never-written-1", "never-written-2"]


def test_cli_load_stops_cleanly_on_sigterm_and_writes_its_summary(sandbox, connect):
    sandbox.point_endpoint("cli", "blue")
    command = [sys.executable, "-m", "aurora_bluegreen.cli", "sandbox", "load", "--endpoint", "cli"]
    command += ["--state-dir", str(sandbox.state_dir), "--rate", "300", "--run-id", "sigterm"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    acked_file = sandbox.state_dir / "load" / "sigterm.acked"
    deadline = time.monotonic() + 20
    while not (acked_file.exists() and acked_file.stat().st_size > 0):
        assert process.poll() is None and time.monotonic() < deadline, "the load never wrote"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output

    summary = json.loads((sandbox.state_dir / "load" / "sigterm.summary.json").read_text())
    assert summary["counters"]["acknowledged"] == len(read_acked_ids(acked_file)) > 0
    assert missing_writes(acked_file, connect("blue", "app")) == []
