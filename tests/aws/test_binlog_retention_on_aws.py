"""Binlog retention beyond what blue's Aurora version keeps is refused on AWS, where RDS reports the
version, before anything changes: Aurora would silently use its maximum instead."""

from __future__ import annotations

import json

import pytest
from moto_aws import AURORA2, AWS_CONN_ID, create_blue

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator

BEFORE_2_11 = "5.7.mysql_aurora.2.10.3"


@pytest.fixture
def connections(monkeypatch):
    for conn_id, login in (("admin", "admin"), ("repl", "repl_user")):
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            json.dumps({"conn_type": "mysql", "host": "unused", "login": login, "password": "secret"}),
        )

    # Moto's clusters have no server: any SQL would mean the check came too late.
    def no_sql(self, cluster_id, role):
        raise AssertionError(f"SQL on {cluster_id}: the retention must be refused before")

    monkeypatch.setattr(ClusterAccess, "sql", no_sql)


def preflight(hours: int) -> PreflightOperator:
    return PreflightOperator(
        task_id="preflight",
        blue_cluster_id="blue",
        green_cluster_id="green",
        writer_instance_id="green-writer",
        binlog_retention_hours=hours,
        max_lag_seconds=5,
        max_freeze_seconds=5,
        replication_conn_id="repl",
        control_plane_conn_id=AWS_CONN_ID,
        admin_conn_id="admin",
    )


def test_preflight_refuses_more_retention_than_blues_aurora_version_keeps(rds, network, connections, context):
    create_blue(rds, network, engine_version=BEFORE_2_11)
    with pytest.raises(InvalidInput) as error:
        preflight(169).execute(context)
    assert error.value.field == "binlog_retention_hours"
    assert "from 1 to 168" in str(error.value) and BEFORE_2_11 in str(error.value)


def test_preflight_lets_2_11_and_later_keep_up_to_2160_hours(rds, network, connections, context):
    create_blue(rds, network, engine_version=AURORA2)  # 2.11.2
    with pytest.raises(AssertionError, match="SQL on blue"):  # past the retention check
        preflight(2160).execute(context)


def test_replication_set_up_refuses_it_too_before_any_change(rds, network, connections, context):
    create_blue(rds, network, engine_version=BEFORE_2_11)
    operator = StartBinlogReplicationOperator(
        task_id="start_replication",
        blue_cluster_id="blue",
        green_cluster_id="green",
        replication_conn_id="repl",
        binlog_retention_hours=200,
        control_plane_conn_id=AWS_CONN_ID,
        admin_conn_id="admin",
    )
    with pytest.raises(InvalidInput, match=r"binlog_retention_hours=200 is invalid: must be .* 1 to 168"):
        operator.execute(context)
