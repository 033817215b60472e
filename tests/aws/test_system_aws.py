"""Opt-in system test on a real AWS account: ``pytest -m aws tests/aws/test_system_aws.py``.

It runs the deployment's tasks against a real Aurora MySQL blue: clone, replication, lag dashboard,
catch-up, cutover (blue is frozen, then made writable again), verify, and deletes green and the
dashboard afterwards. It costs money for the time green exists (about 20-40 minutes) and freezes
blue during the cutover, so point it at a disposable blue. It never runs without ``-m aws``.

Needs, besides AWS credentials that boto3 finds (profile, environment or instance role):
- ``AURORA_BLUEGREEN_REGION`` and ``AURORA_BLUEGREEN_BLUE`` (blue's cluster id);
- ``AIRFLOW_CONN_AURORA_BLUE_ADMIN``: a MySQL connection with blue's master user;
- ``AIRFLOW_CONN_AURORA_REPLICATION``: login and password for the replication user to create;
- a network path from this machine to both clusters' endpoints (run it inside the VPC).
"""

from __future__ import annotations

import json
import os
import time

import boto3
import pytest

from aurora_bluegreen.control_plane.factory import get_backend
from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.operators.dashboard import BinlogLagDashboardOperator, DeleteBinlogLagDashboardOperator
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

pytestmark = pytest.mark.aws

REQUIRED = (
    "AURORA_BLUEGREEN_REGION",
    "AURORA_BLUEGREEN_BLUE",
    "AIRFLOW_CONN_AURORA_BLUE_ADMIN",
    "AIRFLOW_CONN_AURORA_REPLICATION",
)


@pytest.fixture
def real_aws(request, monkeypatch):
    if "aws" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("real-AWS system test: opt in with `pytest -m aws` (it creates billable clusters)")
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip(f"set {', '.join(missing)} (see this module's docstring)")
    # Looked up last: boto3 may ask an instance-metadata endpoint, only worth it once all else is set.
    if boto3.Session().get_credentials() is None:
        pytest.skip("no AWS credentials: set AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role")
    region = os.environ["AURORA_BLUEGREEN_REGION"]
    monkeypatch.setenv(
        "AIRFLOW_CONN_AURORA_AWS", json.dumps({"conn_type": "aws", "extra": {"region_name": region}})
    )
    blue = os.environ["AURORA_BLUEGREEN_BLUE"]
    return {"blue": blue, "green": f"{blue}-bg-test"[:63], "writer": f"{blue}-bg-test-w"[:63]}


def test_deployment_on_a_real_account(real_aws):
    blue, green, writer = real_aws["blue"], real_aws["green"], real_aws["writer"]
    planes = {"control_plane_conn_id": "aurora_aws", "admin_conn_id": "aurora_blue_admin"}
    context = {}
    try:
        PreflightOperator(
            task_id="preflight",
            blue_cluster_id=blue,
            green_cluster_id=green,
            writer_instance_id=writer,
            binlog_retention_hours=24,
            max_lag_seconds=5,
            max_freeze_seconds=60,
            replication_conn_id="aurora_replication",
            **planes,
        ).execute(context)
        clone = CloneClusterOperator(
            task_id="clone_green",
            source_cluster_id=blue,
            cluster_id=green,
            writer_instance_id=writer,
            control_plane_conn_id="aurora_aws",
            deferrable=False,
            poll_interval=30,
            wait_timeout=3600,
        ).execute(context)
        assert clone["coordinates"]["position"] or "GTID" in clone["coordinates"]["evidence"]
        StartBinlogReplicationOperator(
            task_id="start_replication",
            blue_cluster_id=blue,
            green_cluster_id=green,
            replication_conn_id="aurora_replication",
            **planes,
        ).execute(context)
        BinlogLagDashboardOperator(
            task_id="lag_dashboard", writer_instance_id=writer, aws_conn_id="aurora_aws"
        ).execute(context)
        sensor = ReplicaLagSensor(task_id="wait", green_cluster_id=green, max_lag_seconds=5, **planes)
        deadline = time.monotonic() + 1800
        while not sensor.poke(context):
            assert time.monotonic() < deadline, "green did not catch up within 30 minutes"
            time.sleep(10)
        report = CutoverOperator(
            task_id="cutover",
            blue_cluster_id=blue,
            green_cluster_id=green,
            replication_conn_id="aurora_replication",
            max_freeze_seconds=60,
            repoint="none",
            **planes,
        ).execute(context)
        assert report["rolled_back"] is False
        state = VerifyCutoverOperator(
            task_id="verify", blue_cluster_id=blue, green_cluster_id=green, **planes
        ).execute(context)
        assert all(state.values())
    finally:
        # The cutover froze blue; this blue is a test fixture, so it gets its writes back.
        access = ClusterAccess("aurora_aws", "aurora_blue_admin")
        blue_sql = access.sql(blue, "blue")
        if blue_sql.read_only():
            access.read_only_switch(blue, blue_sql).set_read_only(False)
        DeleteBinlogLagDashboardOperator(
            task_id="delete_dashboard", writer_instance_id=writer, aws_conn_id="aurora_aws"
        ).execute(context)
        get_backend("aurora_aws").delete(green)
