"""The cutover's safety nets on real sandbox servers: guardrails, a dying green, a dying worker.

A "killed worker" is simulated by raising a BaseException right after one phase's server call:
like SIGKILL, it skips every ``except Exception`` (so no rollback runs) and leaves the clusters
exactly as that phase left them. The retry is a fresh CutoverOperator, as Airflow would run it.
"""

from __future__ import annotations

import gc
import itertools
import logging
import threading
import time

import pymysql
import pytest
from helpers import replica_status, replicating_pair, sandbox_connections, write_orders

from aurora_bluegreen.cutover import Cutover, CutoverLimits
from aurora_bluegreen.errors import ClusterUnreachable, CutoverFailed
from aurora_bluegreen.freeze_ledger import TagFreezeLedger
from aurora_bluegreen.freeze_methods import RDS_SET_READ_ONLY
from aurora_bluegreen.models import SourceEndpoint
from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.repointers.registry import repointer_for
from aurora_bluegreen.sandbox.connect import user_connection
from aurora_bluegreen.sandbox.endpoints import read_endpoint
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

pytestmark = pytest.mark.integration

REPLICATION_USER = "repl_safety"
REPLICATION_PASSWORD = "safe'ty\"pass\\wörd"
PLANES = {"control_plane_conn_id": "safety_cp", "admin_conn_id": "safety_admin"}
_ids = itertools.count(1)


class WorkerKilled(BaseException):
    pass


# The cutover waits for green by GTID where both sides run GTIDs (the MySQL engine), else by
# binlog position: a fault in "the wait" is injected into whichever one the cutover calls.
CATCH_UP_WAITS = ("wait_for_position", "wait_for_gtid_set")


class KillAfter:
    """Delegates to ``target``; after one of ``methods`` has run on the server, the worker 'dies'."""

    def __init__(self, target, *methods):
        self._target = target
        self._methods = methods

    def __getattr__(self, name):
        attribute = getattr(self._target, name)
        if name not in self._methods:
            return attribute

        def call_then_die(*args, **kwargs):
            attribute(*args, **kwargs)
            raise WorkerKilled(name)

        return call_then_die


@pytest.fixture
def safety_connections(sandbox, set_connections):
    set_connections(
        sandbox_connections(
            sandbox,
            control_plane="safety_cp",
            admin="safety_admin",
            replication=("safety_repl", REPLICATION_USER, REPLICATION_PASSWORD),
        )
    )


@pytest.fixture
def pair(sandbox, replication, safety_connections):
    """A fresh blue with the application on it, and green replicating from it."""
    n = next(_ids)
    ids = {"blue": f"blue-safe{n}", "green": f"green-safe{n}", "endpoint": f"app_safe{n}"}
    replicating_pair(sandbox, replication, ids, PLANES, "safety_repl")
    yield ids
    if sandbox.find(ids["green"]):
        sandbox.delete(ids["green"])
    sandbox.stop_server(ids["blue"])


def cutover_operator(pair, **overrides):
    arguments = {
        "task_id": "cutover",
        "blue_cluster_id": pair["blue"],
        "green_cluster_id": pair["green"],
        "replication_conn_id": "safety_repl",
        "max_freeze_seconds": 5,
        "repoint": f"sandbox:{pair['endpoint']}",
        **PLANES,
        **overrides,
    }
    return CutoverOperator(**arguments)


def cutover_with(pair, *, blue=None, green=None, repointer=None, limits=None):
    """The operator's Cutover, with parts swapped for fault injection."""
    access = ClusterAccess(**PLANES)
    blue_sql, green_sql = access.sql(pair["blue"], "blue"), access.sql(pair["green"], "green")
    blue_info, green_info = access.backend.describe(pair["blue"]), access.backend.describe(pair["green"])
    return Cutover(
        blue_cluster_id=pair["blue"],
        green_cluster_id=pair["green"],
        blue=blue or blue_sql,
        blue_freeze=access.blue_freeze(RDS_SET_READ_ONLY, pair["blue"], blue or blue_sql, quiet_seconds=1),
        green=green or green_sql,
        green_read_only=access.read_only_switch(pair["green"], green or green_sql),
        green_host=green_info.endpoint,
        green_port=green_info.port,
        repointer=repointer or repointer_for(f"sandbox:{pair['endpoint']}", access.backend),
        source_for_rollback=SourceEndpoint(
            blue_info.endpoint, blue_info.port, REPLICATION_USER, REPLICATION_PASSWORD
        ),
        limits=limits or CutoverLimits(max_freeze_seconds=5, max_lag_seconds=5),
        freeze_ledger=TagFreezeLedger(access.backend, pair["green"]),
    )


