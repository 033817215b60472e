"""The deployment DAG's AWS path from preflight to cutover: the RDS, CloudWatch and Route 53 calls go to
moto, the SQL goes to real sandbox servers, so both planes run together as they would on Aurora.

Moto's clusters have no server behind their endpoints, so the test maps each cluster to the sandbox
server of the same id. The clone's crash-recovery event, which moto never emits, is supplied from
the sandbox clone's exact binlog coordinates: the one response not made by moto.
"""

from __future__ import annotations

import dataclasses
import time

import boto3
import pytest
from helpers import sandbox_connections, write_orders
from moto_aws import AWS_CONN_ID, REGION, OperationStubber, crash_recovery_events, create_blue

from aurora_bluegreen.control_plane import factory
from aurora_bluegreen.control_plane.aurora import AuroraBackend
from aurora_bluegreen.models import CloneSpec, ClusterInfo
from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.operators.dashboard import BinlogLagDashboardOperator
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.readers import AuroraReadersOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.ownership import MANAGED_BY_TAG, MANAGED_BY_VALUE
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

pytestmark = pytest.mark.integration

BLUE, GREEN, WRITER = "aws-blue", "aws-green", "aws-green-writer"
REPLICATION_LOGIN = "repl_aws"
REPLICATION_PASSWORD = "aw's\"repl\\pass-ß"


class AuroraOverSandbox(AuroraBackend):
    """Moto's answers, except that a cluster's SQL endpoint is the sandbox server with its id."""

    def __init__(self, backend: AuroraBackend, sandbox) -> None:
        super().__init__(
            backend.hook, waiter_delay=0, parameter_group_settle_seconds=backend.groups.settle_seconds
        )
        self.sandbox = sandbox

    def find(self, cluster_id: str) -> ClusterInfo | None:
        info = super().find(cluster_id)
        server = self.sandbox.find(cluster_id)
        if info is None or server is None:
            return info
        return dataclasses.replace(info, endpoint=server.endpoint, port=server.port)


@pytest.fixture
def planes(sandbox, backend, rds, network, monkeypatch, set_connections):
    """Blue in both worlds, the connections the DAG uses, and one backend all tasks share."""
    sandbox.create_blue(BLUE)
    create_blue(rds, network, cluster_id=BLUE)
    set_connections(
        sandbox_connections(
            sandbox, admin="admin", replication=("repl", REPLICATION_LOGIN, REPLICATION_PASSWORD)
        )
    )
    shared = AuroraOverSandbox(backend, sandbox)
    # Every task asks for its control plane by connection id; they all get the same backend, so
    # the one stubbed describe_events response reaches each of them.
    monkeypatch.setattr(factory, "get_backend", lambda conn_id: shared)
    yield shared
    if sandbox.find(GREEN):
        sandbox.delete(GREEN)
    sandbox.stop_server(BLUE)


