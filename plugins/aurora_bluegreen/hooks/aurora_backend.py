"""The control plane on AWS: ``ClusterBackend`` over Amazon RDS, through the amazon provider's ``RdsHook``.

Chosen for Airflow connections of type ``aws``. Everything this tool creates carries the tags
``managed-by=aurora-bluegreen``, ``role``, ``source-cluster`` and ``dag-run``: a retry finds its earlier
work by them, and nothing without them is ever modified or deleted.

Every input is checked against AWS before the first change, so a typo fails the task with the
field's name while blue's account is still untouched. AWS errors name the IAM action that failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_bluegreen.binlog_event import clone_point
from aurora_bluegreen.errors import (
    AwsCallFailed,
    CloneCoordinatesMissing,
    ClusterNotFound,
    ClusterStateError,
    InvalidInput,
    NotManagedByUs,
    WaitTimedOut,
)
from aurora_bluegreen.models import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    CloneCoordinates,
    CloneSpec,
    ClusterInfo,
)
from aurora_bluegreen.parameter_groups import (
    DEFAULT_GROUP_PREFIX,
    Action,
    EngineVersion,
    GroupFacts,
    GroupPlan,
    Level,
    owned_group_name,
    plan_group,
    refusal_to_modify,
)

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.rds import RdsHook
    from airflow.sdk import Connection

SOURCE_CLUSTER_TAG = "source-cluster"
GTID_MODE_PARAMETER = "gtid-mode"
_EVENT_LOOKBACK = timedelta(minutes=5)
_NOT_FOUND = frozenset(
    {
        "DBClusterNotFoundFault",
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "DBParameterGroupNotFound",
        "DBParameterGroupNotFoundFault",
        "DBClusterParameterGroupNotFound",
        "DBSubnetGroupNotFoundFault",
        "InvalidGroup.NotFound",
        "ResourceNotFound",
        "ResourceNotFoundException",
        "NoSuchHostedZone",
    }
)
_ACCESS_DENIED = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError", "NotAuthorized"}
)
_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "PriorRequestNotComplete",
    }
)
# IAM names a few services differently from their API endpoint.
_IAM_PREFIX = {"monitoring": "cloudwatch"}


def aws_call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    """``client.<operation>(**kwargs)``, with AWS errors turned into ``AwsCallFailed``."""
    try:
        return getattr(client, operation)(**kwargs)
    except (ClientError, BotoCoreError) as error:
        failure = _failure(client, operation, error)
    # Raised outside the except block: the message says all, and no request context is attached.
    raise failure


def aws_pages(client: Any, operation: str, result_key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Every item under ``result_key`` across the pages of a paginated call."""
    try:
        for page in client.get_paginator(operation).paginate(**kwargs):
            yield from page.get(result_key, [])
    except (ClientError, BotoCoreError) as error:
        failure = _failure(client, operation, error)
    else:
        return
    raise failure


def _failure(client: Any, operation: str, error: Exception) -> AwsCallFailed:
    service = client.meta.service_model.signing_name
    action = (
        f"{_IAM_PREFIX.get(service, service)}:{client.meta.method_to_api_mapping.get(operation, operation)}"
    )
    if not isinstance(error, ClientError):
        return AwsCallFailed(f"{action} failed: {error}")
    code = error.response.get("Error", {}).get("Code", "Unknown")
    message = error.response.get("Error", {}).get("Message", "")
    hint = ""
    if code in _ACCESS_DENIED:
        hint = (
            f"; the identity of the AWS connection needs {action} (docs/iam-policy.json lists every action)"
        )
    elif code in _THROTTLED:
        hint = (
            "; AWS throttled the call: retry the task, or let boto retry longer with "
            '{"config_kwargs": {"retries": {"mode": "adaptive", "max_attempts": 10}}} in the connection extra'
        )
    return AwsCallFailed(f"{action} failed: {code}: {message}{hint}", code, not_found=code in _NOT_FOUND)


