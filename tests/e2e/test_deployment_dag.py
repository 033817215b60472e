"""The deployment DAG through real Airflow on real sandbox servers: Approve, and Reject.

Each run gets its own blue, because an approved cutover leaves blue read-only.
"""

from __future__ import annotations

import secrets
import time
import uuid

import pytest
from helpers import logs_holding, replica_status, sandbox_connections, scalar, write_orders

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient
from aurora_bluegreen.errors import AirflowRestError
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

DAG_ID = "aurora_bluegreen_deployment"
ROLLBACK_DAG_ID = "aurora_bluegreen_rollback"
REPLICATION_PASSWORD = "e2e'repl\"pass\\wörd-" + secrets.token_hex(4)
AFTER_REJECT_COPIES = "SELECT COUNT(*) FROM shop.orders WHERE request_id = 'after-reject'"


@pytest.fixture(scope="module")
def deployment_connections(sandbox, airflow: AirflowRestClient) -> dict[str, str]:
    airflow.upsert_connections(
        sandbox_connections(
            sandbox,
            control_plane="e2e_sandbox",
            admin="e2e_admin",
            replication=("e2e_replication", "repl_e2e", REPLICATION_PASSWORD),
        )
    )
    airflow.unpause_dag(DAG_ID)
    return {
        "control_plane_conn_id": "e2e_sandbox",
        "admin_conn_id": "e2e_admin",
        "replication_conn_id": "e2e_replication",
    }


def start_run(airflow, sandbox, connections, name, upgrade=False):
    """Trigger a deployment of a new blue; ``upgrade``: green's engine too, where the sandbox has a target."""
    blue_id, green_id, endpoint = f"e2e-{name}-blue", f"e2e-{name}-green", f"e2e_{name}"
    sandbox.create_blue(blue_id)
    sandbox.point_endpoint(endpoint, blue_id)
    targets = sandbox.upgrade_targets(blue_id) if upgrade else []
    conf = {
        "blue_cluster_id": blue_id,
        "green_cluster_id": green_id,
        "writer_instance_id": f"{green_id}-writer",
        "repoint": f"sandbox:{endpoint}",
        "max_lag_seconds": 5,
        "max_freeze_seconds": 5,
        "target_engine_version": targets[0] if targets else None,
        **connections,
    }
    run_id = f"e2e_{name}_{uuid.uuid4().hex[:6]}"
    airflow.trigger_dag_run(DAG_ID, run_id=run_id, conf=conf)
    return run_id, conf


def table_checksums(connection) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("CHECKSUM TABLE shop.customers, shop.products, shop.orders")
        return {table: checksum for table, checksum in cursor.fetchall()}


def strings_in(value) -> list[str]:
    """Every string inside a JSON-like value, unescaped, so a secret is found however it is quoted."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in (*strings_in(key), *strings_in(item))]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in strings_in(item)]
    return []


def xcom_if_any(airflow, run_id, task_id):
    """The task's return value; None for a task that returned nothing (or was skipped)."""
    try:
        return airflow.xcom_value(DAG_ID, run_id, task_id)
    except AirflowRestError as error:
        if error.status_code == 404:
            return None
        raise


def read_only(connection) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT @@global.read_only")
        return cursor.fetchone()[0]


def test_reject_leaves_blue_writable_and_unchanged_and_green_replicating(
    sandbox, connect, airflow, deployment_connections
):
    # On the MariaDB engine green is upgraded (10.11 -> 11.8) before the approval; MySQL has one version.
    run_id, conf = start_run(airflow, sandbox, deployment_connections, "reject", upgrade=True)
    request = airflow.wait_for_approval_request(DAG_ID, run_id, timeout=300)
    blue = connect(conf["blue_cluster_id"], "root")
    before = table_checksums(blue)

    assert conf["green_cluster_id"] in request["body"]
    green_version = scalar(connect(conf["green_cluster_id"], "root"), "SELECT VERSION()")
    assert f"| Green's engine | {green_version}" in request["body"]
    assert f"| Blue's engine | {scalar(blue, 'SELECT VERSION()')}" in request["body"]
    if conf["target_engine_version"]:
        assert green_version.startswith(f"{conf['target_engine_version']}.")
    airflow.answer_when_settled(request, ["Reject"])
    run = airflow.wait_for_dag_run(DAG_ID, run_id, timeout=120)

    states = airflow.task_states(DAG_ID, run_id)
    assert states["cutover"] == "skipped" and states["verify"] == "skipped", states
    assert states["rejected"] == "success", states  # "Rejected: nothing changed"
    assert run["state"] == "success", states
    assert read_only(blue) == 0
    assert table_checksums(blue) == before
    write_orders(connect, conf["blue_cluster_id"], "after-reject")
    status = replica_status(sandbox, conf["green_cluster_id"])
    assert (status.io_running, status.sql_running) == ("Yes", "Yes")
    # And the data: the order blue took after the rejection reaches green, exactly once.
    green_root = connect(conf["green_cluster_id"], "root")
    deadline = time.monotonic() + 30
    while (copies := scalar(green_root, AFTER_REJECT_COPIES)) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert copies == 1, status


