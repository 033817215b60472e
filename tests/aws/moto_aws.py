"""Helpers for the moto-backed AWS tests: blue as production has it, and the responses moto lacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.stub import Stubber

from aurora_bluegreen.models import CloneSpec

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
ZONES = ("eu-west-1a", "eu-west-1b", "eu-west-1c")
AWS_CONN_ID = "aws_test"
AURORA3 = "8.0.mysql_aurora.3.06.0"
AURORA2 = "5.7.mysql_aurora.2.11.2"


@dataclass(frozen=True)
class Network:
    vpc_id: str
    subnet_group: str
    security_group: str
    other_vpc_security_group: str


@dataclass(frozen=True)
class Blue:
    cluster_id: str
    writer_id: str
    cluster_parameter_group: str
    instance_parameter_group: str
    engine_version: str
    family: str


class OperationStubber(Stubber):
    """botocore's Stubber, narrowed to one operation of a client: every other call still reaches moto.

    Moto never produces some responses (the clone's crash-recovery event); a test supplies exactly
    those, and nothing else is faked.
    """

    def __init__(self, client: Any, method: str) -> None:
        super().__init__(client)
        service = client.meta.service_model.service_id.hyphenize()
        operation = client.meta.method_to_api_mapping[method]
        self._build_event = f"before-parameter-build.{service}.{operation}"
        self._call_event = f"before-call.{service}.{operation}"

    def activate(self) -> None:
        events = self.client.meta.events
        events.register_first(
            self._build_event, self._assert_expected_params, unique_id=self._expected_params_event_id
        )
        events.register(self._call_event, self._get_response_handler, unique_id=self._event_id)

    def deactivate(self) -> None:
        events = self.client.meta.events
        events.unregister(
            self._build_event, self._assert_expected_params, unique_id=self._expected_params_event_id
        )
        events.unregister(self._call_event, self._get_response_handler, unique_id=self._event_id)


def crash_recovery_events(writer_id: str, message: str, count: int = 1) -> list[dict[str, Any]]:
    """``describe_events`` responses holding the one event moto never emits."""
    event = {
        "SourceIdentifier": writer_id,
        "SourceType": "db-instance",
        "Message": message,
        "EventCategories": ["notification"],
        "Date": datetime.now(timezone.utc),
    }
    return [{"Events": [event]} for _ in range(count)]


def create_blue(
    rds: Any,
    network: Network,
    engine_version: str = AURORA3,
    cluster_id: str = "blue",
    default_cluster_group: bool = False,
) -> Blue:
    """A blue as production has it: custom parameter groups (binlog on), one writer in zone a.

    With ``default_cluster_group`` the cluster uses the engine's default cluster parameter group
    (moto names it ``default.aurora8.0``); its own custom group is made but left unused.
    """
    family = "aurora-mysql8.0" if engine_version.startswith("8.") else "aurora-mysql5.7"
    cluster_group, instance_group = f"{cluster_id}-cluster-params", f"{cluster_id}-instance-params"
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName=cluster_group, DBParameterGroupFamily=family, Description="blue's"
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=cluster_group,
        Parameters=[
            {"ParameterName": "binlog_format", "ParameterValue": "ROW", "ApplyMethod": "pending-reboot"}
        ],
    )
    rds.create_db_parameter_group(
        DBParameterGroupName=instance_group, DBParameterGroupFamily=family, Description="blue's"
    )
    rds.create_db_cluster(
        DBClusterIdentifier=cluster_id,
        Engine="aurora-mysql",
        EngineVersion=engine_version,
        MasterUsername="admin",
        MasterUserPassword="not-a-real-secret",
        DBSubnetGroupName=network.subnet_group,
        VpcSecurityGroupIds=[network.security_group],
        **({} if default_cluster_group else {"DBClusterParameterGroupName": cluster_group}),
        Port=3306,
        Tags=[{"Key": "team", "Value": "payments"}],
    )
    writer_id = f"{cluster_id}-writer"
    rds.create_db_instance(
        DBInstanceIdentifier=writer_id,
        DBClusterIdentifier=cluster_id,
        Engine="aurora-mysql",
        DBInstanceClass="db.r6g.large",
        AvailabilityZone=ZONES[0],
        DBParameterGroupName=instance_group,
    )
    return Blue(cluster_id, writer_id, cluster_group, instance_group, engine_version, family)


class FakeTaskInstance:
    """Collects what operators push to XCom (extra links), without a metadata database."""

    def __init__(self) -> None:
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def parameters(rds: Any, group: str, level: str) -> dict[str, str]:
    """The parameters set in a group (moto lists only the ones changed from the defaults)."""
    if level == "cluster":
        listed = rds.describe_db_cluster_parameters(DBClusterParameterGroupName=group)["Parameters"]
    else:
        listed = rds.describe_db_parameters(DBParameterGroupName=group)["Parameters"]
    return {p["ParameterName"]: p["ParameterValue"] for p in listed}


def tags_of(rds: Any, arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def clone_spec(blue: Blue, **overrides: Any) -> CloneSpec:
    """What CloneClusterOperator hands the backend, tags included."""
    values = {
        "source_cluster_id": blue.cluster_id,
        "cluster_id": "green",
        "writer_instance_id": "green-writer",
        "tags": {
            "managed-by": "aurora-bluegreen",
            "role": "green",
            "source-cluster": blue.cluster_id,
            "dag-run": "manual__1",
        },
    }
    return CloneSpec(**{**values, **overrides})


def freeze_group_arn(level: str, name: str) -> dict[str, str]:
    """docs/iam-policy.json's placeholder that opens its optional freeze statement on blue's group
    ``name`` at ``level`` (``cluster`` on Aurora 3, ``instance`` on 2), for ``policy_values``."""
    kind = "cluster-pg" if level == "cluster" else "pg"
    return {"BLUE-READ-ONLY-PARAMETER-GROUP-ARN": f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"}
