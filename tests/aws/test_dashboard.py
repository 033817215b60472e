"""The lag dashboard: the blog's name, the AuroraBinlogReplicaLag graph, its console link, teardown."""

from __future__ import annotations

import json

import boto3
import pytest
from airflow.sdk.exceptions import AirflowSkipException
from helpers import sandbox_connection
from moto_aws import AWS_CONN_ID, REGION, clone_spec

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.links import AuroraClusterLink, BinlogLagDashboardLink
from aurora_bluegreen.operators.dashboard import (
    BinlogLagDashboardOperator,
    DeleteBinlogLagDashboardOperator,
    dashboard_body,
    dashboard_name,
)

NAME = f"Aurora-Binlog-Replication-Lag-{REGION}-green-writer"


def test_name_follows_the_blog():
    assert dashboard_name("us-east-1", "testprod1") == "Aurora-Binlog-Replication-Lag-us-east-1-testprod1"


def test_body_plots_the_lag_of_greens_writer():
    (graph, _) = dashboard_body(REGION, "green-writer", period=60)["widgets"]
    assert graph["properties"]["metrics"] == [
        ["AWS/RDS", "AuroraBinlogReplicaLag", "DBInstanceIdentifier", "green-writer"]
    ]
    assert (graph["properties"]["region"], graph["properties"]["period"]) == (REGION, 60)


@pytest.fixture
def cloudwatch(aws):
    return boto3.client("cloudwatch", region_name=REGION)


def test_dashboard_is_created_linked_and_deleted_idempotently(backend, blue, cloudwatch, context):
    backend.clone(clone_spec(blue))
    operator = BinlogLagDashboardOperator(
        task_id="dashboard", writer_instance_id="green-writer", aws_conn_id=AWS_CONN_ID
    )

    assert operator.execute(context) == {"dashboard_name": NAME, "region": REGION}
    assert operator.execute(context)["dashboard_name"] == NAME  # a retry overwrites it

    body = json.loads(cloudwatch.get_dashboard(DashboardName=NAME)["DashboardBody"])
    assert body == dashboard_body(REGION, "green-writer")
    link = context["ti"].xcom[BinlogLagDashboardLink.key]
    assert BinlogLagDashboardLink().format_link(**link) == (
        f"https://console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards/dashboard/{NAME}"
    )

    delete = DeleteBinlogLagDashboardOperator(
        task_id="delete_dashboard", writer_instance_id="green-writer", aws_conn_id=AWS_CONN_ID
    )
    assert delete.execute(context) == NAME
    assert delete.execute(context) is None
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


def test_a_writer_that_is_not_in_the_region_is_refused_before_any_dashboard(aws, cloudwatch, context):
    operator = BinlogLagDashboardOperator(
        task_id="dashboard", writer_instance_id="elsewhere", aws_conn_id=AWS_CONN_ID
    )
    with pytest.raises(InvalidInput, match=f"writer_instance_id='elsewhere'.*region {REGION}"):
        operator.execute(context)
    assert cloudwatch.list_dashboards()["DashboardEntries"] == []


def test_no_dashboard_on_the_sandbox(set_connections, context):
    set_connections({"sandbox_cp": sandbox_connection("/tmp")})
    with pytest.raises(AirflowSkipException):
        BinlogLagDashboardOperator(
            task_id="dashboard", writer_instance_id="green-writer", aws_conn_id="sandbox_cp"
        ).execute(context)


def test_cluster_link_opens_the_rds_console_page():
    link = AuroraClusterLink().format_link(
        region_name="eu-west-1", aws_domain="aws.amazon.com", cluster_id="green"
    )
    assert (
        link == "https://console.aws.amazon.com/rds/home?region=eu-west-1#database:id=green;is-cluster=true"
    )