def global_read_only(connect, cluster_id) -> int:
    with connect(cluster_id, "root") as root, root.cursor() as cursor:
        cursor.execute("SELECT @@global.read_only")
        return cursor.fetchone()[0]


def assert_untouched(sandbox, connect, pair, failure):
    assert failure.report.rolled_back is False
    assert [step.name for step in failure.report.steps] == ["guardrails"]
    assert global_read_only(connect, pair["blue"]) == 0
    assert replica_status(sandbox, pair["green"]) is not None


def test_long_transaction_on_blue_stops_the_cutover_before_any_change(sandbox, connect, pair):
    holder = connect(pair["blue"], "app", "shop")
    with holder.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("UPDATE customers SET name = name WHERE id = 1")
        cursor.execute("SELECT SLEEP(1.2)")
    with pytest.raises(CutoverFailed, match="long-running transactions") as failure:
        cutover_operator(pair, max_transaction_seconds=1).execute({})
    holder.rollback()
    assert_untouched(sandbox, connect, pair, failure.value)


def test_ddl_running_on_blue_stops_the_cutover_before_any_change(sandbox, connect, pair):
    # An open transaction holds the table's metadata lock, so the ALTER stays "running".
    holder = connect(pair["blue"], "app", "shop")
    with holder.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT COUNT(*) FROM orders")
    alter = threading.Thread(
        target=lambda: (
            connect(pair["blue"], "admin")
            .cursor()
            .execute("ALTER TABLE shop.orders ADD COLUMN note VARCHAR(10) NULL")
        ),
    )
    alter.start()
    try:
        with pytest.raises(CutoverFailed, match=r"blue is running DDL: .*ALTER TABLE") as failure:
            cutover_operator(pair).execute({})
    finally:
        holder.rollback()
        alter.join()
    assert_untouched(sandbox, connect, pair, failure.value)


def test_local_write_on_green_stops_the_cutover_before_any_change(sandbox, connect, pair):
    with connect(pair["green"], "root") as root, root.cursor() as cursor:
        cursor.execute("UPDATE shop.customers SET name = 'written on green' WHERE id = 2")
    with pytest.raises(CutoverFailed, match="writes that did not come from blue") as failure:
        cutover_operator(pair).execute({})
    assert_untouched(sandbox, connect, pair, failure.value)


# What lets a session write through read_only, by engine: on Aurora 3 (and the MySQL engine) the
# master user's rds_superuser_role carries CONNECTION_ADMIN; MariaDB's equivalent is READ_ONLY ADMIN.
READ_ONLY_BYPASS = {"mariadb": "READ_ONLY ADMIN", "mysql": "CONNECTION_ADMIN"}


def create_user_with_bypass_through_a_role(connect, engine, cluster_id, user):
    """An application-like user (DML on shop) whose read_only bypass arrives only through a default role."""
    host = "@'%'" if engine == "mysql" else ""
    default_role = (
        f"SET DEFAULT ROLE sneaky_role{host} TO '{user}'@'%'"
        if engine == "mysql"
        else f"SET DEFAULT ROLE sneaky_role FOR '{user}'@'%'"
    )
    with connect(cluster_id, "root") as root, root.cursor() as cursor:
        for statement in (
            f"CREATE ROLE IF NOT EXISTS sneaky_role{host}",
            f"GRANT {READ_ONLY_BYPASS[engine]} ON *.* TO sneaky_role{host}",
            f"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY 'sneaky-pass'",
            f"GRANT SELECT, INSERT ON shop.* TO '{user}'@'%'",
            f"GRANT sneaky_role{host} TO '{user}'@'%'",
            default_role,
        ):
            cursor.execute(statement)


