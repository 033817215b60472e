"""The replication set-up refuses a green that writes no binlogs before it changes anything, naming
green's cluster parameter group as RDS reports it.

Moto's clusters have no server behind them: green's and blue's SQL sides are stand-ins that answer
``binlog_settings`` as Aurora would with binlogs off, and fail the test on any other call.
"""

from __future__ import annotations

import json

import pytest
from moto_aws import AWS_CONN_ID, clone_spec

from aurora_bluegreen.errors import ClusterStateError
from aurora_bluegreen.hooks.cluster_sql import BinlogSettings
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.operators.qa import StartQaReplicationOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.parameter_groups import Level, owned_group_name


class Server:
    """A cluster's SQL side that only tells its binlog settings: anything else would be a change."""

    can_set_read_only = True

    def __init__(self, settings: BinlogSettings) -> None:
        self.settings = settings

    def binlog_settings(self) -> BinlogSettings:
        return self.settings

    def __getattr__(self, name: str):
        raise AssertionError(f"{name} was called: nothing may happen before green's binlogs are checked")


@pytest.fixture
def servers(monkeypatch, backend, rds, blue):
    # gtid-mode=ON on blue: the clone's coordinates are known without the RDS event moto lacks.
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=blue.cluster_parameter_group,
        Parameters=[{"ParameterName": "gtid-mode", "ParameterValue": "ON", "ApplyMethod": "pending-reboot"}],
    )
    backend.clone(clone_spec(blue))
    monkeypatch.setenv(
        "AIRFLOW_CONN_REPL", json.dumps({"conn_type": "mysql", "login": "repl_user", "password": "secret"})
    )
    found = {
        "blue": Server(BinlogSettings(log_bin=True, binlog_format="ROW", gtid_mode=True)),
        # Aurora with binlog_format=OFF in the cluster group: log_bin is off.
        "green": Server(BinlogSettings(log_bin=False, binlog_format="ROW", gtid_mode=True)),
    }
    monkeypatch.setattr(ClusterAccess, "sql", lambda self, cluster_id, role: found[cluster_id])
    return found


def test_a_green_without_binlogs_is_refused_before_replication_changes_anything(servers, context):
    operator = StartBinlogReplicationOperator(
        task_id="start_replication",
        blue_cluster_id="blue",
        green_cluster_id="green",
        replication_conn_id="repl",
        control_plane_conn_id=AWS_CONN_ID,
        admin_conn_id="admin",
    )
    with pytest.raises(ClusterStateError) as error:
        operator.execute(context)
    message = str(error.value)
    assert "green green does not write binlogs old blue could replicate from (binary logging off" in message
    assert f"its cluster parameter group {owned_group_name('green', Level.CLUSTER)}" in message


def test_a_qa_clone_need_not_write_binlogs_nobody_replicates_from_it():
    assert StartBinlogReplicationOperator.green_must_write_binlogs
    assert not StartQaReplicationOperator.green_must_write_binlogs
