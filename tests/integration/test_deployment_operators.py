"""The four operators of the design card, run on real sandbox servers while the application writes.

Connections come from ``AIRFLOW_CONN_*`` variables, so hooks resolve them exactly as in Airflow.
Each test that cuts over gets its own blue: a cutover leaves blue read-only.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pymysql
import pytest
from airflow.sdk.exceptions import AirflowFailException
from helpers import logs_holding, sandbox_connections, write_orders

from aurora_bluegreen.errors import ClusterStateError, CutoverFailed, InvalidInput
from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.operators.teardown import TeardownDeploymentOperator
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

pytestmark = pytest.mark.integration

REPLICATION_LOGIN = "repl_bluegreen"
REPLICATION_PASSWORD = "bg'repl\"pass\\wörd-ß"
_ids = itertools.count(1)


@pytest.fixture
def connections(sandbox, set_connections):
    set_connections(
        sandbox_connections(
            sandbox,
            control_plane="cp",
            admin="admin",
            replication=("repl", REPLICATION_LOGIN, REPLICATION_PASSWORD),
        )
    )
    return {"control_plane_conn_id": "cp", "admin_conn_id": "admin"}


@pytest.fixture
def deployment(sandbox, connections):
    """A fresh blue (with the application pointed at it) and the ids of its green."""
    n = next(_ids)
    blue_id, green_id, endpoint = f"blue-op{n}", f"green-op{n}", f"app_op{n}"
    sandbox.create_blue(blue_id)
    sandbox.point_endpoint(endpoint, blue_id)
    yield {"blue": blue_id, "green": green_id, "endpoint": endpoint}
    if sandbox.find(green_id):
        sandbox.delete(green_id)
    sandbox.stop_server(blue_id)


def clone_and_replicate(deployment, connections):
    clone = CloneClusterOperator(
        task_id="clone",
        source_cluster_id=deployment["blue"],
        cluster_id=deployment["green"],
        writer_instance_id=f"{deployment['green']}-writer",
        control_plane_conn_id=connections["control_plane_conn_id"],
    ).execute({})
    summary = StartBinlogReplicationOperator(
        task_id="replicate",
        blue_cluster_id=deployment["blue"],
        green_cluster_id=deployment["green"],
        replication_conn_id="repl",
        binlog_retention_hours=48,
        **connections,
    ).execute({})
    return clone, summary


def wait_caught_up(deployment, connections, max_lag_seconds=2, timeout=60):
    sensor = ReplicaLagSensor(
        task_id="lag", green_cluster_id=deployment["green"], max_lag_seconds=max_lag_seconds, **connections
    )
    deadline = time.monotonic() + timeout
    while not sensor.poke({}):
        assert time.monotonic() < deadline, "green did not catch up"
        time.sleep(0.5)


def cutover(deployment, connections, **overrides):
    arguments = {
        "task_id": "cutover",
        "blue_cluster_id": deployment["blue"],
        "green_cluster_id": deployment["green"],
        "replication_conn_id": "repl",
        "max_freeze_seconds": 5,
        # Seconds_Behind_Source jumps on a busy two-core machine (a multithreaded applier reports
        # it per checkpoint); the catch-up itself is proven by position or GTID, not by this.
        "max_lag_seconds": 30,
        "repoint": f"sandbox:{deployment['endpoint']}",
        **connections,
        **overrides,
    }
    return CutoverOperator(**arguments).execute({})


def start_load(sandbox, deployment, rate=500):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, deployment["endpoint"], rate=rate)
    load.start()
    return load


def test_full_flow_under_load_loses_no_acknowledged_write(sandbox, connect, deployment, connections):
    preflight = PreflightOperator(
        task_id="preflight",
        blue_cluster_id=deployment["blue"],
        green_cluster_id=deployment["green"],
        writer_instance_id="writer",
        binlog_retention_hours=24,
        max_lag_seconds=5,
        max_freeze_seconds=5,
        replication_conn_id="repl",
        **connections,
    ).execute({})
    assert preflight["binlog_format"] == "ROW"

    load = start_load(sandbox, deployment)
    clone, summary = clone_and_replicate(deployment, connections)
    # Exactly where the clone's data ends: by GTID where blue runs gtid_mode=ON (the MySQL engine).
    if summary["start_gtid_set"]:
        assert (
            summary["start_gtid_set"] == clone["coordinates"]["gtid_set"]
            and summary["start_position"] is None
        )
    else:
        assert summary["start_position"] == clone["coordinates"]["position"]
    assert summary["replication_user"] == REPLICATION_LOGIN
    wait_caught_up(deployment, connections)

    report = cutover(deployment, connections)
    time.sleep(1)  # the application keeps writing, now to green
    result = load.stop()

    assert [step["name"] for step in report["steps"]] == [
        "guardrails",
        "freeze_blue",
        "end_writing_sessions",
        "read_final_position",
        "wait_for_green",
        "open_green_snapshot",
        "stop_replication",
        "blue_still_frozen",
        "reset_external_source",
        "green_writable",
        "prepare_reverse",
        "repoint",
        "open_blue_snapshot",
        "reverse_replication",
        "consistency_check",
        "persist_green_writable",
    ]
    assert report["consistency"]["consistent"] is True
    assert "shop.orders" in report["consistency"]["checked"]
    assert report["reverse_replication"].startswith(f"{deployment['blue']} replicates from green")
    assert report["rolled_back"] is False
    assert report["blue_final_position"] == report["green_executed_position"]
    assert 0 < report["freeze_ms"] < 5000
    assert result.counters.acknowledged > 0
    green = connect(deployment["green"], "root")
    assert missing_writes(load.acked_ids_file, green) == []
    endpoint = json.loads(Path(sandbox.endpoint_file(deployment["endpoint"])).read_text())
    assert endpoint["cluster_id"] == deployment["green"]

    state = VerifyCutoverOperator(
        task_id="verify",
        blue_cluster_id=deployment["blue"],
        green_cluster_id=deployment["green"],
        **connections,
    ).execute({})
    assert state == {
        "green_writable": True,
        "green_replication_reset": True,
        "green_writable_after_reboot": True,
        "blue_read_only": True,
        "blue_took_no_writes_of_its_own": True,
    }


def test_retried_replication_setup_leaves_running_replication_alone(sandbox, deployment, connections):
    clone_and_replicate(deployment, connections)
    _, again = clone_and_replicate(deployment, connections)
    assert again["start_position"] or again["start_gtid_set"]
    wait_caught_up(deployment, connections)


def test_sensor_fails_fast_with_the_replication_error(sandbox, connect, deployment, connections):
    clone_and_replicate(deployment, connections)
    wait_caught_up(deployment, connections)
    # A table that exists on blue but not on green breaks the SQL thread at the next write to it.
    with connect(deployment["green"], "root") as root, root.cursor() as cursor:
        cursor.execute("SET sql_log_bin=0")
        cursor.execute("DROP TABLE shop.orders")
    write_orders(connect, deployment["blue"], "breaks-green")
    sensor = ReplicaLagSensor(task_id="lag", green_cluster_id=deployment["green"], **connections)
    started = time.monotonic()
    with pytest.raises(AirflowFailException, match="1146"):
        for _ in range(50):
            sensor.poke({})
            time.sleep(0.2)
    assert time.monotonic() - started < 15


def test_freeze_budget_exceeded_rolls_back_and_loses_nothing(
    sandbox, connect, replication, deployment, connections
):
    load = start_load(sandbox, deployment)
    clone_and_replicate(deployment, connections)
    wait_caught_up(deployment, connections)
    # Hold a lock on green's table so its SQL thread cannot apply blue's last writes in time.
    blocker = connect(deployment["green"], "root")
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLES shop.orders WRITE")
    with pytest.raises(CutoverFailed) as failure:
        cutover(deployment, connections, max_freeze_seconds=1)
    report = failure.value.report
    assert report.rolled_back is True
    assert "freeze budget" in report.failure
    blocker.close()

    time.sleep(1)  # the application resumes on blue
    result = load.stop()
    assert result.counters.acknowledged > 0
    with connect(deployment["blue"], "root") as blue, blue.cursor() as cursor:
        cursor.execute("SELECT @@global.read_only")
        assert cursor.fetchone()[0] == 0
        assert missing_writes(load.acked_ids_file, blue) == []
    replication.wait_caught_up(deployment["green"], source_id=deployment["blue"])
    assert missing_writes(load.acked_ids_file, connect(deployment["green"], "root")) == []


def test_failed_repoint_rolls_back_to_blue(sandbox, connect, replication, deployment, connections):
    clone_and_replicate(deployment, connections)
    wait_caught_up(deployment, connections)
    # An endpoint "file" that is a directory cannot be replaced: the repoint step fails late,
    # after green was already writable, which is the hardest case to undo.
    sandbox.endpoint_file("broken").mkdir(parents=True)
    with pytest.raises(CutoverFailed) as failure:
        cutover(deployment, connections, repoint="sandbox:broken")
    report = failure.value.report
    assert report.rolled_back is True
    assert [step.name for step in report.steps][-2:] == ["repoint", "rollback"]
    write_orders(connect, deployment["blue"], "after-rollback")
    replication.wait_caught_up(deployment["green"], source_id=deployment["blue"])
    with connect(deployment["green"], "root") as green, green.cursor() as cursor:
        # MariaDB 10.11 reports read_only=0 when it shares a SELECT with a row count: ask apart.
        cursor.execute("SELECT @@global.read_only")
        assert cursor.fetchone() == (1,)
        cursor.execute("SELECT COUNT(*) FROM shop.orders WHERE request_id='after-rollback'")
        assert cursor.fetchone() == (1,)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("green_cluster_id", "blue-op-same", "different from blue_cluster_id"),
        ("green_cluster_id", "bad--id", "no '--'"),
        ("max_lag_seconds", 0, "greater than 0"),
        ("replication_conn_id", "no_such_connection", "existing Airflow connection"),
    ],
)
def test_preflight_rejects_bad_input_before_any_change(sandbox, connections, field, value, message):
    arguments = {
        "task_id": "preflight",
        "blue_cluster_id": "blue-op-same",
        "green_cluster_id": "green-never",
        "writer_instance_id": "writer",
        "binlog_retention_hours": 24,
        "max_lag_seconds": 5,
        "max_freeze_seconds": 5,
        "replication_conn_id": "repl",
        **connections,
        field: value,
    }
    before = {record.cluster_id for record in sandbox.clusters()}
    with pytest.raises(InvalidInput, match=message):
        PreflightOperator(**arguments).execute({})
    assert {record.cluster_id for record in sandbox.clusters()} == before


def test_switch_back_over_reverse_replication_loses_no_write(
    sandbox, connect, replication, deployment, connections
):
    load = start_load(sandbox, deployment)
    try:
        clone_and_replicate(deployment, connections)
        wait_caught_up(deployment, connections)
        cutover(deployment, connections)
        time.sleep(1)  # writes land on green and flow back to old blue
        back = {**deployment, "blue": deployment["green"], "green": deployment["blue"]}
        replication.wait_caught_up(back["green"], source_id=back["blue"])
        report = cutover(back, connections, reverse_replication=False)
        time.sleep(0.5)  # and the application is on old blue again
    finally:
        summary = load.stop()

    assert report["rolled_back"] is False
    assert summary.counters.clusters_seen == [deployment["blue"], deployment["green"], deployment["blue"]]
    with connect(deployment["blue"], "root") as old_blue:
        assert missing_writes(load.acked_ids_file, old_blue) == []
    endpoint = json.loads(Path(sandbox.endpoint_file(deployment["endpoint"])).read_text())
    assert endpoint["cluster_id"] == deployment["blue"]


def test_cutover_refuses_a_target_that_is_neither_our_clone_nor_blues_source(
    sandbox, deployment, connections
):
    other = f"{deployment['blue']}-other"
    sandbox.create_blue(other)
    try:
        with pytest.raises(PermissionError, match="not created by aurora-bluegreen"):
            cutover({**deployment, "green": other}, connections)
    finally:
        sandbox.stop_server(other)


def test_consistency_check_catches_a_difference_the_binlog_never_showed(
    sandbox, connect, deployment, connections
):
    clone_and_replicate(deployment, connections)
    wait_caught_up(deployment, connections)
    # Written without a binlog event (so no GTID either): replication and guardrails cannot see it.
    with connect(deployment["green"], "root") as root, root.cursor() as cursor:
        cursor.execute("SET sql_log_bin = 0")
        cursor.execute("UPDATE shop.customers SET name = 'drifted' WHERE id = 3")
    with pytest.raises(
        AirflowFailException, match=r"green differs from blue.*shop.customers.*different contents"
    ):
        cutover(deployment, connections)


READ_ONLY_BYPASS = {"mariadb": "READ_ONLY ADMIN", "mysql": "CONNECTION_ADMIN"}


def test_preflight_refuses_an_application_user_that_writes_through_read_only(
    sandbox, engine, connect, connections
):
    arguments = {
        "task_id": "preflight",
        "blue_cluster_id": "blue",
        "green_cluster_id": "green-never",
        "writer_instance_id": "writer",
        "binlog_retention_hours": 24,
        "max_lag_seconds": 5,
        "max_freeze_seconds": 5,
        "replication_conn_id": "repl",
        **connections,
    }
    assert PreflightOperator(**arguments, application_users=["app"]).execute({})["binlog_format"] == "ROW"
    with connect("blue", "root") as root, root.cursor() as cursor:
        cursor.execute("CREATE USER IF NOT EXISTS 'app_bypass'@'%' IDENTIFIED BY 'x'")
        cursor.execute(f"GRANT SELECT, INSERT, {READ_ONLY_BYPASS[engine]} ON *.* TO 'app_bypass'@'%'")
    with pytest.raises(
        ValueError, match=rf"'app_bypass' can write through read_only \('%' has {READ_ONLY_BYPASS[engine]}\)"
    ):
        PreflightOperator(**arguments, application_users=["app_bypass"]).execute({})
    with pytest.raises(ValueError, match="'nobody_here' is not a user on blue"):
        PreflightOperator(**arguments, application_users=["nobody_here"]).execute({})


def test_no_binlog_or_relay_log_holds_the_replication_password(sandbox, connect, deployment, connections):
    """The replication user is created on blue, and on green for reverse replication: its password
    must reach neither binlog (and so no relay log, backup or downstream replica) in plain text."""
    clone_and_replicate(deployment, connections)
    wait_caught_up(deployment, connections)
    cutover(deployment, connections)
    write_orders(connect, deployment["green"], "binlog-scan-canary")  # proves the scan reads them
    # As sent, as a client escapes it, and a fragment that survives any quoting.
    forms = [REPLICATION_PASSWORD, pymysql.converters.escape_string(REPLICATION_PASSWORD), "wörd-ß"]
    assert logs_holding(sandbox, deployment["green"], ["binlog-scan-canary"])
    for cluster_id in (deployment["blue"], deployment["green"]):
        assert logs_holding(sandbox, cluster_id, forms) == [], "the replication password is on disk"


def test_replication_between_clusters_is_encrypted_where_the_engine_offers_tls(
    sandbox, engine, connect, deployment, connections
):
    _, summary = clone_and_replicate(deployment, connections)
    wait_caught_up(deployment, connections)
    green = connect(deployment["green"], "root")
    with connect(deployment["blue"], "root") as blue, blue.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Ssl_server_not_after'")
        offered = bool((cursor.fetchone() or (None, ""))[1])
        cursor.execute("SHOW CREATE USER %s@'%%'", (REPLICATION_LOGIN,))
        create_user = cursor.fetchone()[0]
    assert summary["tls"] is offered
    if engine == "mysql":
        # MySQL has TLS by default: the user may only log in over TLS, and it does replicate, so
        # the channel is encrypted; the replica says so too.
        assert offered and "REQUIRE SSL" in create_user
        with green.cursor() as cursor:
            cursor.execute("SELECT SSL_ALLOWED FROM performance_schema.replication_connection_configuration")
            assert cursor.fetchone() == ("YES",)
    else:
        assert "REQUIRE SSL" not in create_user  # no certificate on the sandbox's MariaDB: plain text


def verify(deployment, connections):
    return VerifyCutoverOperator(
        task_id="verify",
        blue_cluster_id=deployment["blue"],
        green_cluster_id=deployment["green"],
        **connections,
    ).execute({})


def read_only(connect, cluster_id) -> int:
    with connect(cluster_id, "root") as root, root.cursor() as cursor:
        cursor.execute("SELECT @@global.read_only")
        return cursor.fetchone()[0]


def test_reboots_after_a_cutover_keep_green_writable_and_an_old_blue_that_took_writes_is_caught(
    sandbox, connect, deployment, connections
):
    """rds_set_read_only is forgotten at a reboot (AWS: "doesn't persist on rebooting"): green's
    parameter group must say read_only=0, and old blue, which comes back writable, is watched."""
    clone_and_replicate(deployment, connections)
    wait_caught_up(deployment, connections)
    report = cutover(deployment, connections)
    assert report["steps"][-1]["name"] == "persist_green_writable"
    assert sandbox.describe(deployment["green"]).tags["writer-since"]

    sandbox.restart(deployment["green"])
    assert read_only(connect, deployment["green"]) == 0, "a reboot made the new writer read-only"
    assert verify(deployment, connections)["green_writable_after_reboot"] is True

    sandbox.restart(deployment["blue"])
    assert read_only(connect, deployment["blue"]) == 0  # its own group never said read-only
    write_orders(connect, deployment["blue"], "stray-on-old-blue")  # a client still pointed at it
    with pytest.raises(ClusterStateError, match="blue_read_only, blue_took_no_writes_of_its_own not true"):
        verify(deployment, connections)
    # A switch back would strand that write: its guardrail refuses (old blue is its "green").
    with pytest.raises(CutoverFailed, match="writes that did not come from blue"):
        cutover({**deployment, "blue": deployment["green"], "green": deployment["blue"]}, connections)

    done = TeardownDeploymentOperator(
        task_id="teardown",
        blue_cluster_id=deployment["blue"],
        green_cluster_id=deployment["green"],
        replication_conn_id="repl",
        **connections,
    ).execute({})
    assert done["green"] == "kept: it is the writer since the cutover"
    assert done["old_blue_writes"].startswith("FOUND: old blue took writes of its own")
    assert sandbox.describe(deployment["green"]).is_available