def test_a_connected_user_whose_bypass_comes_through_a_role_stops_the_cutover(sandbox, engine, connect, pair):
    create_user_with_bypass_through_a_role(connect, engine, pair["blue"], "sneaky")
    info = sandbox.describe(pair["blue"])
    sneaky = user_connection(info.endpoint, info.port, "sneaky", "sneaky-pass", "shop")
    try:
        with sneaky.cursor() as cursor:
            cursor.execute("SELECT CURRENT_ROLE()")  # the role is active in its session
            assert "sneaky_role" in cursor.fetchone()[0]
        with pytest.raises(CutoverFailed, match="can write through read_only") as failure:
            cutover_operator(pair).execute({})
    finally:
        sneaky.close()
    assert f"has {READ_ONLY_BYPASS[engine]} through role sneaky_role" in str(failure.value)
    assert_untouched(sandbox, connect, pair, failure.value)


def test_a_bypass_user_writing_beside_a_long_statement_loses_nothing(
    sandbox, engine, connect, pair, tmp_path
):
    """Both at once, as on a busy production cluster: a second application user whose READ_ONLY
    ADMIN comes through a default role writes in a loop, following the application's endpoint,
    while a long UPDATE runs. The cutover refuses before freezing; once the user is gone and the
    statement done, it cuts over. No write either user was acknowledged is missing on green."""
    create_user_with_bypass_through_a_role(connect, engine, pair["blue"], "sneaky3")
    endpoint = sandbox.endpoint_file(pair["endpoint"])
    app = LoadGenerator.in_sandbox(sandbox.state_dir, pair["endpoint"], rate=200)
    bypass = LoadGenerator(endpoint, "sneaky3", "sneaky-pass", tmp_path / "sneaky3.acked", rate=100)
    writer = connect(pair["blue"], "app", "shop")
    slow = threading.Thread(target=run_ignoring_errors(writer, SLOW_UPDATE))
    app.start()
    bypass.start()
    slow.start()
    try:
        time.sleep(1.5)
        with pytest.raises(CutoverFailed, match="can write through read_only") as refused:
            cutover_operator(pair, max_statement_seconds=1).execute({})
        assert refused.value.report.freeze_ms is None and not refused.value.report.rolled_back
        assert "writes that turning read_only on would wait for" in str(refused.value)
        bypass_summary = bypass.stop()
        kill_query(connect, pair["blue"], writer)
        slow.join()
        report = cutover_operator(pair).execute({})
        time.sleep(0.5)
    finally:
        app_summary = app.stop()
        bypass.stop()
    assert report["rolled_back"] is False and report["freeze_ms"] <= 5000
    assert app_summary.counters.acknowledged > 0 and bypass_summary.counters.acknowledged > 0
    with connect(pair["green"], "root") as green:
        assert missing_writes(app.acked_ids_file, green) == []
        assert missing_writes(bypass.acked_ids_file, green) == []


def test_an_application_user_named_but_not_connected_is_checked_too(sandbox, engine, connect, pair):
    create_user_with_bypass_through_a_role(connect, engine, pair["blue"], "sneaky2")
    with pytest.raises(CutoverFailed, match="'sneaky2'") as failure:
        cutover_operator(pair, application_users=["sneaky2"]).execute({})
    assert_untouched(sandbox, connect, pair, failure.value)


def test_the_master_users_other_sessions_are_ended_inside_the_freeze(sandbox, connect, pair):
    """read_only does not stop the master user (Aurora 3): its other sessions must not outlive the freeze."""
    dba = connect(pair["blue"], "admin", "shop")
    with dba.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (dba_session,) = cursor.fetchone()
    report = cutover_operator(pair).execute({})
    assert any(ended.startswith(f"{dba_session} ") for ended in report["sessions_ended"]), report
    with pytest.raises(pymysql.err.OperationalError), dba.cursor() as cursor:
        cursor.execute("SELECT 1")


