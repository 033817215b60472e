"""ClusterSqlHook against the sandbox's real servers, through Airflow connections.

The sandbox carries Aurora's ``mysql.rds_*`` procedures and a master user without SUPER, so the
aurora3 and aurora2 paths run here exactly as they would on Aurora, bar the engine underneath.
Blue plays Aurora MySQL 3.08; the aurora2 path runs on a second blue that plays Aurora MySQL 2,
since an Aurora 3 cluster has no Aurora 2 procedure names.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator

import pymysql
import pytest

from aurora_bluegreen.catchup import LagState, is_caught_up, lag_verdict
from aurora_bluegreen.dialects import Dialect, Engine
from aurora_bluegreen.errors import (
    ReadOnlyNeedsControlPlane,
    ReplicationNotRunning,
    StatementFailed,
    UserNotManagedByUs,
)
from aurora_bluegreen.gtid import MariadbGtidSet, MysqlGtidSet
from aurora_bluegreen.hooks.cluster_sql import ClusterSqlHook
from aurora_bluegreen.hooks.sql_session import redact
from aurora_bluegreen.models import BinlogPosition, CloneSpec
from aurora_bluegreen.sandbox import Sandbox
from aurora_bluegreen.sandbox.demo_schema import INSERT_ORDER, order_row

pytestmark = pytest.mark.integration

ADMIN_CONN_ID = "bluegreen_admin"
# Not conftest's replication user: these tests create and drop their own.
REPL_USER = "bg_hook_repl"
REPL_PASSWORD = "re'pl\"pa\\ss-wörd-密"
READ_ONLY_ERROR = 1290
AURORA_2_BLUE = "hook-blue-aurora2"

Hooks = Callable[..., ClusterSqlHook]


def _airflow_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: object) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "mysql", **fields}))
    return conn_id


@pytest.fixture
def admin_conn_id(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """Blue's master user, as a user would configure it: the endpoint is blue's."""
    blue = sandbox.describe("blue")
    credentials = sandbox.credentials
    return _airflow_connection(
        monkeypatch,
        ADMIN_CONN_ID,
        host=blue.endpoint,
        port=blue.port,
        login=credentials.admin_user,
        password=credentials.admin_password,
    )


@pytest.fixture
def hooks(sandbox: Sandbox, admin_conn_id: str) -> Iterator[Hooks]:
    """``hooks(cluster_id, dialect=None)``: the admin connection pointed at that cluster."""
    opened: list[ClusterSqlHook] = []

    def hook_for(cluster_id: str, dialect: str | None = None) -> ClusterSqlHook:
        info = sandbox.describe(cluster_id)
        hook = ClusterSqlHook(admin_conn_id, host=info.endpoint, port=info.port, dialect=dialect)
        opened.append(hook)
        return hook

    yield hook_for
    for hook in opened:
        hook.close()


@pytest.fixture
def clone(sandbox: Sandbox) -> Iterator[Callable[..., str]]:
    """``clone(cluster_id, source="blue")``: a fresh read-only clone, deleted after the test."""
    made: list[str] = []

    def make(cluster_id: str, source: str = "blue") -> str:
        sandbox.clone(CloneSpec(source, cluster_id, f"{cluster_id}-1", tags={"role": "green"}))
        made.append(cluster_id)
        return cluster_id

    yield make
    for cluster_id in made:
        sandbox.delete(cluster_id)


@pytest.fixture(scope="module")
def aurora2_blue(sandbox: Sandbox) -> Iterator[str]:
    """A blue playing Aurora MySQL 2.11.2, with this module's replication user; stopped afterwards."""
    sandbox.create_blue(AURORA_2_BLUE, aurora_version="2.11.2")
    with sandbox.connect(AURORA_2_BLUE, "admin") as admin, admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (REPL_USER, REPL_PASSWORD))
        cursor.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'%%'", (REPL_USER,))
    yield AURORA_2_BLUE
    sandbox.stop_server(AURORA_2_BLUE)


@pytest.fixture
def replication_user(hooks: Hooks) -> Iterator[str]:
    blue = hooks("blue")
    assert blue.ensure_replication_user(REPL_USER, REPL_PASSWORD) is True
    yield REPL_USER
    blue.drop_replication_user(REPL_USER)


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """Everything logged so far: Airflow's structlog writes hook logs to stdout, not to caplog."""
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def text() -> str:
        captured = capfd.readouterr()
        seen.extend([captured.out, captured.err])
        return "".join(seen) + caplog.text

    return text


def _write_orders(sandbox: Sandbox, prefix: str, count: int = 20, cluster_id: str = "blue") -> None:
    with sandbox.connect(cluster_id, "app") as app, app.cursor() as cursor:
        cursor.executemany(INSERT_ORDER, [order_row(f"{prefix}-{n}", n) for n in range(count)])