def test_aws_path_from_preflight_to_cutover(sandbox, connect, planes, context):
    planes_kwargs = {"control_plane_conn_id": AWS_CONN_ID, "admin_conn_id": "admin"}
    # Green's data: the sandbox's physical copy of blue, with the exact binlog position it ends at.
    sandbox.clone(
        CloneSpec(BLUE, GREEN, WRITER, tags={MANAGED_BY_TAG: MANAGED_BY_VALUE, "source-cluster": BLUE})
    )
    position = sandbox.clone_coordinates(GREEN).position
    write_orders(connect, BLUE, [f"before-clone-task-{n}" for n in range(20)])

    PreflightOperator(
        task_id="preflight",
        blue_cluster_id=BLUE,
        green_cluster_id=GREEN,
        writer_instance_id=WRITER,
        binlog_retention_hours=24,
        max_lag_seconds=5,
        max_freeze_seconds=5,
        replication_conn_id="repl",
        **planes_kwargs,
    ).execute(context)

    with OperationStubber(planes.rds.client, "describe_events") as stub:
        message = f"Binlog position from crash recovery is {position.file} {position.position}"
        for response in crash_recovery_events(WRITER, message, count=5):
            stub.add_response("describe_events", response)
        clone = CloneClusterOperator(
            task_id="clone_green",
            source_cluster_id=BLUE,
            cluster_id=GREEN,
            writer_instance_id=WRITER,
            control_plane_conn_id=AWS_CONN_ID,
        ).execute(context)
        summary = StartBinlogReplicationOperator(
            task_id="start_replication",
            blue_cluster_id=BLUE,
            green_cluster_id=GREEN,
            replication_conn_id="repl",
            **planes_kwargs,
        ).execute(context)

    assert clone["coordinates"]["position"] == position.to_dict()
    # The clone task's console link (docs/aws.md): green's page in the RDS console.
    assert context["ti"].xcom["aurora_cluster"]["cluster_id"] == GREEN
    assert (clone["endpoint"], clone["port"]) == (
        sandbox.describe(GREEN).endpoint,
        sandbox.describe(GREEN).port,
    )
    assert summary["start_position"] == position.to_dict() and summary["dialect"] == "aurora3"
    green_tags = planes.describe(GREEN).tags
    assert green_tags["managed-by"] == "aurora-bluegreen" and green_tags["source-cluster"] == BLUE

    dashboard = BinlogLagDashboardOperator(
        task_id="lag_dashboard", writer_instance_id=WRITER, aws_conn_id=AWS_CONN_ID
    ).execute(context)
    assert dashboard["dashboard_name"] == f"Aurora-Binlog-Replication-Lag-{REGION}-{WRITER}"

    write_orders(connect, BLUE, [f"while-replicating-{n}" for n in range(50)])
    sensor = ReplicaLagSensor(
        task_id="wait_for_catch_up", green_cluster_id=GREEN, max_lag_seconds=2, **planes_kwargs
    )
    deadline = time.monotonic() + 30
    while not sensor.poke(context):
        assert time.monotonic() < deadline, "green did not catch up"
        time.sleep(0.2)

    readers = AuroraReadersOperator(
        task_id="add_readers",
        cluster_id=GREEN,
        reader_count=1,
        aws_conn_id=AWS_CONN_ID,
        deferrable=False,
        waiter_delay=0,
    ).execute(context)
    assert readers["readers"][0]["zone"] != "eu-west-1a"  # not in the writer's zone

    route53 = boto3.client("route53")
    zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="e2e")["HostedZone"]["Id"].split(
        "/"
    )[-1]
    report = CutoverOperator(
        task_id="cutover",
        blue_cluster_id=BLUE,
        green_cluster_id=GREEN,
        replication_conn_id="repl",
        repoint=f"route53:{zone_id}/db.example.com",
        **planes_kwargs,
    ).execute(context)
    assert report["rolled_back"] is False
    assert report["blue_final_position"] == report["green_executed_position"]
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    cname = next(r for r in records if r["Type"] == "CNAME")
    assert cname["ResourceRecords"] == [{"Value": sandbox.describe(GREEN).endpoint}] and cname["TTL"] == 5

    state = VerifyCutoverOperator(
        task_id="verify", blue_cluster_id=BLUE, green_cluster_id=GREEN, **planes_kwargs
    ).execute(context)
    assert state == {
        "green_writable": True,
        "green_replication_reset": True,
        "green_writable_after_reboot": True,
        "blue_read_only": True,
        "blue_took_no_writes_of_its_own": True,
    }
    with connect(GREEN, "root") as green, green.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM shop.orders WHERE request_id LIKE 'while-replicating-%'")
        assert cursor.fetchone() == (50,)
        cursor.execute("SELECT COUNT(*) FROM shop.orders WHERE request_id LIKE 'before-clone-task-%'")
        assert cursor.fetchone() == (20,)
