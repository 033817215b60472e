"""The trigger form rejects bad input before any task runs."""

import importlib.util
import itertools
from pathlib import Path

import pytest
from airflow.sdk.definitions.param import ParamValidationError

DAG_FILE = Path(__file__).parents[2] / "dags" / "aurora_bluegreen_deployment.py"


@pytest.fixture(scope="module")
def dag():
    spec = importlib.util.spec_from_file_location("deployment_dag", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def resolve(dag, name, value):
    return dag.params.get_param(name).resolve(value)


def test_defaults_are_valid(dag):
    dag.params.validate()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("blue_cluster_id", "1blue"),
        ("blue_cluster_id", "blue-"),
        ("green_cluster_id", "gr--een"),
        ("green_cluster_id", "g" * 64),
        ("writer_instance_id", "writer'; DROP TABLE t; --"),
        ("binlog_retention_hours", 0),
        ("binlog_retention_hours", 2161),
        ("max_lag_seconds", 0),
        ("max_lag_seconds", -1),
        ("max_freeze_seconds", 0),
        ("repoint", "dns:whatever"),
        ("repoint", "sandbox:app; rm -rf /"),
        ("vpc_security_group_ids", ["not-a-group"]),
        ("admin_conn_id", ""),
        ("cluster_parameter_group", "pg'); DROP"),
    ],
)
def test_form_rejects(dag, name, value):
    with pytest.raises(ParamValidationError):
        resolve(dag, name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("blue_cluster_id", "a"),
        ("green_cluster_id", "prod-green-2"),
        ("max_lag_seconds", 0.5),
        ("vpc_security_group_ids", ["sg-0abc123"]),
        ("repoint", "none"),
        ("cluster_parameter_group", None),
    ],
)
def test_form_accepts(dag, name, value):
    assert resolve(dag, name, value) == value


def test_dag_has_the_designed_flow(dag):
    order = [
        "preflight",
        "clone_green",
        "start_replication",
        "wait_for_catch_up",
        "approve_cutover",
        "cutover",
        "verify",
    ]
    for upstream, downstream in itertools.pairwise(order):
        assert downstream in dag.get_task(upstream).downstream_task_ids