def _order_count(sandbox: Sandbox, cluster_id: str, prefix: str) -> int:
    with sandbox.connect(cluster_id, "admin") as admin, admin.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop.orders WHERE request_id LIKE %s", (f"{prefix}-%",))
        return cursor.fetchone()[0]


def _wait_until_running(green: ClusterSqlHook) -> None:
    deadline = time.monotonic() + 10
    while not (status := green.replica_status()).is_running:
        assert status.error is None and time.monotonic() < deadline, status
        time.sleep(0.05)


# -- what the server is -----------------------------------------------------------------------


def test_the_sandbox_is_detected_as_aurora3(hooks, engine):
    blue = hooks("blue")
    assert blue.dialect is Dialect.AURORA3
    assert blue.server_version.engine is Engine(engine)
    assert blue.can_set_read_only
    settings = blue.binlog_settings()
    # MariaDB has no GTID mode (it writes GTIDs always); the MySQL engine runs gtid_mode=ON.
    assert settings.log_bin and settings.binlog_format == "ROW" and settings.gtid_mode == (engine == "mysql")
    assert blue.source_position().file.startswith("mysql-bin-changelog.")
    gtid_set = {"mariadb": MariadbGtidSet, "mysql": MysqlGtidSet}[engine]
    assert isinstance(blue.executed_gtid_set(), gtid_set) and not blue.executed_gtid_set().is_empty


def test_the_dialect_can_be_forced_by_connection_extra_or_argument(sandbox, monkeypatch, admin_conn_id):
    blue = sandbox.describe("blue")
    credentials = sandbox.credentials
    forced = _airflow_connection(
        monkeypatch,
        "bluegreen_admin_aurora2",
        host=blue.endpoint,
        port=blue.port,
        login=credentials.admin_user,
        password=credentials.admin_password,
        extra={"dialect": "aurora2"},
    )
    assert ClusterSqlHook(forced).dialect is Dialect.AURORA2
    assert ClusterSqlHook(forced, dialect="aurora3").dialect is Dialect.AURORA3
    assert ClusterSqlHook(admin_conn_id, dialect="mariadb").dialect is Dialect.MARIADB
    with pytest.raises(ValueError, match="unknown dialect"):
        _ = ClusterSqlHook(admin_conn_id, dialect="oracle").dialect


def test_host_and_port_point_blues_credentials_at_another_cluster(sandbox, hooks, clone):
    green_id = clone("hook-endpoint")
    green = hooks(green_id)
    assert green.endpoint == f"127.0.0.1:{sandbox.describe(green_id).port}"
    # A clone is made read-only, blue is not: the two hooks reach different servers.
    assert green.read_only() and not hooks("blue").read_only()


# -- replication from a clone -----------------------------------------------------------------


def test_an_aurora_2_cluster_is_detected_as_aurora2(hooks, aurora2_blue):
    """The sandbox answers ``SELECT aurora_version()`` with the cluster's version, as Aurora does."""
    blue2 = hooks(aurora2_blue)
    assert blue2.dialect is Dialect.AURORA2
    assert not blue2.can_set_read_only
    assert hooks("blue").dialect is Dialect.AURORA3


@pytest.mark.parametrize("dialect", ["aurora3", "aurora2"])
def test_replication_from_a_clone_at_its_binlog_position(
    sandbox, engine, hooks, clone, replication_user, aurora2_blue, logged, dialect
):
    source = {"aurora3": "blue", "aurora2": aurora2_blue}[dialect]
    green_id = clone(f"hook-{dialect}", source)
    coordinates = sandbox.clone_coordinates(green_id)
    blue_info = sandbox.describe(source)
    blue, green = hooks(source, dialect), hooks(green_id, dialect)
    assert green.dialect is Dialect(dialect)
    assert green.replica_status() is None

    green.set_external_source(
        blue_info.endpoint, blue_info.port, replication_user, REPL_PASSWORD, coordinates.position
    )
    green.start_replication()
    _wait_until_running(green)
    _write_orders(sandbox, f"pos-{dialect}", cluster_id=source)
    final = blue.source_position()
    assert green.wait_for_position(final, 10)

    status = green.replica_status()
    assert status.is_running and status.error is None
    assert (status.source_host, status.source_port) == (blue_info.endpoint, blue_info.port)
    assert status.exec_position == final and status.read_position == final
    # MySQL reports what a replica executed by GTID whatever it replicates by; MariaDB only by GTID.
    assert not status.auto_position and (status.executed_gtid_set is None) == (engine == "mariadb")
    assert is_caught_up(final, status)
    assert lag_verdict(status, 5).state is LagState.CAUGHT_UP
    assert _order_count(sandbox, green_id, f"pos-{dialect}") == 20

    green.stop_replication()
    stopped = lag_verdict(green.replica_status(), 5)
    assert stopped.state is LagState.BROKEN and "SQL thread not running" in stopped.message
    green.reset_external_source()
    assert green.replica_status() is None

    assert f"Set the replication source to {blue_info.endpoint}:{blue_info.port}" in logged()
    assert f"on {green.endpoint} in " in logged()
    assert REPL_PASSWORD not in logged()


