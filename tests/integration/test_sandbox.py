"""The sandbox against real servers, on each engine: clones, coordinates, rds procedures, lifecycle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest
from helpers import sandbox_connection

from aurora_bluegreen.control_plane.factory import backend_for_connection
from aurora_bluegreen.errors import ClusterNotFound, InvalidInput, NotManagedByUs
from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.ownership import MANAGED_BY_TAG, MANAGED_BY_VALUE, SOURCE_CLUSTER_TAG
from aurora_bluegreen.sandbox import Sandbox, server
from aurora_bluegreen.sandbox.backup import COORDINATES_EVIDENCE as MARIADB_EVIDENCE
from aurora_bluegreen.sandbox.demo_schema import INSERT_ORDER, order_row
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes
from aurora_bluegreen.sandbox.mysql.clone import COORDINATES_EVIDENCE as MYSQL_EVIDENCE
from aurora_bluegreen.sandbox.server import ServerFiles

pytestmark = pytest.mark.integration

READ_ONLY_ERROR = 1290
SIGNAL_ERROR = 1644
# How each engine's clone knows where its data ends on blue.
EVIDENCE = {"mariadb": MARIADB_EVIDENCE, "mysql": MYSQL_EVIDENCE}
# The privilege each engine's rds_superuser_role carries to write through read_only, as
# CONNECTION_ADMIN does on Aurora MySQL 3.
READ_ONLY_BYPASS = {"mariadb": "READ_ONLY ADMIN", "mysql": "CONNECTION_ADMIN"}


def _clone(sandbox: Sandbox, cluster_id: str, role: str = "qa", **spec: object) -> None:
    started = time.monotonic()
    sandbox.clone(CloneSpec("blue", cluster_id, f"{cluster_id}-1", tags={"role": role}, **spec))
    print(f"\n[timing] clone {cluster_id}: {time.monotonic() - started:.2f}s")


def _one(connection: pymysql.connections.Connection, query: str, args: object = None) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(query, args)
        return cursor.fetchone()


def _request_ids(connection: pymysql.connections.Connection) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT request_id FROM shop.orders")
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture(scope="module")
def qa(sandbox: Sandbox) -> Iterator[str]:
    """A clone of blue that the tests below may reconfigure, stop and restart."""
    _clone(sandbox, "qa")
    yield "qa"
    sandbox.delete("qa")


def test_clone_coordinates_are_exact_while_blue_takes_writes(sandbox, engine, connect, replication):
    sandbox.point_endpoint("exact", "blue")
    load = LoadGenerator.in_sandbox(sandbox.state_dir, "exact", rate=1000)
    load.start()
    try:
        while load.counters().acknowledged < 300:
            time.sleep(0.02)
        before_clone = load.counters().acknowledged
        _clone(sandbox, "exact-green", role="green")
        assert load.counters().acknowledged > before_clone, "blue took no writes during the copy"
        coordinates = sandbox.clone_coordinates("exact-green")
        assert coordinates.evidence == EVIDENCE[engine]
        assert coordinates.position.file.startswith("mysql-bin-changelog.")
        replication.start("exact-green", coordinates.position)
        time.sleep(0.3)  # more writes that reach green only through replication
    finally:
        summary = load.stop()
    print(
        f"\n[timing] longest write stall on blue around the clone: {summary.counters.max_ack_gap_ms:.1f} ms"
    )
    replication.wait_caught_up("exact-green")

    blue, green = connect("blue", "admin"), connect("exact-green", "admin")
    blue_ids, green_ids = _request_ids(blue), _request_ids(green)
    assert sorted(blue_ids - green_ids) == [], "rows missing on the clone"
    assert sorted(green_ids - blue_ids) == [], "extra rows on the clone"
    assert _one(blue, "CHECKSUM TABLE shop.orders")[1] == _one(green, "CHECKSUM TABLE shop.orders")[1]
    assert missing_writes(load.acked_ids_file, green) == []
    assert summary.counters.errors == 0
    # The clone carries blue's GTID state at the clone point, as an Aurora clone does.
    assert coordinates.gtid_set
    if engine == "mariadb":
        assert _one(green, "SELECT @@GLOBAL.gtid_slave_pos")[0]
    else:
        assert _one(green, "SELECT GTID_SUBSET(%s, @@GLOBAL.gtid_executed)", (coordinates.gtid_set,))[0] == 1
    replication.reset("exact-green")
    sandbox.delete("exact-green")


def test_passwords_with_quotes_backslash_and_unicode_work_through_rds_set_external_source(
    sandbox, connect, replication, qa
):
    # The session logs in as admin and app with such passwords too (see conftest).
    assert {"'", '"', "\\"} <= set(replication.password) and not replication.password.isascii()
    replication.start(qa, replication.source_position("blue"))
    try:
        deadline = time.monotonic() + 10
        while (status := replication.status(qa)) is None or status.io_running != "Yes":
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        replication.wait_caught_up(qa)
    finally:
        replication.reset(qa)
    assert replication.status(qa) is None


def test_admin_bypasses_read_only_only_through_rds_superuser_role(engine, connect, qa):
    """Aurora MySQL 3's master user: no SUPER, and its read_only bypass comes through its role."""
    admin = connect(qa, "admin")
    with admin.cursor() as cursor:
        # For the current user MySQL expands the active roles' privileges; named, it lists its own.
        cursor.execute("SELECT CURRENT_USER()")
        user, host = cursor.fetchone()[0].rsplit("@", 1)
        cursor.execute("SHOW GRANTS FOR %s@%s", (user, host))
        direct = " ".join(row[0] for row in cursor.fetchall())
        cursor.execute("SHOW GRANTS FOR rds_superuser_role" + ("@'%'" if engine == "mysql" else ""))
        through_role = " ".join(row[0] for row in cursor.fetchall())
    for privilege in (
        "SUPER",
        "READ_ONLY ADMIN",
        "CONNECTION_ADMIN",
        "ALL PRIVILEGES",
        "REPLICATION SLAVE ADMIN",
    ):
        assert f" {privilege}" not in direct.replace(",", " "), f"{privilege} granted directly: {direct}"
    assert "rds_superuser_role" in direct and "EXECUTE" in direct
    assert READ_ONLY_BYPASS[engine] in through_role
    assert _one(admin, "SELECT CURRENT_ROLE()")[0].strip("`").startswith("rds_superuser_role")


