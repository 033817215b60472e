"""Testing on green, teardown and the nightly QA refresh through real Airflow, on sandbox servers.

Uses the DAGs' own example SQL files (``dags/sql/``). Each test gets its own blue.
"""

from __future__ import annotations

import secrets
import uuid

import pytest
from helpers import sandbox_connections, scalar, source_position_on

from aurora_bluegreen.qa_clones import qa_tags
from aurora_bluegreen.sandbox.endpoints import read_endpoint
from aurora_bluegreen.sandbox.load import LoadGenerator

DEPLOY, TEARDOWN, QA = "aurora_bluegreen_deployment", "aurora_bluegreen_teardown", "aurora_qa_refresh"
REPLICATION_LOGIN = "repl_e2e_life"
REPLICATION_PASSWORD = "e2e'life\"pass\\wörd-" + secrets.token_hex(4)


@pytest.fixture(scope="module")
def planes(sandbox, airflow):
    airflow.upsert_connections(
        sandbox_connections(
            sandbox,
            control_plane="e2e_life_sandbox",
            admin="e2e_life_admin",
            replication=("e2e_life_replication", REPLICATION_LOGIN, REPLICATION_PASSWORD),
        )
    )
    for dag_id in (DEPLOY, TEARDOWN, QA):
        airflow.unpause_dag(dag_id)
    return {
        "control_plane_conn_id": "e2e_life_sandbox",
        "admin_conn_id": "e2e_life_admin",
        "replication_conn_id": "e2e_life_replication",
    }


def run_to_end(airflow, dag_id, conf, name, timeout=180):
    run_id = f"e2e_{name}_{uuid.uuid4().hex[:6]}"
    airflow.trigger_dag_run(dag_id, run_id=run_id, conf=conf)
    run = airflow.wait_for_dag_run(dag_id, run_id, timeout=timeout)
    return run_id, run["state"], airflow.task_states(dag_id, run_id)


def has_column(connection, column):
    return scalar(
        connection,
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'shop'"
        f" AND TABLE_NAME = 'orders' AND COLUMN_NAME = '{column}'",
    )


def test_migration_and_checks_are_in_the_approval_then_reject_then_teardown(
    sandbox, connect, airflow, planes
):
    blue_id, green_id, endpoint = "e2e-life-blue", "e2e-life-green", "e2e_life"
    sandbox.create_blue(blue_id)
    sandbox.point_endpoint(endpoint, blue_id)
    load = LoadGenerator.in_sandbox(sandbox.state_dir, endpoint, rate=200)
    load.start()
    try:
        conf = {
            "blue_cluster_id": blue_id,
            "green_cluster_id": green_id,
            "writer_instance_id": f"{green_id}-writer",
            "repoint": f"sandbox:{endpoint}",
            "migration_files": ["add_gift_wrap_to_orders.sql"],
            "check_files": [
                "orders_have_customers.sql",
                "gift_wrap_column_exists.sql",
                "customer_emails_are_masked.sql",
            ],
            "checks_warn_only": True,
            **planes,
        }
        run_id = f"e2e_life_{uuid.uuid4().hex[:6]}"
        airflow.trigger_dag_run(DEPLOY, run_id=run_id, conf=conf)
        request = airflow.wait_for_approval_request(DEPLOY, run_id, timeout=240)
        body = request["body"]
        airflow.answer_when_settled(request, ["Reject"])
        run = airflow.wait_for_dag_run(DEPLOY, run_id, timeout=120)
    finally:
        load.stop()

    # What the approver read, through the REST API: each statement, each check with its result.
    assert "| `add_gift_wrap_to_orders.sql` | 1 | `ALTER TABLE shop.orders ADD COLUMN gift_wrap" in body
    assert "| `add_gift_wrap_to_orders.sql` | 2 | `CREATE INDEX orders_by_created_at" in body
    assert (
        "| `orders_have_customers` | ✅ pass |" in body and "| `gift_wrap_column_exists` | ✅ pass |" in body
    )
    assert "| `customer_emails_are_masked` | ❌ **FAIL** |" in body and "1 of 3 checks failed" in body
    states = airflow.task_states(DEPLOY, run_id)
    assert run["state"] == "success" and states["cutover"] == "skipped", states
    # The run says it was rejected, by whom, and that nothing changed, on a task of its own.
    assert states["rejected"] == "success", states
    notice = airflow.xcom_value(DEPLOY, run_id, "rejected")
    assert "rejected by admin" in notice and "Nothing changed" in notice, notice
    assert "Ran add_gift_wrap_to_orders.sql #1" in airflow.task_log(DEPLOY, run_id, "migrate_green")
    green, blue = connect(green_id, "root"), connect(blue_id, "root")
    assert has_column(green, "gift_wrap") and not has_column(blue, "gift_wrap")
    assert scalar(green, "SELECT @@global.read_only") == 1 and scalar(blue, "SELECT @@global.read_only") == 0

    teardown_conf = {key: conf[key] for key in ("blue_cluster_id", "green_cluster_id", "writer_instance_id")}
    teardown_id, state, states = run_to_end(airflow, TEARDOWN, {**teardown_conf, **planes}, "teardown")
    assert state == "success", states
    assert states == {  # no CloudWatch here; blue held for the run and released
        "hold_blue": "success",
        "teardown": "success",
        "delete_lag_dashboard": "skipped",
        "release_blue": "success",
    }
    assert sandbox.find(green_id) is None
    assert scalar(blue, f"SELECT COUNT(*) FROM mysql.user WHERE User = '{REPLICATION_LOGIN}'") == 0
    done = airflow.xcom_value(TEARDOWN, teardown_id, "teardown")
    assert done["binlog_retention"] == "restored to unset" and done["green"].startswith("deleted")


def test_two_nightly_qa_runs_back_to_back_keep_exactly_n_and_never_write_blue(
    sandbox, connect, airflow, planes
):
    blue_id = "e2e-qa-blue"
    sandbox.create_blue(blue_id)
    blue = connect(blue_id, "root")
    before = source_position_on(blue)
    conf = {
        "blue_cluster_id": blue_id,
        "qa_cluster_prefix": f"{blue_id}-qa",
        "keep_previous": 0,
        "masking_files": ["scrub_customer_pii.sql"],
        "qa_endpoint": "sandbox:e2e_qa",
        **planes,
    }
    first_id, first_state, first_states = run_to_end(airflow, QA, conf, "qa_first")
    assert first_state == "success", first_states
    second_id, second_state, second_states = run_to_end(airflow, QA, conf, "qa_second")
    assert second_state == "success", second_states
    assert second_states["replicate_qa"] == "skipped"

    first = airflow.xcom_value(QA, first_id, "publish_qa")["cluster_id"]
    second = airflow.xcom_value(QA, second_id, "publish_qa")
    assert first != second["cluster_id"] and first.startswith(f"{blue_id}-qa-")
    assert [c.cluster_id for c in sandbox.list_clusters(qa_tags(blue_id))] == [second["cluster_id"]]
    assert airflow.xcom_value(QA, second_id, "retire_earlier_qa") == {
        "kept": [second["cluster_id"]],
        "retired": [first],
        "blue": {},  # neither clone replicated, so blue had nothing of ours to clean up
    }
    assert read_endpoint(sandbox.endpoint_file("e2e_qa")).port == second["port"]
    qa = connect(second["cluster_id"], "root")
    assert scalar(qa, "SELECT COUNT(*) FROM shop.customers WHERE email NOT LIKE '%@example.invalid'") == 0
    assert source_position_on(blue) == before, "the QA refresh wrote to blue"