def test_replication_by_gtid_auto_position(sandbox, hooks, clone, replication_user):
    green_id = clone("hook-gtid")
    blue_info = sandbox.describe("blue")
    blue, green = hooks("blue"), hooks(green_id)
    green.set_external_source(blue_info.endpoint, blue_info.port, replication_user, REPL_PASSWORD, gtid=True)
    green.start_replication()
    _wait_until_running(green)
    _write_orders(sandbox, "gtid")
    final, blue_gtids = blue.source_position(), blue.executed_gtid_set()
    assert green.wait_for_position(final, 10)

    status = green.replica_status()
    assert status.auto_position
    assert type(blue_gtids).parse(status.executed_gtid_set) == blue_gtids
    assert is_caught_up(blue_gtids, status) and is_caught_up(final, status)
    assert _order_count(sandbox, green_id, "gtid") == 20
    green.stop_replication()
    green.reset_external_source()


def test_set_external_source_wants_a_position_or_gtid(hooks):
    blue = hooks("blue")
    with pytest.raises(ValueError, match="binlog position or gtid=True"):
        blue.set_external_source("h", 1, "u", "p")
    with pytest.raises(ValueError, match="binlog position or gtid=True"):
        blue.set_external_source("h", 1, "u", "p", BinlogPosition("f.000001", 4), gtid=True)


def test_wait_for_position_times_out_and_fails_fast_without_replication(
    sandbox, hooks, clone, replication_user
):
    green_id = clone("hook-wait")
    blue_info = sandbox.describe("blue")
    blue, green = hooks("blue"), hooks(green_id)
    green.set_external_source(
        blue_info.endpoint,
        blue_info.port,
        replication_user,
        REPL_PASSWORD,
        sandbox.clone_coordinates(green_id).position,
    )
    green.start_replication()
    _wait_until_running(green)
    final = blue.source_position()
    beyond = BinlogPosition(final.file, final.position + 10**9)

    started = time.monotonic()
    assert green.wait_for_position(beyond, 0.3) is False
    # The server counts whole seconds; 0.3 must not become 0, which means "wait forever".
    assert 0.9 < time.monotonic() - started < 3

    green.stop_replication()
    started = time.monotonic()
    with pytest.raises(ReplicationNotRunning, match="SQL thread is stopped or it has no source"):
        green.wait_for_position(final, 10)
    assert time.monotonic() - started < 1
    with pytest.raises(ReplicationNotRunning):
        blue.wait_for_position(final, 10)
    green.reset_external_source()


# -- read_only, retention, guardrails ---------------------------------------------------------


def test_set_read_only_is_in_effect_when_it_returns(sandbox, hooks, clone):
    green_id = clone("hook-read-only")
    green = hooks(green_id)
    green.set_read_only(False)
    assert green.read_only() is False
    with sandbox.connect(green_id, "app") as app, app.cursor() as cursor:
        cursor.execute(INSERT_ORDER, order_row("writable", 1))
        green.set_read_only(True)
        assert green.read_only() is True
        with pytest.raises(pymysql.err.OperationalError) as refused:
            cursor.execute(INSERT_ORDER, order_row("refused", 2))
    assert refused.value.args[0] == READ_ONLY_ERROR


def test_aurora2_leaves_read_only_to_the_control_plane(hooks):
    blue = hooks("blue", "aurora2")
    assert not blue.can_set_read_only
    with pytest.raises(ReadOnlyNeedsControlPlane, match="parameter group"):
        blue.set_read_only(True)
    assert blue.read_only() is False


def test_binlog_retention_round_trips(hooks):
    blue = hooks("blue")
    previous = blue.binlog_retention_hours()
    try:
        blue.set_binlog_retention_hours(48)
        assert blue.binlog_retention_hours() == 48
        blue.set_binlog_retention_hours(None)
        assert blue.binlog_retention_hours() is None
    finally:
        blue.set_binlog_retention_hours(previous)