def test_a_write_running_long_on_blue_stops_the_cutover_before_any_change(sandbox, connect, pair):
    writer = connect(pair["blue"], "app", "shop")
    thread = threading.Thread(target=run_ignoring_errors(writer, SLOW_UPDATE))
    thread.start()
    try:
        time.sleep(1.5)
        with pytest.raises(CutoverFailed, match="writes that turning read_only on would wait for") as failure:
            cutover_with(pair, limits=CutoverLimits(5, 5, max_statement_seconds=1)).run()
    finally:
        kill_query(connect, pair["blue"], writer)
        thread.join()
    assert_untouched(sandbox, connect, pair, failure.value)


def test_a_write_that_starts_after_the_checks_cannot_hold_the_freeze_past_its_budget(sandbox, connect, pair):
    """SET GLOBAL read_only waits for a running write, and new writes queue behind it: the wait
    is bounded by the freeze budget (the session's lock_wait_timeout), then the cutover rolls back."""
    load = LoadGenerator.in_sandbox(sandbox.state_dir, pair["endpoint"], rate=300)
    load.start()
    access = ClusterAccess(**PLANES)
    blue = access.sql(pair["blue"], "blue")
    writer = connect(pair["blue"], "app", "shop")
    slow = threading.Thread(target=run_ignoring_errors(writer, SLOW_UPDATE))

    class WriteStartsAfterTheChecks:
        def __getattr__(self, name):
            return getattr(blue, name)

        def set_lock_wait_timeout(self, seconds):
            blue.set_lock_wait_timeout(seconds)
            slow.start()
            time.sleep(0.5)  # the UPDATE is running, holding its write lock

    budget = 2
    try:
        started = time.monotonic()
        with pytest.raises(CutoverFailed) as failure:
            cutover_with(pair, blue=WriteStartsAfterTheChecks(), limits=CutoverLimits(budget, 5)).run()
        elapsed = time.monotonic() - started
    finally:
        kill_query(connect, pair["blue"], writer)
        slow.join()
        summary = load.stop()
    report = failure.value.report
    assert report.rolled_back is True and "Lock wait timeout" in report.failure
    assert report.freeze_ms <= (budget + 1) * 1000, report.freeze_ms
    assert elapsed < budget + 5
    assert global_read_only(connect, pair["blue"]) == 0
    assert summary.counters.acknowledged > 0
    with connect(pair["blue"], "root") as blue_root:
        assert missing_writes(load.acked_ids_file, blue_root) == []


SLOW_UPDATE = "UPDATE customers SET name = name WHERE id = 3 AND SLEEP(30) = 0"


def run_ignoring_errors(connection, statement):
    def run():
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
        except pymysql.err.MySQLError:
            pass  # ended by the test's kill

    return run


def kill_query(connect, cluster_id, victim):
    with connect(cluster_id, "root") as root, root.cursor() as cursor:
        cursor.execute(f"KILL QUERY {victim.thread_id()}")


def test_green_dying_mid_cutover_rolls_back_and_loses_nothing(sandbox, connect, pair):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, pair["endpoint"], rate=500)
    load.start()
    access = ClusterAccess(**PLANES)
    green = access.sql(pair["green"], "green")

    class GreenDiesWhileWaited:
        def __getattr__(self, name):
            return getattr(green, name)

        def wait_for_position(self, position, timeout_seconds):
            sandbox.stop_server(pair["green"], kill=True)
            return green.wait_for_position(position, timeout_seconds)

        def wait_for_gtid_set(self, gtid_set, timeout_seconds):
            sandbox.stop_server(pair["green"], kill=True)
            return green.wait_for_gtid_set(gtid_set, timeout_seconds)

    try:
        with pytest.raises(CutoverFailed) as failure:
            cutover_with(pair, green=GreenDiesWhileWaited()).run()
    finally:
        summary = load.stop()
    report = failure.value.report
    assert report.rolled_back is True
    assert "ROLLBACK INCOMPLETE" not in report.failure  # green's parts were never changed
    assert global_read_only(connect, pair["blue"]) == 0
    assert summary.counters.acknowledged > 0
    assert read_endpoint(sandbox.endpoint_file(pair["endpoint"])).cluster_id == pair["blue"]
    with connect(pair["blue"], "root") as blue:
        assert missing_writes(load.acked_ids_file, blue) == []