def test_read_only_stops_the_app_not_the_master_user_and_rds_set_read_only_lifts_it(connect, qa):
    admin, app = connect(qa, "admin"), connect(qa, "app")
    with admin.cursor() as cursor:
        cursor.execute("CALL mysql.rds_set_read_only(1)")
        assert _one(admin, "SELECT @@GLOBAL.read_only")[0] == 1
        with pytest.raises(pymysql.err.OperationalError) as refused:
            _one(app, INSERT_ORDER, order_row("ro-app", 1))
        assert refused.value.args[0] == READ_ONLY_ERROR
        # As on Aurora 3: read_only does not apply to the master user (its role's bypass).
        _one(admin, INSERT_ORDER, order_row("ro-admin", 1))
        _one(admin, "DELETE FROM shop.orders WHERE request_id = 'ro-admin'")
        cursor.execute("CALL mysql.rds_set_read_only(0)")
        _one(app, INSERT_ORDER, order_row("rw-app", 1))
        with pytest.raises(pymysql.err.OperationalError) as bad_mode:
            cursor.execute("CALL mysql.rds_set_read_only(2)")
        assert bad_mode.value.args[0] == SIGNAL_ERROR
        cursor.execute("CALL mysql.rds_set_read_only(1)")


def test_blue_plays_aurora_3_08_by_default_with_its_rds_procedures_running_as_root(connect, qa):
    """Aurora 3 names only (test_sandbox_aurora.py checks other versions); every one runs as root."""
    with connect(qa, "admin").cursor() as cursor:
        cursor.execute("SELECT aurora_version()")
        assert cursor.fetchone()[0] == b"3.08.0"
        cursor.execute(
            "SELECT ROUTINE_NAME, SECURITY_TYPE, DEFINER FROM information_schema.ROUTINES "
            "WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_NAME LIKE 'rds\\_%%'"
        )
        routines = {name: (security, definer) for name, security, definer in cursor.fetchall()}
    expected = {
        "rds_set_external_source",
        "rds_set_external_source_with_auto_position",
        "rds_reset_external_source",
        "rds_start_replication",
        "rds_stop_replication",
        "rds_skip_repl_error",
        "rds_set_read_only",
        "rds_set_binlog_source_ssl",
        "rds_set_configuration",
        "rds_show_configuration",
        "rds_kill",
        "rds_kill_query",
    }
    assert expected <= routines.keys()
    assert not {name for name in routines if name.endswith(("_master", "_master_with_auto_position"))}
    assert set(routines.values()) == {("DEFINER", "root@localhost")}