def test_approve_cuts_over_under_load_then_switch_back_loses_no_acknowledged_write(
    sandbox, connect, airflow, deployment_connections
):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, "e2e_approve", rate=300)
    run_id, conf = None, None
    try:
        sandbox.create_blue("e2e-approve-blue")
        sandbox.point_endpoint("e2e_approve", "e2e-approve-blue")
        load.start()
        run_id, conf = start_run(airflow, sandbox, deployment_connections, "approve")
        request = airflow.wait_for_approval_request(DAG_ID, run_id, timeout=180)
        assert "Replication lag" in request["body"] and "mysql-bin" in request["body"]
        airflow.answer_when_settled(request, ["Approve"])
        run = airflow.wait_for_dag_run(DAG_ID, run_id, timeout=120)
        missing_on_green = writes_missing_after_a_while(load, connect(conf["green_cluster_id"], "root"))
        back_run = switch_back(airflow, conf)
    finally:
        summary = load.stop()

    states = airflow.task_states(DAG_ID, run_id)
    assert run["state"] == "success", states
    # AWS-only tasks, and the notice that runs only after a rejection.
    not_run = {"snapshot_blue", "lag_dashboard", "rejected"}
    assert {task for task, state in states.items() if state != "success"} == not_run, states
    assert missing_on_green == []

    report = airflow.xcom_value(DAG_ID, run_id, "cutover")
    assert report["rolled_back"] is False
    assert report["blue_final_position"] == report["green_executed_position"]
    assert "write freeze:" in airflow.task_log(DAG_ID, run_id, "cutover")

    # No password (master, application, replication) in any task log, XCom value, rendered
    # template field or the run's conf, nor on disk in any binary or relay log of either cluster.
    credentials = sandbox.credentials
    secrets_used = [credentials.admin_password, credentials.app_password, REPLICATION_PASSWORD]
    assert not any(secret in text for secret in secrets_used for text in strings_in(run.get("conf")))
    for ti in airflow.task_instances(DAG_ID, run_id):
        task_id = ti["task_id"]
        seen = [
            airflow.task_log(DAG_ID, run_id, task_id),
            *strings_in(ti.get("rendered_fields")),
            *strings_in(xcom_if_any(airflow, run_id, task_id)),
        ]
        for secret in secrets_used:
            assert not any(secret in text for text in seen), f"a password leaked in {task_id}"
    assert logs_holding(sandbox, conf["blue_cluster_id"], [load.run_id])  # the scan does read them
    for cluster_id in (conf["blue_cluster_id"], conf["green_cluster_id"]):
        assert logs_holding(sandbox, cluster_id, secrets_used) == [], "a password is in a binlog"

    # The switch back: old blue followed green over reverse replication; nothing green took is lost.
    assert back_run["state"] == "success", airflow.task_states(ROLLBACK_DAG_ID, back_run["dag_run_id"])
    assert summary.counters.clusters_seen == [
        conf["blue_cluster_id"],
        conf["green_cluster_id"],
        conf["blue_cluster_id"],
    ]
    assert summary.counters.acknowledged > 0
    assert missing_writes(load.acked_ids_file, connect(conf["blue_cluster_id"], "root")) == []
    assert read_only(connect(conf["blue_cluster_id"], "root")) == 0
    assert read_only(connect(conf["green_cluster_id"], "root")) == 1


def writes_missing_after_a_while(load, green) -> list[str]:
    """Let the application write to green for a moment, then list acknowledged writes green lacks."""
    time.sleep(1.5)
    return missing_writes(load.acked_ids_file, green)


def switch_back(airflow, conf):
    keys = (
        "blue_cluster_id",
        "green_cluster_id",
        "repoint",
        "control_plane_conn_id",
        "admin_conn_id",
        "replication_conn_id",
    )
    airflow.unpause_dag(ROLLBACK_DAG_ID)
    run_id = f"e2e_back_{uuid.uuid4().hex[:6]}"
    airflow.trigger_dag_run(ROLLBACK_DAG_ID, run_id=run_id, conf={key: conf[key] for key in keys})
    request = airflow.wait_for_approval_request(ROLLBACK_DAG_ID, run_id, timeout=180)
    airflow.answer_when_settled(request, ["Approve"])
    return airflow.wait_for_dag_run(ROLLBACK_DAG_ID, run_id, timeout=120)