class ClockAdvancedByLogLines(logging.Handler):
    """A cutover clock that jumps 100 s whenever the cutover writes a log line.

    Log lines are held during the freeze, so a jump inside it would also blow the freeze budget.
    """

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def emit(self, record: logging.LogRecord) -> None:
        self.now += 100


@pytest.fixture
def log_clock():
    clock = ClockAdvancedByLogLines()
    logger = logging.getLogger("aurora_bluegreen.cutover")
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(clock)
    yield clock
    logger.removeHandler(clock)
    logger.setLevel(level)


def test_freeze_ends_at_the_repoint_not_when_held_log_lines_are_written(pair, log_clock):
    cutover = cutover_with(pair)
    cutover.clock = log_clock
    report = cutover.run()
    assert report.repointed_to and report.rolled_back is False
    assert log_clock.now >= 100 * len(report.steps)  # every phase was logged, on the clock
    assert report.freeze_ms == 0


def test_no_garbage_collection_inside_the_freeze(pair):
    class RecordingRepointer:
        collector_enabled = None

        def __init__(self, repointer):
            self._repointer = repointer

        def repoint(self, host, port, cluster_id):
            RecordingRepointer.collector_enabled = gc.isenabled()
            return self._repointer.repoint(host, port, cluster_id)

    cutover = cutover_with(pair)
    cutover.repointer = RecordingRepointer(cutover.repointer)
    assert gc.isenabled()
    cutover.run()
    assert RecordingRepointer.collector_enabled is False
    assert gc.isenabled()


def test_freeze_of_a_rollback_lasts_until_blue_takes_writes_again(connect, pair, log_clock):
    class SlowToThaw:
        """Blue's switch; turning read_only off takes 60 s on the cutover's clock."""

        def __init__(self, switch):
            self._switch = switch

        def set_read_only(self, read_only):
            self._switch.set_read_only(read_only)
            if not read_only:
                log_clock.now += 60

    class BrokenRepointer:
        def repoint(self, host, port, cluster_id):
            raise OSError("DNS API down")

    cutover = cutover_with(pair, repointer=BrokenRepointer())
    cutover.blue_read_only = SlowToThaw(cutover.blue_read_only)
    cutover.clock = log_clock
    with pytest.raises(CutoverFailed, match="DNS API down") as failure:
        cutover.run()
    assert failure.value.report.rolled_back is True
    assert failure.value.report.freeze_ms == 60_000
    assert global_read_only(connect, pair["blue"]) == 0


@pytest.mark.parametrize(
    ("part", "methods"),
    [
        ("blue", ("set_read_only",)),
        ("blue", ("source_state",)),
        ("green", CATCH_UP_WAITS),
        ("green", ("stop_replication",)),
        ("green", ("reset_external_source",)),
        ("green", ("set_read_only",)),
        ("repointer", ("repoint",)),
    ],
    ids=lambda value: value if isinstance(value, str) else value[0],
)
def test_worker_killed_after_a_phase_then_retried_converges(sandbox, connect, pair, part, methods):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, pair["endpoint"], rate=300)
    load.start()
    try:
        access = ClusterAccess(**PLANES)
        targets = {
            "blue": access.sql(pair["blue"], "blue"),
            "green": access.sql(pair["green"], "green"),
            "repointer": repointer_for(f"sandbox:{pair['endpoint']}", access.backend),
        }
        targets[part] = KillAfter(targets[part], *methods)
        with pytest.raises(WorkerKilled):
            cutover_with(
                pair, blue=targets["blue"], green=targets["green"], repointer=targets["repointer"]
            ).run()
        report = cutover_operator(pair).execute({})
    finally:
        summary = load.stop()

    assert report["rolled_back"] is False
    assert global_read_only(connect, pair["green"]) == 0
    assert global_read_only(connect, pair["blue"]) == 1
    assert read_endpoint(sandbox.endpoint_file(pair["endpoint"])).cluster_id == pair["green"]
    assert summary.counters.acknowledged > 0
    with connect(pair["green"], "root") as green:
        assert missing_writes(load.acked_ids_file, green) == []