def test_auto_position_procedure_configures_gtid_replication(sandbox, connect, replication, qa):
    blue = sandbox.describe("blue")
    with connect(qa, "admin").cursor() as cursor:
        cursor.execute(
            "CALL mysql.rds_set_external_source_with_auto_position(%s, %s, %s, %s, %s)",
            ("127.0.0.1", blue.port, "someone", "pw", 0),
        )
        status = replication.status(qa)
        assert (status.source_port, status.auto_position) == (blue.port, True)
        cursor.execute("CALL mysql.rds_reset_external_source()")
    assert replication.status(qa) is None


def test_binlog_retention_is_stored_applied_and_kept_out_of_the_binlog(connect, replication, qa):
    admin = connect(qa, "admin")
    before = replication.source_position(qa)
    with admin.cursor() as cursor:
        cursor.execute("CALL mysql.rds_set_configuration('binlog retention hours', 48)")
        cursor.execute("CALL mysql.rds_show_configuration()")
        rows = cursor.fetchall()
        while cursor.nextset():
            pass
    assert [(name, value) for name, value, _ in rows] == [("binlog retention hours", "48")]
    assert _one(admin, "SELECT @@GLOBAL.binlog_expire_logs_seconds")[0] == 48 * 3600
    for name, hours in (("binlog retention hours", 0), ("binlog retention hours", 2161), ("retention", 1)):
        with pytest.raises(pymysql.err.OperationalError) as rejected:
            _one(admin, "CALL mysql.rds_set_configuration(%s, %s)", (name, hours))
        assert rejected.value.args[0] == SIGNAL_ERROR
    assert replication.source_position(qa) == before
    assert _one(admin, "SELECT @@SESSION.sql_log_bin")[0] == 1


