"""Green on AWS: a copy-on-write clone of blue plus one writer, every input checked before the first change.

A typo (a subnet group, a security group in another VPC, an instance id taken by another cluster)
fails with the field's name while nothing in the account has changed. A retry finds the clone it
made earlier by its tags and finishes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aurora_bluegreen.control_plane.aurora_parameter_groups import ParameterGroups
from aurora_bluegreen.control_plane.aws_calls import tag_dict, tag_list
from aurora_bluegreen.control_plane.rds import Rds
from aurora_bluegreen.errors import AwsCallFailed, InvalidInput
from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.ownership import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    REPLICATES_TAG,
    SOURCE_CLUSTER_TAG,
    require_reusable,
)
from aurora_bluegreen.parameter_groups import (
    EngineVersion,
    GroupPlan,
    Level,
    enhanced_binlog_refusal,
    owned_group_name,
    plan_group,
)

# RestoreDBClusterToPointInTime's ServerlessV2ScalingConfiguration fields.
_SCALING_FIELDS = ("MinCapacity", "MaxCapacity", "SecondsUntilAutoPause")


@dataclass(frozen=True)
class CloneSetup:
    """Everything a clone needs, gathered and checked before the first change."""

    blue: dict[str, Any]
    blue_writer: dict[str, Any]
    engine: EngineVersion
    subnet_group: str
    security_groups: tuple[str, ...]
    cluster_group: GroupPlan
    instance_group: GroupPlan
    tags: dict[str, str]
    binlog: dict[str, str]
    """The binlog settings a new cluster group for green is given (read before any change)."""


class CloneMaker:
    """:param waiter_delay: seconds between polls while a new clone's cluster becomes available.
    :param waiter_max_attempts: polls before that wait gives up."""

    def __init__(
        self, rds: Rds, groups: ParameterGroups, waiter_delay: int, waiter_max_attempts: int
    ) -> None:
        self.rds = rds
        self.groups = groups
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def clone(self, spec: CloneSpec) -> None:
        """Copy-on-write clone of blue plus one writer; on a retry, finish the earlier one.

        Blocks until the new cluster is available (``waiter_delay`` x ``waiter_max_attempts``),
        because RDS accepts the writer only then. The writer's own start, the long part, is left
        to the caller's deferrable wait.

        A parameter group made for green settles first (``ParameterGroups.settle``), right before the
        first call that uses it: the restore for the cluster group, the writer for a DB group. That
        wait blocks too, and may: it is of the same order as the cluster wait this task already
        holds a worker for, it happens once per group (a retry waits only what its ``created-at``
        tag says is left), and no later step may start before it ends.
        """
        existing = self.rds.cluster(spec.cluster_id)
        setup = self.check(spec, existing)
        plans = (setup.cluster_group, setup.instance_group)
        created = {plan.level: plan.created_at for plan in plans}
        if existing is None:
            for plan in plans:
                created[plan.level] = self.groups.apply(plan, setup.engine, spec, setup.tags, setup.binlog)
            self.groups.settle(setup.cluster_group, created[Level.CLUSTER])
            self._restore(spec, setup)
        elif existing["Status"] == "deleting":
            raise InvalidInput(
                "cluster_id", spec.cluster_id, "the id of no cluster being deleted; wait or choose another id"
            )
        self.rds.hook.wait_for_db_cluster_state(
            spec.cluster_id,
            "available",
            check_interval=self.waiter_delay,
            max_attempts=self.waiter_max_attempts,
        )
        if self.rds.instance(spec.writer_instance_id) is None:
            self.groups.settle(setup.instance_group, created[Level.INSTANCE])
            self._create_writer(spec, setup)

    def check(self, spec: CloneSpec, existing: dict[str, Any] | None) -> CloneSetup:
        blue, engine, blue_writer = self._check_blue(spec)
        if existing is not None:
            require_reusable(
                "cluster_id", spec.cluster_id, tag_dict(existing.get("TagList")), spec.source_cluster_id
            )
        writer = self.rds.instance(spec.writer_instance_id)
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
        plans = self._plan_groups(spec, engine, blue, blue_writer)
        binlog_source = plans[Level.CLUSTER].binlog_source
        tags = {**spec.tags, MANAGED_BY_TAG: MANAGED_BY_VALUE, SOURCE_CLUSTER_TAG: spec.source_cluster_id}
        return CloneSetup(
            blue=blue,
            blue_writer=blue_writer,
            engine=engine,
            subnet_group=subnet_group,
            security_groups=tuple(security_groups),
            cluster_group=plans[Level.CLUSTER],
            instance_group=plans[Level.INSTANCE],
            tags=tags,
            binlog=self.groups.binlog_settings(binlog_source) if binlog_source else {},
        )

    def _check_blue(self, spec: CloneSpec) -> tuple[dict[str, Any], EngineVersion, dict[str, Any]]:
        blue = self.rds.cluster(spec.source_cluster_id)
        if blue is None:
            raise InvalidInput(
                "source_cluster_id",
                spec.source_cluster_id,
                f"an existing Aurora MySQL cluster in {self.rds.where()}",
            )
        try:
            engine = EngineVersion.parse(blue["Engine"], blue["EngineVersion"])
        except ValueError as error:
            raise InvalidInput(
                "source_cluster_id", spec.source_cluster_id, f"an Aurora MySQL cluster ({error})"
            ) from None
        blue_writer = self.rds.writer(blue)
        if blue_writer is None:
            raise InvalidInput(
                "source_cluster_id", spec.source_cluster_id, "a cluster with a writer instance (it has none)"
            )
        # Only a clone that will replicate needs blue's binlog coordinates; a QA still copy does not.
        if spec.tags.get(REPLICATES_TAG) != "false":
            group = blue.get("DBClusterParameterGroup") or ""
            refusal = enhanced_binlog_refusal(group, self.groups.user_parameters(group)) if group else None
            if refusal:
                raise InvalidInput("source_cluster_id", spec.source_cluster_id, refusal)
        return blue, engine, blue_writer

    def _plan_groups(
        self, spec: CloneSpec, engine: EngineVersion, blue: dict[str, Any], blue_writer: dict[str, Any]
    ) -> dict[Level, GroupPlan]:
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
                groups=self.groups.facts(level, names),
            )
            self.rds.log.info(
                "Green's %s parameter group: %s (%s)", level.value, plans[level].name, plans[level].reason
            )
        return plans

    def _subnet_group_vpc(self, name: str) -> str:
        try:
            response = self.rds.call("describe_db_subnet_groups", DBSubnetGroupName=name)
        except AwsCallFailed as error:
            if error.not_found:
                raise InvalidInput(
                    "db_subnet_group", name, f"an existing DB subnet group in {self.rds.where()}"
                ) from None
            raise
        return response["DBSubnetGroups"][0]["VpcId"]

    def _check_security_groups(self, group_ids: tuple[str, ...], vpc: str) -> None:
        from airflow.providers.amazon.aws.hooks.ec2 import EC2Hook

        from aurora_bluegreen.control_plane.aws_calls import aws_call

        ec2 = EC2Hook(api_type="client_type", **self.rds.aws_hook_params).conn
        try:
            groups = aws_call(ec2, "describe_security_groups", GroupIds=list(group_ids))["SecurityGroups"]
        except AwsCallFailed as error:
            if error.not_found:
                raise InvalidInput(
                    "vpc_security_group_ids",
                    list(group_ids),
                    f"existing VPC security groups in {self.rds.where()}",
                ) from None
            raise
        elsewhere = sorted(group["GroupId"] for group in groups if group.get("VpcId") != vpc)
        if elsewhere:
            raise InvalidInput(
                "vpc_security_group_ids",
                list(group_ids),
                f"security groups of the subnet group's VPC {vpc} ({', '.join(elsewhere)} are not)",
            )

    def _restore(self, spec: CloneSpec, setup: CloneSetup) -> None:
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
        scaling = _serverless_v2_scaling(setup.blue)
        if scaling:
            arguments["ServerlessV2ScalingConfiguration"] = scaling
        self.rds.call("restore_db_cluster_to_point_in_time", **arguments)
        self.rds.log.info(
            "Cloning %s into %s (copy-on-write, subnet group %s, security groups %s)",
            spec.source_cluster_id,
            spec.cluster_id,
            setup.subnet_group,
            ", ".join(setup.security_groups),
        )

    def _create_writer(self, spec: CloneSpec, setup: CloneSetup) -> None:
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
        self.rds.call("create_db_instance", **arguments)
        self.rds.log.info(
            "Creating writer %s of %s (%s in %s, like blue's writer)",
            spec.writer_instance_id,
            spec.cluster_id,
            arguments["DBInstanceClass"],
            arguments.get("AvailabilityZone", "any zone"),
        )


def _serverless_v2_scaling(blue: dict[str, Any]) -> dict[str, Any]:
    """Blue's Aurora Serverless v2 scaling, for its clone; empty for a provisioned-only blue.

    Without it no db.serverless instance can be added to the clone, so green could not get a
    writer of blue's writer's class where that is db.serverless
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.Managing.Clone.html:
    "If you don't specify this parameter, you can't create any Aurora Serverless v2 instances in the
    clone cluster"); AWS does not say that a clone inherits it. The response's fields are the
    request's, but only those the request accepts are passed.
    """
    scaling = blue.get("ServerlessV2ScalingConfiguration") or {}
    return {key: scaling[key] for key in _SCALING_FIELDS if scaling.get(key) is not None}