def test_a_retry_reports_the_whole_freeze_of_both_attempts(sandbox, connect, pair):
    """The freeze's start outlives its worker (tags on green): the report's freeze is the time
    the application was refused writes, not only the retry's part of it."""
    green = KillAfter(ClusterAccess(**PLANES).sql(pair["green"], "green"), "stop_replication")
    with pytest.raises(WorkerKilled):
        cutover_with(pair, green=green).run()
    pause = 1.5  # Airflow's retry delay, in the deployment DAG 2 s
    time.sleep(pause)
    report = cutover_operator(pair).execute({})
    assert report["rolled_back"] is False
    assert report["freeze_ms"] >= pause * 1000
    assert global_read_only(connect, pair["green"]) == 0
    tags = sandbox.describe(pair["green"]).tags
    assert tags["freeze-ended-at"] >= tags["freeze-started-at"]


@pytest.mark.parametrize(
    "part, method",
    [("blue", "set_read_only"), ("green", "stop_replication"), ("green", "reset_external_source")],
)
def test_a_retry_after_the_original_deadline_rolls_back_and_loses_nothing(
    sandbox, connect, pair, part, method
):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, pair["endpoint"], rate=300)
    load.start()
    budget = 2
    try:
        access = ClusterAccess(**PLANES)
        clusters = {"blue": access.sql(pair["blue"], "blue"), "green": access.sql(pair["green"], "green")}
        clusters[part] = KillAfter(clusters[part], method)
        with pytest.raises(WorkerKilled):
            cutover_with(pair, **clusters, limits=CutoverLimits(budget, 5)).run()
        time.sleep(budget + 0.5)
        with pytest.raises(CutoverFailed, match=r"deadline .* has passed") as failure:
            cutover_operator(pair, max_freeze_seconds=budget).execute({})
        write_orders(connect, pair["blue"], "after-the-rollback")
    finally:
        summary = load.stop()
    report = failure.value.report
    assert report.rolled_back is True and report.freeze_ms >= (budget + 0.5) * 1000
    assert global_read_only(connect, pair["blue"]) == 0
    assert read_endpoint(sandbox.endpoint_file(pair["endpoint"])).cluster_id == pair["blue"]
    assert summary.counters.acknowledged > 0
    with connect(pair["blue"], "root") as blue:
        assert missing_writes(load.acked_ids_file, blue) == []
    deadline = time.monotonic() + 15
    with connect(pair["green"], "root") as green:  # green replicates blue again, from where it was
        while missing_writes(load.acked_ids_file, green) or not write_seen(green, "after-the-rollback"):
            assert time.monotonic() < deadline, "green did not catch up with blue after the rollback"
            time.sleep(0.2)


def write_seen(connection, request_id) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop.orders WHERE request_id = %s", (request_id,))
        return cursor.fetchone()[0] == 1


def test_a_retry_after_the_deadline_finishes_once_green_was_writable(sandbox, connect, pair):
    """Green may already take the application's writes: undoing it now could lose them."""
    green = KillAfter(ClusterAccess(**PLANES).sql(pair["green"], "green"), "set_read_only")
    with pytest.raises(WorkerKilled):
        cutover_with(pair, green=green, limits=CutoverLimits(1, 5)).run()
    time.sleep(1.5)
    report = cutover_operator(pair, max_freeze_seconds=1).execute({})
    assert report["rolled_back"] is False and report["freeze_ms"] >= 1500
    assert read_endpoint(sandbox.endpoint_file(pair["endpoint"])).cluster_id == pair["green"]


def operators_that_reach(pair):
    """Each operator that connects to clusters, with the roles it connects to."""
    both = {"blue", "green"}
    return [
        (cutover_operator(pair), both),
        (
            VerifyCutoverOperator(
                task_id="verify", blue_cluster_id=pair["blue"], green_cluster_id=pair["green"], **PLANES
            ),
            both,
        ),
        (
            StartBinlogReplicationOperator(
                task_id="replicate",
                blue_cluster_id=pair["blue"],
                green_cluster_id=pair["green"],
                replication_conn_id="safety_repl",
                **PLANES,
            ),
            both,
        ),
        (
            PreflightOperator(
                task_id="preflight",
                blue_cluster_id=pair["blue"],
                green_cluster_id=pair["green"],
                writer_instance_id="w",
                binlog_retention_hours=24,
                max_lag_seconds=5,
                max_freeze_seconds=10,
                replication_conn_id="safety_repl",
                **PLANES,
            ),
            {"blue"},
        ),
        (lag_sensor(pair), {"green"}),
    ]