def test_rds_kill_and_kill_query_work_without_super(connect, qa):
    admin, victim = connect(qa, "admin"), connect(qa, "app")
    sleeper = connect(qa, "app")
    outcome: dict[str, object] = {}

    def sleep_long() -> None:
        started = time.monotonic()
        try:
            outcome["result"] = _one(sleeper, "SELECT SLEEP(20)")
        except pymysql.err.OperationalError as error:
            outcome["result"] = error.args[0]
        outcome["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=sleep_long)
    thread.start()
    deadline = time.monotonic() + 5
    while (
        _one(
            admin,
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = %s AND INFO LIKE 'SELECT SL%%'",
            (sleeper.thread_id(),),
        )[0]
        == 0
    ):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    _one(admin, "CALL mysql.rds_kill_query(%s)", (sleeper.thread_id(),))
    thread.join(5)
    assert outcome["seconds"] < 5
    assert _one(sleeper, "SELECT 1") == (1,), "kill_query must leave the connection open"

    _one(admin, "CALL mysql.rds_kill(%s)", (victim.thread_id(),))
    with pytest.raises(pymysql.err.OperationalError):
        _one(victim, "SELECT 1")


def test_skip_repl_error_skips_only_when_the_sql_thread_failed(sandbox, engine, connect, replication, qa):
    if engine == "mysql":
        pytest.skip(
            "the MySQL engine runs GTIDs, where rds_skip_repl_error refuses and names "
            "rds_skip_transaction_with_gtid, as Aurora does: test_mysql_engine.py covers that procedure"
        )
    blue_root, qa_root = connect("blue"), connect(qa)
    _one(blue_root, "CREATE TABLE shop.skip_probe (id INT PRIMARY KEY)")
    # Auto-position resumes from qa's own gtid_slave_pos, whatever earlier tests replicated.
    replication.start(qa)
    try:
        replication.wait_caught_up(qa)
        admin = connect(qa, "admin")
        message = _one(admin, "CALL mysql.rds_skip_repl_error()")[0]
        assert "nothing was skipped" in message
        _one(blue_root, "INSERT INTO shop.skip_probe VALUES (1)")
        replication.wait_caught_up(qa)
        assert _one(qa_root, "SELECT COUNT(*) FROM shop.skip_probe WHERE id = 1")[0] == 1, (
            "a skip on a healthy replica dropped a good event"
        )

        _one(qa_root, "SET SESSION sql_log_bin = 0")
        _one(qa_root, "INSERT INTO shop.skip_probe VALUES (2)")  # the row that will collide
        _one(blue_root, "INSERT INTO shop.skip_probe VALUES (2)")
        _one(blue_root, "INSERT INTO shop.skip_probe VALUES (3)")
        deadline = time.monotonic() + 10
        while replication.status(qa).sql_running != "No":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert replication.status(qa).last_sql_errno == 1062

        admin = connect(qa, "admin")
        message = _one(admin, "CALL mysql.rds_skip_repl_error()")[0]
        assert "Skipped one event after SQL thread error 1062" in message
        replication.wait_caught_up(qa)
        assert _one(qa_root, "SELECT COUNT(*) FROM shop.skip_probe WHERE id = 3")[0] == 1
        assert replication.status(qa).sql_running == "Yes"
    finally:
        replication.reset(qa)
        _one(blue_root, "DROP TABLE shop.skip_probe")


def test_clone_is_idempotent_and_refuses_what_is_not_its_own(sandbox, qa):
    pid = sandbox.record(qa).pid
    again = sandbox.clone(CloneSpec("blue", qa, f"{qa}-1", tags={"role": "qa"}))
    assert again.is_available and sandbox.record(qa).pid == pid
    assert again.tags == {"role": "qa", MANAGED_BY_TAG: MANAGED_BY_VALUE, SOURCE_CLUSTER_TAG: "blue"}
    # The same rule as on AWS (ownership.require_reusable): a retry may only take up its own clone.
    with pytest.raises(InvalidInput, match=r"the existing .* is a clone of blue"):
        sandbox.clone(CloneSpec("other-blue", qa, f"{qa}-1"))
    with pytest.raises(NotManagedByUs):
        sandbox.clone(CloneSpec(qa, "blue", "blue-1"))


def test_delete_refuses_blue_and_removes_a_clone(sandbox):
    with pytest.raises(NotManagedByUs):
        sandbox.delete("blue")
    assert sandbox.describe("blue").is_available
    assert sandbox.describe("blue").tags.get(MANAGED_BY_TAG) is None

    _clone(sandbox, "doomed")
    server_dir, pid = Path(sandbox.record("doomed").server_dir), sandbox.record("doomed").pid
    sandbox.delete("doomed")
    assert sandbox.find("doomed") is None
    assert not server_dir.exists()
    assert not server.is_running(pid, ServerFiles.under(server_dir, "doomed"))
    with pytest.raises(ClusterNotFound):
        sandbox.delete("doomed")


def test_stopped_server_is_described_as_stopped_and_restarts_with_its_settings(sandbox, connect, qa):
    sandbox.set_read_only(qa, True)
    _one(connect(qa, "admin"), "CALL mysql.rds_set_configuration('binlog retention hours', 24)")
    rows = _one(connect(qa), "SELECT COUNT(*) FROM shop.orders")[0]
    for kill in (False, True):
        sandbox.stop_server(qa, kill=kill)
        assert sandbox.describe(qa).status == "stopped"
        assert sandbox.clone_coordinates(qa) is not None
        assert sandbox.start_server(qa).status == "available"
        root = connect(qa)
        assert _one(root, "SELECT COUNT(*) FROM shop.orders")[0] == rows
        assert _one(root, "SELECT @@GLOBAL.read_only")[0] == 1
        assert _one(root, "SELECT @@GLOBAL.binlog_expire_logs_seconds")[0] == 24 * 3600


def test_a_clone_killed_mid_copy_is_redone_cleanly_on_retry(sandbox, connect):
    spec = CloneSpec("blue", "crashy", "crashy-1", tags={"role": "qa"})
    crashing = subprocess.Popen(
        [sys.executable, "-c", _CLONE_SCRIPT, str(sandbox.state_dir)], start_new_session=True
    )
    server_dir = sandbox.store.server_dir("crashy")
    # The copy is under way once mariadb-backup writes its backup, or the CLONE plugin its work
    # directory in the recipient's data directory.
    copying = ("backup-*/*", "data/#clone/*")
    deadline = time.monotonic() + 20
    while not (server_dir.exists() and any(any(server_dir.glob(pattern)) for pattern in copying)):
        assert crashing.poll() is None and time.monotonic() < deadline, "the clone ended before the copy"
        time.sleep(0.005)
    os.killpg(crashing.pid, signal.SIGKILL)  # the whole task dies, mariadb-backup included
    crashing.wait()
    assert sandbox.describe("crashy").status == "failed"
    assert sandbox.clone_coordinates("crashy") is None

    started = time.monotonic()
    info = sandbox.clone(spec)
    print(f"\n[timing] clone after a crash: {time.monotonic() - started:.2f}s")
    assert info.is_available and sandbox.clone_coordinates("crashy") is not None
    assert _one(connect("crashy"), "SELECT COUNT(*) FROM shop.orders")[0] >= 5000
    sandbox.delete("crashy")


_CLONE_SCRIPT = """
import sys
from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.sandbox import Sandbox
Sandbox(sys.argv[1]).clone(CloneSpec("blue", "crashy", "crashy-1", tags={"role": "qa"}))
"""


def test_state_is_shared_with_other_processes_through_the_cli(sandbox, qa):
    status = subprocess.run(
        [
            sys.executable,
            "-m",
            "aurora_bluegreen.cli",
            "sandbox",
            "status",
            "--state-dir",
            str(sandbox.state_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
    assert "available" in lines["blue"] and "available" in lines[qa]
    credentials = json.loads(sandbox.store.credentials_file.read_text())
    assert credentials["admin"]["password"] not in status.stdout + status.stderr
    assert oct(sandbox.store.credentials_file.stat().st_mode & 0o777) == "0o600"


def test_airflow_connection_selects_the_sandbox_backend(sandbox, qa):
    from airflow.sdk import Connection  # imported here: Airflow is slow to import

    conn = Connection.from_json(json.dumps(sandbox_connection(sandbox.state_dir)), conn_id="sandbox_cp")
    backend = backend_for_connection(conn)
    assert backend.state_dir == sandbox.state_dir
    assert backend.describe("blue").is_available
    assert backend.find("nope") is None
    assert backend.clone_coordinates("blue") is None, "blue is no clone"
    assert backend.clone_coordinates(qa) == sandbox.clone_coordinates(qa)
    with pytest.raises(NotManagedByUs):
        backend.delete("blue")