def test_long_running_transactions_are_listed(sandbox, hooks):
    blue = hooks("blue")
    with sandbox.connect("blue", "app") as app, app.cursor() as cursor:
        cursor.execute("START TRANSACTION")
        cursor.execute("SELECT id FROM shop.orders ORDER BY id LIMIT 1 FOR UPDATE")
        cursor.execute("SELECT CONNECTION_ID()")
        (thread_id,) = cursor.fetchone()
        time.sleep(1.2)
        open_transactions = blue.long_running_transactions(1)
        assert blue.long_running_transactions(3600) == []
        cursor.execute("ROLLBACK")
    (held,) = [trx for trx in open_transactions if trx.thread_id == thread_id]
    assert held.seconds_open >= 1 and held.state == "RUNNING"


# -- the replication user ---------------------------------------------------------------------


def test_replication_user_is_created_once_reused_and_dropped(hooks, logged):
    blue = hooks("blue")
    assert not blue.replication_user_exists(REPL_USER)
    assert blue.ensure_replication_user(REPL_USER, REPL_PASSWORD) is True
    try:
        assert blue.ensure_replication_user(REPL_USER, REPL_PASSWORD) is False
        (grant,) = blue.replication_user_grants(REPL_USER)
        assert grant.startswith(f"GRANT REPLICATION SLAVE ON *.* TO `{REPL_USER}`@`%`")
    finally:
        assert blue.drop_replication_user(REPL_USER) is True
    assert blue.drop_replication_user(REPL_USER) is False
    assert not blue.replication_user_exists(REPL_USER)
    assert f"Created replication user {REPL_USER}@% with REPLICATION SLAVE only" in logged()
    assert REPL_PASSWORD not in logged()


@pytest.mark.parametrize("foreign_user", ["app", "admin"])
def test_users_with_more_than_replication_slave_are_never_touched(hooks, foreign_user):
    blue = hooks("blue")
    with pytest.raises(UserNotManagedByUs, match=f"user {foreign_user}@% exists with more than") as refused:
        blue.ensure_replication_user(foreign_user, "whatever")
    assert "IDENTIFIED BY PASSWORD" not in str(refused.value)
    with pytest.raises(UserNotManagedByUs):
        blue.drop_replication_user(foreign_user)
    assert blue.replication_user_exists(foreign_user)


# -- secrets ----------------------------------------------------------------------------------


def test_a_failing_statement_does_not_leak_the_password(sandbox, hooks, clone, logged):
    """A procedure that quotes its arguments in its error, as a provider's procedure might."""
    green_id = clone("hook-leak")
    echo_arguments = (
        "CREATE PROCEDURE mysql.rds_set_external_source("
        " host VARCHAR(255), port INT, user_name VARCHAR(128), password VARCHAR(255) CHARACTER SET utf8mb4,"
        " binlog_file VARCHAR(255), binlog_pos BIGINT UNSIGNED, ssl_encryption INT)"
        " BEGIN"
        " DECLARE message VARCHAR(512) CHARACTER SET utf8mb4"
        " DEFAULT CONCAT('cannot log in as ', user_name, ' with ', password);"
        " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = message;"
        " END"
    )
    arguments = ("127.0.0.1", 1, REPL_USER, REPL_PASSWORD, "mysql-bin-changelog.000001", 4, 0)
    with sandbox.connect(green_id, "root") as root, root.cursor() as cursor:
        cursor.execute("DROP PROCEDURE mysql.rds_set_external_source")
        cursor.execute(echo_arguments)
        with pytest.raises(pymysql.err.OperationalError) as raw:
            cursor.execute("CALL mysql.rds_set_external_source(%s, %s, %s, %s, %s, %s, %s)", arguments)
    assert REPL_PASSWORD in raw.value.args[1], (
        "the raw error must quote the password for this test to mean anything"
    )

    green = hooks(green_id)
    with pytest.raises(StatementFailed) as failed:
        green.set_external_source(*arguments[:4], BinlogPosition(arguments[4], arguments[5]))
    error = failed.value
    assert f"cannot log in as {REPL_USER} with ***" in str(error)
    assert error.errno == 1644
    for text in (str(error), repr(error), *map(str, error.args), logged()):
        assert REPL_PASSWORD not in text
    assert error.__context__ is None and error.__cause__ is None


def test_redact_drops_the_statement_excerpt_and_every_form_of_the_secret():
    secret = "pa'ss\\wörd"
    truncated_excerpt = (
        "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB "
        "server version for the right syntax to use near 'SOURCE_PASSWORD = 'pa\\'ss\\\\w...' at line 1"
    )
    assert redact(truncated_excerpt, secret).endswith("near <statement withheld> at line ?")
    assert "pa" not in redact(truncated_excerpt, secret).split("near")[-1]
    assert (
        redact("as sent: 'pa\\'ss\\\\wörd', as read: pa'ss\\wörd", secret) == "as sent: '***', as read: ***"
    )
