"""Green's parameter groups on AWS: the facts the plan needs, and the only writes we make to groups.

The rules (which group green gets, which groups may be written) are pure functions in
``aurora_bluegreen.parameter_groups``; this module reads the facts from RDS and applies a plan.
Only a group this tool created and that no other cluster uses is ever written (and, with the
user's consent, ``read_only`` in blue's own group: ``freeze_methods``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from aurora_bluegreen.control_plane.aws_calls import aws_pages, tag_dict, tag_list
from aurora_bluegreen.control_plane.rds import Rds, wait_until
from aurora_bluegreen.errors import AwsCallFailed, ClusterStateError, NotManagedByUs
from aurora_bluegreen.freeze_methods import WAYS_TO_FREEZE
from aurora_bluegreen.models import CloneSpec, ParameterStatus
from aurora_bluegreen.ownership import created_at, created_at_tag, is_ours
from aurora_bluegreen.parameter_groups import (
    DEFAULT_GROUP_PREFIX,
    Action,
    EngineVersion,
    GroupFacts,
    GroupPlan,
    Level,
    carried_binlog_settings,
    read_only_refusal,
    settle_seconds_left,
)

# https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBClusterParameterGroup.html:
# "You can use the pending-reboot value for both dynamic and static parameters"; binlog_format and
# its kin are set before any cluster uses the group, so the first boot applies them.
_BINLOG_APPLY_METHOD = "pending-reboot"


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

    @property
    def describe_parameters(self) -> str:
        return f"describe_db_{self.infix}parameters"


_GROUP_API = {
    Level.CLUSTER: _GroupApi("cluster_", "DBClusterParameterGroup"),
    Level.INSTANCE: _GroupApi("", "DBParameterGroup"),
}


class ParameterGroups:
    """:param read_only_timeout: seconds a parameter-group change of read_only may take to apply.
    :param settle_seconds: seconds between creating (or copying) a group and the first cluster or
        instance that uses it; AWS advises at least 300 (``settle_seconds_left``)."""

    def __init__(self, rds: Rds, read_only_timeout: float, settle_seconds: float = 300) -> None:
        self.rds = rds
        self.read_only_timeout = read_only_timeout
        self.settle_seconds = settle_seconds
        self.clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.sleep: Callable[[float], None] = time.sleep

    def facts(self, level: Level, names: list[str]) -> dict[str, GroupFacts]:
        """Facts of those of ``names`` that exist; default groups count as existing only if RDS lists them."""
        api = _GROUP_API[level]
        found = {}
        for name in dict.fromkeys(names):
            try:
                response = self.rds.call(api.call("describe", plural=True), **{api.name: name})
            except AwsCallFailed as error:
                if error.not_found:
                    continue
                raise
            # AWS answers an unknown name with an error; moto with an empty list.
            if not response[f"{api.noun}s"]:
                continue
            group = response[f"{api.noun}s"][0]
            tags = tag_dict(
                self.rds.call("list_tags_for_resource", ResourceName=group[f"{api.noun}Arn"])["TagList"]
            )
            found[name] = (group["DBParameterGroupFamily"], is_ours(tags), created_at(tags))
        if not found:
            return {}
        users = self._users(level)
        return {
            name: GroupFacts(name, family, managed, frozenset(users.get(name, ())), made)
            for name, (family, managed, made) in found.items()
        }

    def _users(self, level: Level) -> dict[str, set[str]]:
        """Which clusters use each parameter group of ``level``, across the whole region."""
        users: dict[str, set[str]] = {}
        if level is Level.CLUSTER:
            for cluster in aws_pages(self.rds.client, "describe_db_clusters", "DBClusters"):
                users.setdefault(cluster.get("DBClusterParameterGroup"), set()).add(
                    cluster["DBClusterIdentifier"]
                )
            return users
        for instance in aws_pages(self.rds.client, "describe_db_instances", "DBInstances"):
            owner = instance.get("DBClusterIdentifier") or instance["DBInstanceIdentifier"]
            for group in instance.get("DBParameterGroups", []):
                users.setdefault(group["DBParameterGroupName"], set()).add(owner)
        return users

    def user_parameters(self, group: str) -> dict[str, str]:
        """The parameters set in a cluster parameter group; none in a default group, which nobody sets."""
        if group.startswith(DEFAULT_GROUP_PREFIX):
            return {}
        parameters = aws_pages(
            self.rds.client,
            "describe_db_cluster_parameters",
            "Parameters",
            DBClusterParameterGroupName=group,
            Source="user",
        )
        return {
            parameter["ParameterName"]: str(parameter.get("ParameterValue", ""))
            for parameter in parameters
            if "ParameterName" in parameter
        }

    def binlog_settings(self, group: str) -> dict[str, str]:
        """The binlog settings of a cluster parameter group (a default one too: RDS lists its values)."""
        parameters = aws_pages(
            self.rds.client,
            "describe_db_cluster_parameters",
            "Parameters",
            DBClusterParameterGroupName=group,
        )
        return carried_binlog_settings(group, parameters)

    def apply(
        self,
        plan: GroupPlan,
        engine: EngineVersion,
        spec: CloneSpec,
        tags: Mapping[str, str],
        binlog: Mapping[str, str] | None = None,
    ) -> datetime | None:
        """Create or copy green's group as the plan says, and write its read_only; ``binlog`` holds the
        binlog settings a new group is given (``plan.binlog_source``'s).

        Returns when the group was created, for ``settle``: now for a new one, its tag's time for
        one made earlier (None if unknown), None for a group attached as it is.
        """
        if not plan.writes_read_only:
            return None
        made = plan.created_at
        api = _GROUP_API[plan.level]
        description = f"aurora-bluegreen: read_only of {spec.cluster_id}, a clone of {spec.source_cluster_id}"
        if plan.action in (Action.CREATE, Action.COPY):
            made = self.clock()
            tags = {**tags, **created_at_tag(made)}
        if plan.action is Action.CREATE:
            self.rds.call(
                api.call("create"),
                **{api.name: plan.name},
                DBParameterGroupFamily=engine.family,
                Description=description,
                Tags=tag_list(tags),
            )
        elif plan.action is Action.COPY:
            self.rds.call(
                api.call("copy"),
                **{
                    f"Source{api.noun}Identifier": plan.source,
                    f"Target{api.noun}Identifier": plan.name,
                    f"Target{api.noun}Description": description,
                },
                Tags=tag_list(tags),
            )
        # Only a plan that names a binlog source takes them: a DB parameter group has no binlog settings.
        settings = dict(binlog or {}) if plan.action is Action.CREATE and plan.binlog_source else {}
        extra = [
            {"ParameterName": name, "ParameterValue": value, "ApplyMethod": _BINLOG_APPLY_METHOD}
            for name, value in settings.items()
        ]
        self._write_read_only(plan.level, plan.name, spec.read_only, extra)
        self.rds.log.info(
            "%s %s parameter group %s: read_only=%d%s",
            plan.action.value,
            plan.level.value,
            plan.name,
            spec.read_only,
            "".join(f", {name}={value} (from {plan.binlog_source})" for name, value in settings.items()),
        )
        return made

    def settle(self, plan: GroupPlan, created: datetime | None) -> None:
        """Wait, if need be, until a group this tool made for green may be used by a new cluster or
        instance (AWS's advice: ``settle_seconds_left``); a group attached as it is is not ours to wait for.
        """
        if not plan.writes_read_only:
            return
        left = settle_seconds_left(created, self.clock(), self.settle_seconds)
        if left <= 0:
            return
        since = f"created {created:%Y-%m-%d %H:%M:%S} UTC" if created else "creation time unknown"
        self.rds.log.info(
            "Waiting %.0f s before green's new parameter group %s is used, as AWS advises (%s; at least "
            "5 minutes between creating a parameter group and the first cluster or instance using it)",
            left,
            plan.name,
            since,
        )
        self.sleep(left)

    def read_only_group(self, cluster: dict) -> tuple[Level, str]:
        """The parameter group that holds read_only for this cluster: its cluster group on Aurora
        MySQL 3, its writer's DB group on Aurora MySQL 2 (AuroraMySQL.Reference.ParameterGroups)."""
        level = EngineVersion.parse(cluster["Engine"], cluster["EngineVersion"]).read_only_level
        if level is Level.CLUSTER:
            return level, cluster["DBClusterParameterGroup"]
        writer = self.rds.writer(cluster)
        if writer is None:
            raise ClusterStateError(
                f"{cluster['DBClusterIdentifier']} has no writer instance whose read_only could be switched"
            )
        return level, writer["DBParameterGroups"][0]["DBParameterGroupName"]

    def read_only_status(self, cluster: dict) -> ParameterStatus:
        """What a reboot will apply (the group's read_only; unset is the engine's default, 0), and
        whether every member runs with the group as it is."""
        level, name = self.read_only_group(cluster)
        api = _GROUP_API[level]
        value = "0"
        if not name.startswith(DEFAULT_GROUP_PREFIX):
            parameters = aws_pages(
                self.rds.client,
                api.describe_parameters,
                "Parameters",
                **{api.name: name},
                Source="user",
            )
            value = next(
                (str(p.get("ParameterValue")) for p in parameters if p.get("ParameterName") == "read_only"),
                "0",
            )
        return ParameterStatus(value, self._applied(cluster, level, name))

    def switch_read_only(self, cluster: dict, read_only: bool, *, user_consented: bool = False) -> None:
        """Switch read_only through the parameter group that holds it, and wait until it applied.

        Only a group this tool created and that no other cluster uses is written; with
        ``user_consented`` (``freeze_method=parameter_group``) also the user's own group, if no
        other cluster uses it. A default group never is.
        """
        cluster_id = cluster["DBClusterIdentifier"]
        level, name = self.read_only_group(cluster)
        refusal = self.read_only_refusal(cluster, user_consented=user_consented)
        if refusal:
            raise NotManagedByUs(
                f"cannot switch read_only on {cluster_id} through its {level.value} parameter group: "
                f"{refusal}, and aurora-bluegreen never writes to such a group ({WAYS_TO_FREEZE})"
            )
        self._write_read_only(level, name, read_only)
        self._wait_applied(cluster_id, level, name)

    def read_only_refusal(self, cluster: dict, *, user_consented: bool = False) -> str | None:
        """Why read_only may not be written in the group that holds it for this cluster, or None."""
        level, name = self.read_only_group(cluster)
        return read_only_refusal(
            name,
            self.facts(level, [name]).get(name),
            cluster["DBClusterIdentifier"],
            user_consented=user_consented,
        )

    def _write_read_only(
        self, level: Level, name: str, read_only: bool, extra: list[dict[str, str]] | None = None
    ) -> None:
        parameter = {
            "ParameterName": "read_only",
            "ParameterValue": str(int(read_only)),
            "ApplyMethod": "immediate",
        }
        api = _GROUP_API[level]
        self.rds.call(api.call("modify"), **{api.name: name}, Parameters=[parameter, *(extra or ())])

    def _wait_applied(self, cluster_id: str, level: Level, name: str) -> None:
        """Wait until every instance of the cluster reports the group's change as applied."""
        wait_until(
            lambda: self._applied(self.rds.cluster(cluster_id) or {}, level, name),
            self.read_only_timeout,
            f"read_only in {name} to apply on {cluster_id}",
        )

    def _applied(self, cluster: dict, level: Level, name: str) -> bool:
        """Every member reports the group ``in-sync`` (AWS: DBClusterParameterGroupStatus for a
        cluster group, ParameterApplyStatus for a DB group)."""
        if level is Level.CLUSTER:
            return all(
                member.get("DBClusterParameterGroupStatus") == "in-sync"
                for member in cluster.get("DBClusterMembers", [])
            )
        for member in cluster.get("DBClusterMembers", []):
            instance = self.rds.instance(member["DBInstanceIdentifier"]) or {}
            statuses = [
                group.get("ParameterApplyStatus")
                for group in instance.get("DBParameterGroups", [])
                if group["DBParameterGroupName"] == name
            ]
            if any(status != "in-sync" for status in statuses):
                return False
        return True
