"""The control plane on AWS: ``ClusterBackend`` over Amazon RDS, through the amazon provider's ``RdsHook``.

Chosen for Airflow connections of type ``aws``. Made of parts with one job each: ``Rds`` (lookups),
``CloneMaker`` (green, checked before the first change), ``ParameterGroups`` (the only group
writes). Nothing without the ownership tags (``aurora_bluegreen.ownership``) is modified or deleted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from aurora_bluegreen.binlog_event import clone_point
from aurora_bluegreen.control_plane.aurora_clone import CloneMaker
from aurora_bluegreen.control_plane.aurora_parameter_groups import ParameterGroups
from aurora_bluegreen.control_plane.aurora_upgrade import EngineUpgrader
from aurora_bluegreen.control_plane.aws_calls import aws_call, aws_pages, tag_dict, tag_list
from aurora_bluegreen.control_plane.rds import Rds, writer_id_of
from aurora_bluegreen.errors import CloneCoordinatesMissing, ClusterNotFound, ClusterStateError, InvalidInput
from aurora_bluegreen.models import CloneCoordinates, CloneSpec, ClusterInfo, InstanceInfo, ParameterStatus
from aurora_bluegreen.ownership import MANAGED_BY_TAG, MANAGED_BY_VALUE, SOURCE_CLUSTER_TAG, require_ours

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.rds import RdsHook
    from airflow.sdk import Connection

GTID_MODE_PARAMETER = "gtid-mode"
_EVENT_LOOKBACK = timedelta(minutes=5)


class AuroraBackend:
    """Aurora MySQL clusters, cloned and managed through RDS.

    :param hook: the amazon provider's ``RdsHook``; its connection, region, ``verify`` and
        ``botocore_config`` serve every other AWS client this backend needs.
    :param waiter_delay: seconds between polls while a new clone's cluster becomes available.
    :param waiter_max_attempts: polls before that wait gives up.
    :param coordinates_timeout: seconds after the clone's writer was created by which the
        crash-recovery event must have arrived (when blue runs without GTIDs).
    :param read_only_timeout: seconds a parameter-group change of read_only may take to apply.
    :param parameter_group_settle_seconds: seconds between creating green's own parameter group and
        the first cluster or instance that uses it (AWS advises at least 5 minutes).
    """

    def __init__(
        self,
        hook: RdsHook,
        *,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 60,
        coordinates_timeout: float = 1800,
        read_only_timeout: float = 300,
        parameter_group_settle_seconds: float = 300,
    ) -> None:
        self.hook = hook
        self.rds = Rds(hook)
        self.groups = ParameterGroups(self.rds, read_only_timeout, parameter_group_settle_seconds)
        self.clones = CloneMaker(self.rds, self.groups, waiter_delay, waiter_max_attempts)
        self.upgrades = EngineUpgrader(self.rds, self.groups)
        self.coordinates_timeout = coordinates_timeout

    @classmethod
    def from_connection(cls, conn: Connection) -> AuroraBackend:
        """A backend for an ``aws`` connection. Its extra may tune the waits: ``waiter_delay``,
        ``waiter_max_attempts``, ``coordinates_timeout``, ``read_only_timeout``,
        ``parameter_group_settle_seconds`` (seconds)."""
        from airflow.providers.amazon.aws.hooks.rds import RdsHook

        extra = conn.extra_dejson
        tuning = {
            name: kind(extra[name])
            for name, kind in (
                ("waiter_delay", int),
                ("waiter_max_attempts", int),
                ("coordinates_timeout", float),
                ("read_only_timeout", float),
                ("parameter_group_settle_seconds", float),
            )
            if name in extra
        }
        return cls(RdsHook(aws_conn_id=conn.conn_id), **tuning)

    @property
    def aws_hook_params(self) -> dict[str, Any]:
        """The connection settings, for the other AWS hooks that act for the same deployment."""
        return self.rds.aws_hook_params

    # -- ClusterBackend -----------------------------------------------------------------------

    def find(self, cluster_id: str) -> ClusterInfo | None:
        cluster = self.rds.cluster(cluster_id)
        return None if cluster is None else self._info(cluster)

    def describe(self, cluster_id: str) -> ClusterInfo:
        info = self.find(cluster_id)
        if info is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self.rds.where()}")
        return info

    def clone(self, spec: CloneSpec) -> ClusterInfo:
        self.clones.clone(spec)
        return self.describe(spec.cluster_id)

    def clone_coordinates(self, cluster_id: str) -> CloneCoordinates | None:
        """Blue's binlog position at the clone point, from the writer's crash-recovery event.

        With ``gtid-mode=ON`` in blue's cluster parameter group, GTID auto-position needs no
        position, so coordinates are known at once. Without it, None until the event arrives, and
        CloneCoordinatesMissing once ``coordinates_timeout`` has passed since the writer was made.
        """
        cluster = self.rds.require_cluster(cluster_id)
        writer = self.rds.writer(cluster)
        if writer is None:
            return None
        writer_id = writer["DBInstanceIdentifier"]
        created = writer["InstanceCreateTime"]
        events = aws_pages(
            self.rds.client,
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

    def set_read_only(self, cluster_id: str, read_only: bool, *, user_consented: bool = False) -> None:
        self.groups.switch_read_only(
            self.rds.require_cluster(cluster_id), read_only, user_consented=user_consented
        )

    def read_only_refusal(self, cluster_id: str, *, user_consented: bool = False) -> str | None:
        return self.groups.read_only_refusal(
            self.rds.require_cluster(cluster_id), user_consented=user_consented
        )

    def parameter_status(self, cluster_id: str) -> dict[str, ParameterStatus]:
        return {"read_only": self.groups.read_only_status(self.rds.require_cluster(cluster_id))}

    # -- EngineUpgrades (control_plane/aurora_upgrade.py) --------------------------------------

    def engine_upgrade_targets(self, cluster_id: str) -> list[str]:
        return [
            target["EngineVersion"] for target in self.upgrades.targets(self.rds.require_cluster(cluster_id))
        ]

    def engine_upgrade_refusal(self, cluster_id: str) -> str | None:
        return self.upgrades.refusal(self.rds.require_cluster(cluster_id))

    def upgrade_engine(self, cluster_id: str, target_version: str) -> ClusterInfo:
        self.upgrades.upgrade(self.rds.require_cluster(cluster_id), target_version)
        return self.describe(cluster_id)

    def runs_engine_version(self, cluster_id: str, target_version: str) -> bool:
        info = self.describe(cluster_id)
        return info.is_available and info.engine_version == target_version

    def upgrade_failure(self, cluster_id: str, since: datetime) -> str | None:
        return self.upgrades.failure(self.rds.require_cluster(cluster_id), since)

    def delete(self, cluster_id: str) -> None:
        """Delete a cluster this tool made, its instances first (readers before the writer).

        Returns once RDS has accepted the deletions; it does not wait for them to finish.
        """
        cluster = self.rds.cluster(cluster_id)
        if cluster is None:
            return
        require_ours(cluster_id, tag_dict(cluster.get("TagList")), "it will not be deleted")
        if cluster.get("DeletionProtection"):
            raise ClusterStateError(
                f"{cluster_id} has deletion protection on; aurora-bluegreen never turns it off"
            )
        members = sorted(cluster.get("DBClusterMembers", []), key=lambda member: member["IsClusterWriter"])
        for member in members:
            instance = self.rds.instance(member["DBInstanceIdentifier"])
            if instance is not None and instance["DBInstanceStatus"] != "deleting":
                self.rds.call("delete_db_instance", DBInstanceIdentifier=member["DBInstanceIdentifier"])
                self.rds.log.info("Deleting instance %s of %s", member["DBInstanceIdentifier"], cluster_id)
        if cluster["Status"] != "deleting":
            self.rds.call("delete_db_cluster", DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
            self.rds.log.info("Deleting cluster %s (no final snapshot: it is a clone of blue)", cluster_id)

    def list_clusters(self, tags: Mapping[str, str]) -> list[ClusterInfo]:
        """Every cluster in the region that carries all of ``tags``, in any status."""
        wanted = dict(tags)
        return [
            self._info(cluster)
            for cluster in aws_pages(self.rds.client, "describe_db_clusters", "DBClusters")
            if wanted.items() <= tag_dict(cluster.get("TagList")).items()
        ]

    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None:
        cluster = self.rds.require_cluster(cluster_id)
        require_ours(cluster_id, tag_dict(cluster.get("TagList")), "its tags stay as they are")
        self.rds.call("add_tags_to_resource", ResourceName=cluster["DBClusterArn"], Tags=tag_list(tags))

    # -- readers and credentials --------------------------------------------------------------

    def instances(self, cluster_id: str) -> list[InstanceInfo]:
        writers = {writer_id_of(self.rds.require_cluster(cluster_id))}
        return [
            _instance_info(instance, writers)
            for instance in aws_pages(
                self.rds.client,
                "describe_db_instances",
                "DBInstances",
                Filters=[{"Name": "db-cluster-id", "Values": [cluster_id]}],
            )
        ]

    def find_instance(self, instance_id: str) -> InstanceInfo | None:
        instance = self.rds.instance(instance_id)
        if instance is None:
            return None
        cluster_id = instance.get("DBClusterIdentifier")
        cluster = self.rds.cluster(cluster_id) if cluster_id else None
        return _instance_info(instance, {writer_id_of(cluster or {})})

    def subnet_zones(self, cluster_id: str) -> list[str]:
        """The Availability Zones the cluster's DB subnet group covers, sorted."""
        cluster = self.rds.require_cluster(cluster_id)
        group = self.rds.call("describe_db_subnet_groups", DBSubnetGroupName=cluster["DBSubnetGroup"])
        subnets = group["DBSubnetGroups"][0]["Subnets"]
        return sorted({subnet["SubnetAvailabilityZone"]["Name"] for subnet in subnets})

    def add_reader(
        self, cluster_id: str, instance_id: str, instance_class: str, zone: str, tags: Mapping[str, str]
    ) -> None:
        cluster = self.rds.require_cluster(cluster_id)
        self.rds.call(
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

        cluster = self.rds.require_cluster(cluster_id)
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

    # -- lookups ------------------------------------------------------------------------------

    def _gtid_mode_group(self, blue_id: str) -> str | None:
        """Blue's cluster parameter group if it sets gtid-mode=ON, else None."""
        blue = self.rds.cluster(blue_id)
        group = (blue or {}).get("DBClusterParameterGroup")
        if not group:
            return None
        mode = self.groups.user_parameters(group).get(GTID_MODE_PARAMETER, "")
        return group if mode.upper() == "ON" else None

    def _info(self, cluster: dict[str, Any]) -> ClusterInfo:
        status = cluster["Status"]
        writer_id = writer_id_of(cluster)
        if status == "available":
            # A clone is usable only once its writer is: report the writer's state until then.
            writer = self.rds.instance(writer_id) if writer_id else None
            status = "no-writer" if writer is None else writer["DBInstanceStatus"]
        return ClusterInfo(
            cluster_id=cluster["DBClusterIdentifier"],
            status=status,
            endpoint=cluster.get("Endpoint"),
            port=cluster.get("Port"),
            writer_instance_id=writer_id,
            tags=tag_dict(cluster.get("TagList")),
            engine=cluster.get("Engine"),
            engine_version=cluster.get("EngineVersion"),
            cluster_parameter_group=cluster.get("DBClusterParameterGroup"),
        )


def _instance_info(instance: Mapping[str, Any], writers: set[str | None]) -> InstanceInfo:
    return InstanceInfo(
        instance_id=instance["DBInstanceIdentifier"],
        cluster_id=instance.get("DBClusterIdentifier"),
        instance_class=instance["DBInstanceClass"],
        zone=instance.get("AvailabilityZone"),
        status=instance["DBInstanceStatus"],
        is_writer=instance["DBInstanceIdentifier"] in writers,
        tags=tag_dict(instance.get("TagList")),
    )