@pytest.mark.parametrize("down", ["blue", "green"])
def test_every_connection_error_names_the_cluster_its_role_and_its_endpoint(sandbox, pair, down):
    port = sandbox.describe(pair[down]).port
    sandbox.stop_server(pair[down], kill=True)
    try:
        for operator, roles in operators_that_reach(pair):
            if down not in roles:
                continue
            with pytest.raises(Exception) as failure:
                run = operator.poke if isinstance(operator, ReplicaLagSensor) else operator.execute
                run({})
            message = str(failure.value)
            assert f"{down} {pair[down]} at 127.0.0.1:{port}" in message, (operator.task_id, message)
    finally:
        sandbox.start_server(pair[down])


def lag_sensor(pair):
    return ReplicaLagSensor(task_id="lag", green_cluster_id=pair["green"], max_lag_seconds=5, **PLANES)


def test_sensor_fails_fast_and_clearly_when_green_dies(sandbox, pair):
    sandbox.stop_server(pair["green"], kill=True)
    with pytest.raises(ClusterUnreachable, match=f"cannot read replication status on green {pair['green']}"):
        lag_sensor(pair).poke({})


def test_replication_resumes_after_blue_restarts(sandbox, connect, replication, pair):
    sandbox.stop_server(pair["blue"])
    deadline = time.monotonic() + 15
    while replication.status(pair["green"]).io_running == "Yes":
        assert time.monotonic() < deadline, "green never noticed that blue went away"
        time.sleep(0.1)
    # Green's IO thread retries by itself: the sensor keeps waiting instead of failing.
    assert lag_sensor(pair).poke({}) is False
    sandbox.start_server(pair["blue"])
    write_orders(connect, pair["blue"], "after-restart")
    replication.wait_caught_up(pair["green"], source_id=pair["blue"], timeout=30)
    with connect(pair["green"], "root") as green, green.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop.orders WHERE request_id = 'after-restart'")
        assert cursor.fetchone() == (1,)
    assert lag_sensor(pair).poke({}) is True


@pytest.mark.parametrize(
    "method",
    [
        "set_binlog_retention_hours",
        "ensure_replication_user",
        "set_read_only",
        "set_external_source",
        "start_replication",
    ],
)
def test_replication_setup_killed_after_a_step_then_retried_converges(
    sandbox, connect, replication, safety_connections, monkeypatch, method
):
    n = next(_ids)
    blue, green = f"blue-kill{n}", f"green-kill{n}"
    sandbox.create_blue(blue)
    CloneClusterOperator(
        task_id="clone",
        source_cluster_id=blue,
        cluster_id=green,
        writer_instance_id="w",
        control_plane_conn_id="safety_cp",
    ).execute({})
    arguments = {
        "task_id": "replicate",
        "blue_cluster_id": blue,
        "green_cluster_id": green,
        "replication_conn_id": "safety_repl",
        **PLANES,
    }
    real_sql = ClusterAccess.sql
    with monkeypatch.context() as patch:
        patch.setattr(
            ClusterAccess,
            "sql",
            lambda self, cluster_id, role: KillAfter(real_sql(self, cluster_id, role), method),
        )
        with pytest.raises(WorkerKilled):
            StartBinlogReplicationOperator(**arguments).execute({})
    summary = StartBinlogReplicationOperator(**arguments).execute({})

    assert summary["replication_user"] == REPLICATION_USER
    write_orders(connect, blue, "after-retry")
    replication.wait_caught_up(green, source_id=blue)
    with connect(green, "root") as root, root.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop.orders WHERE request_id = 'after-retry'")
        assert cursor.fetchone() == (1,)
        cursor.execute("SELECT @@global.read_only")
        assert cursor.fetchone() == (1,)
    sandbox.delete(green)
    sandbox.stop_server(blue)