def skip_unless_aws(conn_id: str | None, what: str) -> None:
    """Skip the task when its control plane is not AWS, so one DAG serves AWS and the sandbox."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowSkipException

    if conn_id and BaseHook.get_connection(conn_id).conn_type != "aws":
        raise AirflowSkipException(
            f"connection {conn_id} is not an aws connection: {what} exists only on AWS"
        )


def tag_dict(tag_list: list[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tag_list or ()}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


@dataclass(frozen=True)
class _GroupApi:
    """RDS names the same calls differently for cluster and DB parameter groups."""

    infix: str
    noun: str

    @property
    def name(self) -> str:
        return f"{self.noun}Name"

    def call(self, verb: str, plural: bool = False) -> str:
        return f"{verb}_db_{self.infix}parameter_group{'s' if plural else ''}"


_GROUP_API = {
    Level.CLUSTER: _GroupApi("cluster_", "DBClusterParameterGroup"),
    Level.INSTANCE: _GroupApi("", "DBParameterGroup"),
}


@dataclass(frozen=True)
class InstanceInfo:
    """One DB instance of a cluster, as far as placing readers is concerned."""

    instance_id: str
    cluster_id: str | None
    instance_class: str
    zone: str | None
    status: str
    is_writer: bool
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_managed(self) -> bool:
        return self.tags.get(MANAGED_BY_TAG) == MANAGED_BY_VALUE


@dataclass(frozen=True)
class _CloneSetup:
    """Everything ``clone`` needs, gathered and checked before the first change."""

    blue: dict[str, Any]
    blue_writer: dict[str, Any]
    engine: EngineVersion
    subnet_group: str
    security_groups: tuple[str, ...]
    cluster_group: GroupPlan
    instance_group: GroupPlan
    tags: dict[str, str]


class AuroraBackend:
    """Aurora MySQL clusters, cloned and managed through RDS.

    :param hook: the amazon provider's ``RdsHook``; its connection, region, ``verify`` and
        ``botocore_config`` serve every other AWS client this backend needs.
    :param waiter_delay: seconds between polls while a new clone's cluster becomes available.
    :param waiter_max_attempts: polls before that wait gives up.
    :param coordinates_timeout: seconds after the clone's writer was created by which the
        crash-recovery event must have arrived (when blue runs without GTIDs).
    :param read_only_timeout: seconds a parameter-group change of read_only may take to apply.
    """

    def __init__(
        self,
        hook: RdsHook,
        *,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 60,
        coordinates_timeout: float = 1800,
        read_only_timeout: float = 300,
    ) -> None:
        self.hook = hook
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.coordinates_timeout = coordinates_timeout
        self.read_only_timeout = read_only_timeout

    @classmethod
    def from_connection(cls, conn: Connection) -> AuroraBackend:
        """A backend for an ``aws`` connection. Its extra may tune the waits: ``waiter_delay``,
        ``waiter_max_attempts``, ``coordinates_timeout``, ``read_only_timeout`` (seconds)."""
        from airflow.providers.amazon.aws.hooks.rds import RdsHook

        extra = conn.extra_dejson
        tuning = {
            name: kind(extra[name])
            for name, kind in (
                ("waiter_delay", int),
                ("waiter_max_attempts", int),
                ("coordinates_timeout", float),
                ("read_only_timeout", float),
            )
            if name in extra
        }
        return cls(RdsHook(aws_conn_id=conn.conn_id), **tuning)

    # -- who and where ------------------------------------------------------------------------

    @property
    def rds(self) -> Any:
        return self.hook.conn

    @property
    def region(self) -> str:
        return self.hook.conn_region_name

    @property
    def aws_hook_params(self) -> dict[str, Any]:
        """The connection settings, for the other AWS hooks that act for the same deployment."""
        return {
            "aws_conn_id": self.hook.aws_conn_id,
            "region_name": self.hook.region_name,
            "verify": self.hook.verify,
            "config": self.hook.config,
        }

    def _where(self) -> str:
        return f"region {self.region} (AWS connection {self.hook.aws_conn_id!r})"

    # -- ClusterBackend -----------------------------------------------------------------------

    def find(self, cluster_id: str) -> ClusterInfo | None:
        cluster = self._cluster(cluster_id)
        return None if cluster is None else self._info(cluster)

    def describe(self, cluster_id: str) -> ClusterInfo:
        info = self.find(cluster_id)
        if info is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        return info

    def clone(self, spec: CloneSpec) -> ClusterInfo:
        """Copy-on-write clone of blue plus one writer; on a retry, finish and return the earlier one.

        Blocks until the new cluster is available (``waiter_delay`` x ``waiter_max_attempts``),
        because RDS accepts the writer only then. The writer's own start, the long part, is left
        to the caller's deferrable wait.
        """
        existing = self._cluster(spec.cluster_id)
        setup = self._check_clone(spec, existing)
        if existing is None:
            for plan in (setup.cluster_group, setup.instance_group):
                self._apply_group(plan, setup.engine, spec, setup.tags)
            self._restore(spec, setup)
        elif existing["Status"] == "deleting":
            raise InvalidInput(
                "cluster_id", spec.cluster_id, "the id of no cluster being deleted; wait or choose another id"
            )
        self.hook.wait_for_db_cluster_state(
            spec.cluster_id,
            "available",
            check_interval=self.waiter_delay,
            max_attempts=self.waiter_max_attempts,
        )
        if self._instance(spec.writer_instance_id) is None:
            self._create_writer(spec, setup)
        return self.describe(spec.cluster_id)

    def clone_coordinates(self, cluster_id: str) -> CloneCoordinates | None:
        """Blue's binlog position at the clone point, from the writer's crash-recovery event.

        With ``gtid-mode=ON`` in blue's cluster parameter group, GTID auto-position needs no
        position, so coordinates are known at once. Without it, None until the event arrives, and
        CloneCoordinatesMissing once ``coordinates_timeout`` has passed since the writer was made.
        """
        cluster = self._cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        writer_id = _writer_id(cluster)
        writer = self._instance(writer_id) if writer_id else None
        if writer is None:
            return None
        created = writer["InstanceCreateTime"]
        events = aws_pages(
            self.rds,
            "describe_events",
            "Events",
            SourceType="db-instance",
            SourceIdentifier=writer_id,
            StartTime=created - _EVENT_LOOKBACK,
        )
        point = clone_point((event.get("Date"), event.get("Message", "")) for event in events)
        if point is not None:
            when = f" at {point.date:%Y-%m-%d %H:%M:%S %Z}" if point.date else ""
            return CloneCoordinates(
                point.position, point.gtid_set, f"RDS event on {writer_id}{when}: {point.message}"
            )
        blue_id = tag_dict(cluster.get("TagList")).get(SOURCE_CLUSTER_TAG)
        gtid_group = self._gtid_mode_group(blue_id) if blue_id else None
        if gtid_group is not None:
            return CloneCoordinates(
                None,
                None,
                f"blue {blue_id} runs {GTID_MODE_PARAMETER}=ON (cluster parameter group {gtid_group}): "
                "green replicates by GTID auto-position",
            )
        waited = datetime.now(timezone.utc) - created
        if writer["DBInstanceStatus"] == "available" and waited.total_seconds() > self.coordinates_timeout:
            raise CloneCoordinatesMissing(
                f"{cluster_id}: no 'Binlog position from crash recovery' event on its writer {writer_id} "
                f"{waited.total_seconds():.0f}s after it was created, and blue {blue_id} does not set "
                f"{GTID_MODE_PARAMETER}=ON, so nothing says where green's data ends on blue. RDS keeps "
                "events for 14 days and emits them on a best-effort basis. Check blue's binlog_format is "
                f"ROW or MIXED, then delete {cluster_id} and clone again; or turn on GTID mode on blue "
                f"({GTID_MODE_PARAMETER}=ON, enforce_gtid_consistency=ON) so green can use auto-position."
            )
        return None

    def set_read_only(self, cluster_id: str, read_only: bool) -> None:
        """Switch read_only through the parameter group that holds it, and wait until it applied.

        Only a group this tool created and that no other cluster uses is written. Blue's own group
        never is: on Aurora MySQL 3.06+ the cutover freezes blue with ``mysql.rds_set_read_only``.
        """
        cluster = self._cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        engine = EngineVersion.parse(cluster["Engine"], cluster["EngineVersion"])
        level = engine.read_only_level
        if level is Level.CLUSTER:
            name = cluster["DBClusterParameterGroup"]
        else:
            writer_id = _writer_id(cluster)
            writer = self._instance(writer_id) if writer_id else None
            if writer is None:
                raise ClusterStateError(
                    f"{cluster_id} has no writer instance whose read_only could be switched"
                )
            name = writer["DBParameterGroups"][0]["DBParameterGroupName"]
        facts = self._group_facts(level, [name]).get(name)
        refusal = (
            refusal_to_modify(facts, cluster_id)
            if facts
            else f"{name} is the engine's default parameter group"
        )
        if refusal:
            raise NotManagedByUs(
                f"cannot switch read_only on {cluster_id} through its {level.value} parameter group: "
                f"{refusal}, and aurora-bluegreen never writes to such a group. On Aurora MySQL 3.06 and "
                "later the cutover uses mysql.rds_set_read_only instead (docs/aws.md)."
            )
        self._write_read_only(level, name, read_only)
        self._wait_applied(cluster_id, level, name)

    def delete(self, cluster_id: str) -> None:
        """Delete a cluster this tool made, its instances first (readers before the writer).

        Returns once RDS has accepted the deletions; it does not wait for them to finish.
        """
        cluster = self._cluster(cluster_id)
        if cluster is None:
            return
        if tag_dict(cluster.get("TagList")).get(MANAGED_BY_TAG) != MANAGED_BY_VALUE:
            raise NotManagedByUs(
                f"{cluster_id} is not tagged {MANAGED_BY_TAG}={MANAGED_BY_VALUE}: aurora-bluegreen did "
                "not create it and will not delete it"
            )
        if cluster.get("DeletionProtection"):
            raise NotManagedByUs(
                f"{cluster_id} has deletion protection on; aurora-bluegreen never turns it off"
            )
        members = sorted(cluster.get("DBClusterMembers", []), key=lambda member: member["IsClusterWriter"])
        for member in members:
            instance = self._instance(member["DBInstanceIdentifier"])
            if instance is not None and instance["DBInstanceStatus"] != "deleting":
                aws_call(self.rds, "delete_db_instance", DBInstanceIdentifier=member["DBInstanceIdentifier"])
                self.hook.log.info("Deleting instance %s of %s", member["DBInstanceIdentifier"], cluster_id)
        if cluster["Status"] != "deleting":
            aws_call(self.rds, "delete_db_cluster", DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
            self.hook.log.info("Deleting cluster %s (no final snapshot: it is a clone of blue)", cluster_id)

    def list_clusters(self, tags: Mapping[str, str]) -> list[ClusterInfo]:
        """Every cluster in the region that carries all of ``tags``, in any status."""
        wanted = dict(tags)
        return [
            self._info(cluster)
            for cluster in aws_pages(self.rds, "describe_db_clusters", "DBClusters")
            if wanted.items() <= tag_dict(cluster.get("TagList")).items()
        ]

    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None:
        cluster = self._cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        if tag_dict(cluster.get("TagList")).get(MANAGED_BY_TAG) != MANAGED_BY_VALUE:
            raise NotManagedByUs(
                f"{cluster_id} was not created by aurora-bluegreen; its tags stay as they are"
            )
        aws_call(self.rds, "add_tags_to_resource", ResourceName=cluster["DBClusterArn"], Tags=tag_list(tags))

    # -- readers and credentials --------------------------------------------------------------

    def instances(self, cluster_id: str) -> list[InstanceInfo]:
        cluster = self._cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        writers = {
            m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m["IsClusterWriter"]
        }
        return [
            _instance_info(instance, writers)
            for instance in aws_pages(
                self.rds,
                "describe_db_instances",
                "DBInstances",
                Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}],
            )
        ]

    def find_instance(self, instance_id: str) -> InstanceInfo | None:
        instance = self._instance(instance_id)
        if instance is None:
            return None
        cluster = (
            self._cluster(instance["DBClusterIdentifier"]) if instance.get("DBClusterIdentifier") else None
        )
        writers = {
            m["DBInstanceIdentifier"]
            for m in (cluster or {}).get("DBClusterMembers", [])
            if m["IsClusterWriter"]
        }
        return _instance_info(instance, writers)

    def subnet_zones(self, cluster_id: str) -> list[str]:
        """The Availability Zones the cluster's DB subnet group covers, sorted."""
        cluster = self._cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        group = aws_call(self.rds, "describe_db_subnet_groups", DBSubnetGroupName=cluster["DBSubnetGroup"])
        subnets = group["DBSubnetGroups"][0]["Subnets"]
        return sorted({subnet["SubnetAvailabilityZone"]["Name"] for subnet in subnets})

    def add_reader(
        self, cluster_id: str, instance_id: str, instance_class: str, zone: str, tags: Mapping[str, str]
    ) -> None:
        cluster = self._cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        aws_call(
            self.rds,
            "create_db_instance",
            DBInstanceIdentifier=instance_id,
            DBClusterIdentifier=cluster_id,
            Engine=cluster["Engine"],
            DBInstanceClass=instance_class,
            AvailabilityZone=zone,
            Tags=tag_list({**tags, MANAGED_BY_TAG: MANAGED_BY_VALUE}),
        )

    def master_user_credentials(self, cluster_id: str, secret_arn: str) -> tuple[str, str]:
        """Login and password of a master user whose password RDS manages in Secrets Manager.

        Only the secret RDS reports for this cluster is read, so a connection cannot be pointed at
        an arbitrary secret.
        """
        from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook

        cluster = self._cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self._where()}")
        managed = (cluster.get("MasterUserSecret") or {}).get("SecretArn")
        if secret_arn != managed:
            rule = f"the ARN of the master-user secret RDS manages for {cluster_id}" + (
                f" ({managed})" if managed else "; RDS manages no master password for it"
            )
            raise InvalidInput("master_user_secret_arn", secret_arn, rule)
        secrets = SecretsManagerHook(**self.aws_hook_params).conn
        secret = aws_call(secrets, "get_secret_value", SecretId=secret_arn)
        values = json.loads(secret["SecretString"])
        return values["username"], values["password"]

    # -- what clone checks before it changes anything -----------------------------------------

    def _check_clone(self, spec: CloneSpec, existing: dict[str, Any] | None) -> _CloneSetup:
        blue = self._cluster(spec.source_cluster_id)
        if blue is None:
            raise InvalidInput(
                "source_cluster_id",
                spec.source_cluster_id,
                f"an existing Aurora MySQL cluster in {self._where()}",
            )
        try:
            engine = EngineVersion.parse(blue["Engine"], blue["EngineVersion"])
        except ValueError as error:
            raise InvalidInput(
                "source_cluster_id", spec.source_cluster_id, f"an Aurora MySQL cluster ({error})"
            ) from None
        blue_writer_id = _writer_id(blue)
        blue_writer = self._instance(blue_writer_id) if blue_writer_id else None
        if blue_writer is None:
            raise InvalidInput(
                "source_cluster_id", spec.source_cluster_id, "a cluster with a writer instance (it has none)"
            )
        if existing is not None:
            self._check_ours(spec, existing)
        writer = self._instance(spec.writer_instance_id)
        if writer is not None and writer.get("DBClusterIdentifier") != spec.cluster_id:
            raise InvalidInput(
                "writer_instance_id",
                spec.writer_instance_id,
                "an instance id no other instance uses "
                f"(it belongs to {writer.get('DBClusterIdentifier') or 'no cluster'})",
            )
        subnet_group = spec.db_subnet_group or blue["DBSubnetGroup"]
        vpc = self._subnet_group_vpc(subnet_group)
        security_groups = spec.vpc_security_group_ids or tuple(
            group["VpcSecurityGroupId"] for group in blue.get("VpcSecurityGroups", [])
        )
        if spec.vpc_security_group_ids:
            self._check_security_groups(spec.vpc_security_group_ids, vpc)
        blue_groups = {
            Level.CLUSTER: blue.get("DBClusterParameterGroup"),
            Level.INSTANCE: blue_writer["DBParameterGroups"][0]["DBParameterGroupName"],
        }
        requested = {
            Level.CLUSTER: spec.cluster_parameter_group,
            Level.INSTANCE: spec.instance_parameter_group,
        }
        plans = {}
        for level, name in requested.items():
            names = [n for n in (name, blue_groups[level], owned_group_name(spec.cluster_id, level)) if n]
            plans[level] = plan_group(
                level=level,
                field=f"{level.value}_parameter_group",
                requested=name,
                engine=engine,
                green_cluster_id=spec.cluster_id,
                blue_cluster_id=spec.source_cluster_id,
                blue_group=blue_groups[level],
                groups=self._group_facts(level, names),
            )
            self.hook.log.info(
                "Green's %s parameter group: %s (%s)", level.value, plans[level].name, plans[level].reason
            )
        tags = {**spec.tags, MANAGED_BY_TAG: MANAGED_BY_VALUE, SOURCE_CLUSTER_TAG: spec.source_cluster_id}
        return _CloneSetup(
            blue=blue,
            blue_writer=blue_writer,
            engine=engine,
            subnet_group=subnet_group,
            security_groups=tuple(security_groups),
            cluster_group=plans[Level.CLUSTER],
            instance_group=plans[Level.INSTANCE],
            tags=tags,
        )

    def _check_ours(self, spec: CloneSpec, existing: dict[str, Any]) -> None:
        tags = tag_dict(existing.get("TagList"))
        if tags.get(MANAGED_BY_TAG) != MANAGED_BY_VALUE:
            raise NotManagedByUs(
                f"cluster_id={spec.cluster_id!r} names an existing cluster that aurora-bluegreen did not "
                "create; choose another id"
            )
        if tags.get(SOURCE_CLUSTER_TAG) != spec.source_cluster_id:
            raise InvalidInput(
                "cluster_id",
                spec.cluster_id,
                f"a clone of {spec.source_cluster_id} (the existing {spec.cluster_id} is a clone of "
                f"{tags.get(SOURCE_CLUSTER_TAG)})",
            )

    def _subnet_group_vpc(self, name: str) -> str:
        try:
            response = aws_call(self.rds, "describe_db_subnet_groups", DBSubnetGroupName=name)
        except AwsCallFailed as error:
            if error.not_found:
                raise InvalidInput(
                    "db_subnet_group", name, f"an existing DB subnet group in {self._where()}"
                ) from None
            raise
        return response["DBSubnetGroups"][0]["VpcId"]

    def _check_security_groups(self, group_ids: tuple[str, ...], vpc: str) -> None:
        from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook

        ec2 = EC2Hook(api_type="client_type", **self.aws_hook_params).conn
        try:
            groups = aws_call(ec2, "describe_security_groups", GroupIds=list(group_ids))["SecurityGroups"]
        except AwsCallFailed as error:
            if error.not_found:
                raise InvalidInput(
                    "vpc_security_group_ids",
                    list(group_ids),
                    f"existing VPC security groups in {self._where()}",
                ) from None
            raise
        elsewhere = sorted(group["GroupId"] for group in groups if group.get("VpcId") != vpc)
        if elsewhere:
            raise InvalidInput(
                "vpc_security_group_ids",
                list(group_ids),
                f"security groups of the subnet group's VPC {vpc} ({', '.join(elsewhere)} are not)",
            )

    def _group_facts(self, level: Level, names: list[str]) -> dict[str, GroupFacts]:
        """Facts of those of ``names`` that exist; default groups count as existing only if RDS lists them."""
        api = _GROUP_API[level]
        found = {}
        for name in dict.fromkeys(names):
            try:
                response = aws_call(self.rds, api.call("describe", plural=True), **{api.name: name})
            except AwsCallFailed as error:
                if error.not_found:
                    continue
                raise
            # AWS answers an unknown name with an error; moto with an empty list.
            if not response[f"{api.noun}s"]:
                continue
            group = response[f"{api.noun}s"][0]
            tags = tag_dict(
                aws_call(self.rds, "list_tags_for_resource", ResourceName=group[f"{api.noun}Arn"])["TagList"]
            )
            found[name] = (group["DBParameterGroupFamily"], tags.get(MANAGED_BY_TAG) == MANAGED_BY_VALUE)
        if not found:
            return {}
        users = self._group_users(level)
        return {
            name: GroupFacts(name, family, managed, frozenset(users.get(name, ())))
            for name, (family, managed) in found.items()
        }

    def _group_users(self, level: Level) -> dict[str, set[str]]:
        """Which clusters use each parameter group of ``level``, across the whole region."""
        users: dict[str, set[str]] = {}
        if level is Level.CLUSTER:
            for cluster in aws_pages(self.rds, "describe_db_clusters", "DBClusters"):
                users.setdefault(cluster.get("DBClusterParameterGroup"), set()).add(
                    cluster["DBClusterIdentifier"]
                )
            return users
        for instance in aws_pages(self.rds, "describe_db_instances", "DBInstances"):
            owner = instance.get("DBClusterIdentifier") or instance["DBInstanceIdentifier"]
            for group in instance.get("DBParameterGroups", []):
                users.setdefault(group["DBParameterGroupName"], set()).add(owner)
        return users

    # -- the changes --------------------------------------------------------------------------

    def _apply_group(
        self, plan: GroupPlan, engine: EngineVersion, spec: CloneSpec, tags: Mapping[str, str]
    ) -> None:
        if not plan.writes_read_only:
            return
        api = _GROUP_API[plan.level]
        description = f"aurora-bluegreen: read_only of {spec.cluster_id}, a clone of {spec.source_cluster_id}"
        if plan.action is Action.CREATE:
            aws_call(
                self.rds,
                api.call("create"),
                **{api.name: plan.name},
                DBParameterGroupFamily=engine.family,
                Description=description,
                Tags=tag_list(tags),
            )
        elif plan.action is Action.COPY:
            aws_call(
                self.rds,
                api.call("copy"),
                **{
                    f"Source{api.noun}Identifier": plan.source,
                    f"Target{api.noun}Identifier": plan.name,
                    f"Target{api.noun}Description": description,
                },
                Tags=tag_list(tags),
            )
        self._write_read_only(plan.level, plan.name, spec.read_only)
        self.hook.log.info(
            "%s %s parameter group %s: read_only=%d",
            plan.action.value,
            plan.level.value,
            plan.name,
            spec.read_only,
        )

    def _write_read_only(self, level: Level, name: str, read_only: bool) -> None:
        parameter = {
            "ParameterName": "read_only",
            "ParameterValue": str(int(read_only)),
            "ApplyMethod": "immediate",
        }
        api = _GROUP_API[level]
        aws_call(self.rds, api.call("modify"), **{api.name: name}, Parameters=[parameter])

    def _wait_applied(self, cluster_id: str, level: Level, name: str) -> None:
        """Wait until every instance of the cluster reports the group's change as applied."""

        def applied() -> bool:
            cluster = self._cluster(cluster_id) or {}
            if level is Level.CLUSTER:
                return all(
                    member.get("DBClusterParameterGroupStatus") == "in-sync"
                    for member in cluster.get("DBClusterMembers", [])
                )
            for member in cluster.get("DBClusterMembers", []):
                instance = self._instance(member["DBInstanceIdentifier"]) or {}
                statuses = [
                    group.get("ParameterApplyStatus")
                    for group in instance.get("DBParameterGroups", [])
                    if group["DBParameterGroupName"] == name
                ]
                if any(status != "in-sync" for status in statuses):
                    return False
            return True

        _wait_until(applied, self.read_only_timeout, f"read_only in {name} to apply on {cluster_id}")

    def _restore(self, spec: CloneSpec, setup: _CloneSetup) -> None:
        arguments: dict[str, Any] = {
            "SourceDBClusterIdentifier": spec.source_cluster_id,
            "DBClusterIdentifier": spec.cluster_id,
            "RestoreType": "copy-on-write",
            "UseLatestRestorableTime": True,
            "DBSubnetGroupName": setup.subnet_group,
            "VpcSecurityGroupIds": list(setup.security_groups),
            "Port": setup.blue["Port"],
            "Tags": tag_list(setup.tags),
            "DeletionProtection": False,
        }
        if setup.cluster_group.name:
            arguments["DBClusterParameterGroupName"] = setup.cluster_group.name
        aws_call(self.rds, "restore_db_cluster_to_point_in_time", **arguments)
        self.hook.log.info(
            "Cloning %s into %s (copy-on-write, subnet group %s, security groups %s)",
            spec.source_cluster_id,
            spec.cluster_id,
            setup.subnet_group,
            ", ".join(setup.security_groups),
        )

    def _create_writer(self, spec: CloneSpec, setup: _CloneSetup) -> None:
        blue_writer = setup.blue_writer
        arguments: dict[str, Any] = {
            "DBInstanceIdentifier": spec.writer_instance_id,
            "DBClusterIdentifier": spec.cluster_id,
            "Engine": setup.blue["Engine"],
            "DBInstanceClass": blue_writer["DBInstanceClass"],
            "PubliclyAccessible": bool(blue_writer.get("PubliclyAccessible", False)),
            "Tags": tag_list(setup.tags),
        }
        if blue_writer.get("AvailabilityZone"):
            arguments["AvailabilityZone"] = blue_writer["AvailabilityZone"]
        if setup.instance_group.name:
            arguments["DBParameterGroupName"] = setup.instance_group.name
        aws_call(self.rds, "create_db_instance", **arguments)
        self.hook.log.info(
            "Creating writer %s of %s (%s in %s, like blue's writer)",
            spec.writer_instance_id,
            spec.cluster_id,
            arguments["DBInstanceClass"],
            arguments.get("AvailabilityZone", "any zone"),
        )

    # -- lookups ------------------------------------------------------------------------------

    def _cluster(self, cluster_id: str) -> dict[str, Any] | None:
        try:
            return aws_call(self.rds, "describe_db_clusters", DBClusterIdentifier=cluster_id)["DBClusters"][0]
        except AwsCallFailed as error:
            if error.not_found:
                return None
            raise

    def _instance(self, instance_id: str) -> dict[str, Any] | None:
        try:
            return aws_call(self.rds, "describe_db_instances", DBInstanceIdentifier=instance_id)[
                "DBInstances"
            ][0]
        except AwsCallFailed as error:
            if error.not_found:
                return None
            raise

    def _gtid_mode_group(self, blue_id: str) -> str | None:
        """Blue's cluster parameter group if it sets gtid-mode=ON, else None."""
        blue = self._cluster(blue_id)
        group = (blue or {}).get("DBClusterParameterGroup")
        if not group or group.startswith(DEFAULT_GROUP_PREFIX):
            return None
        parameters = aws_pages(
            self.rds,
            "describe_db_cluster_parameters",
            "Parameters",
            DBClusterParameterGroupName=group,
            Source="user",
        )
        for parameter in parameters:
            if parameter.get("ParameterName") == GTID_MODE_PARAMETER:
                return group if str(parameter.get("ParameterValue", "")).upper() == "ON" else None
        return None

    def _info(self, cluster: dict[str, Any]) -> ClusterInfo:
        writer_id = _writer_id(cluster)
        status = cluster["Status"]
        if status == "available":
            # A clone is usable only once its writer is: report the writer's state until then.
            writer = self._instance(writer_id) if writer_id else None
            status = "no-writer" if writer is None else writer["DBInstanceStatus"]
        return ClusterInfo(
            cluster_id=cluster["DBClusterIdentifier"],
            status=status,
            endpoint=cluster.get("Endpoint"),
            port=cluster.get("Port"),
            writer_instance_id=writer_id,
            tags=tag_dict(cluster.get("TagList")),
        )


def _writer_id(cluster: Mapping[str, Any]) -> str | None:
    return next(
        (m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m["IsClusterWriter"]), None
    )


def _instance_info(instance: Mapping[str, Any], writers: set[str]) -> InstanceInfo:
    return InstanceInfo(
        instance_id=instance["DBInstanceIdentifier"],
        cluster_id=instance.get("DBClusterIdentifier"),
        instance_class=instance["DBInstanceClass"],
        zone=instance.get("AvailabilityZone"),
        status=instance["DBInstanceStatus"],
        is_writer=instance["DBInstanceIdentifier"] in writers,
        tags=tag_dict(instance.get("TagList")),
    )


def _wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise WaitTimedOut(f"waited {timeout:.0f}s for {what}")
        time.sleep(interval)
