"""Green's engine upgrade on AWS: ``modify_db_cluster`` to a target RDS lists, with new-family groups.

The valid targets are RDS's own: ``describe_db_engine_versions`` for green's engine and version,
its ``ValidUpgradeTarget`` list. A target in another parameter-group family (Aurora MySQL 2 ->
3: ``aurora-mysql5.7`` -> ``aurora-mysql8.0``) is a major upgrade: RDS requires
``AllowMajorVersionUpgrade`` and groups of the new family, given in the same call
(``DBClusterParameterGroupName`` and ``DBInstanceParameterGroupName``; "the DB instance parameter
group ... is applied to all instances of the cluster" during a major upgrade,
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBCluster.html). This module
creates those groups, tagged as ours, from blue's values: ``read_only=1`` (green stays a read-only
replica until the cutover) at the level the new version keeps it, and blue's binlog settings. Other
custom settings of blue's groups are not carried across families, since a name may not exist in
the new one: name them in docs/aws.md's way (a group of your own) if green needs them.

A failed upgrade is reported by RDS as an event, not an error of the call: Aurora MySQL 2 -> 3 runs
prechecks and, when they fail, leaves the cluster on its old version with "Database cluster is in
a state that cannot be upgraded: Upgrade prechecks failed" (``failure``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from aurora_bluegreen.control_plane.aurora_parameter_groups import ParameterGroups
from aurora_bluegreen.control_plane.aws_calls import aws_pages, tag_dict, tag_list
from aurora_bluegreen.control_plane.rds import Rds
from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.ownership import CREATED_AT_TAG, SOURCE_CLUSTER_TAG, created_at_tag, require_ours
from aurora_bluegreen.parameter_groups import Action, EngineVersion, GroupPlan, Level, owned_group_name

# Words of the RDS events that report a failed engine upgrade, lower case: the precheck failure
# ("cannot be upgraded: Upgrade prechecks failed") and a failed upgrade ("Upgrade failed ...").
_FAILURE_WORDS = ("cannot be upgraded", "upgrade failed", "prechecks failed")


class EngineUpgrader:
    def __init__(self, rds: Rds, groups: ParameterGroups) -> None:
        self.rds = rds
        self.groups = groups

    def targets(self, cluster: dict[str, Any]) -> list[dict[str, Any]]:
        """RDS's ``ValidUpgradeTarget`` entries for the cluster's engine version, as listed."""
        versions = self.rds.call(
            "describe_db_engine_versions", Engine=cluster["Engine"], EngineVersion=cluster["EngineVersion"]
        )["DBEngineVersions"]
        return [target for version in versions for target in version.get("ValidUpgradeTarget", [])]

    def refusal(self, cluster: dict[str, Any]) -> str | None:
        if self.targets(cluster):
            return None
        return f"RDS lists no valid upgrade target for {cluster['Engine']} {cluster['EngineVersion']}"

    def upgrade(self, cluster: dict[str, Any], target_version: str) -> None:
        """Ask RDS to upgrade a cluster we made; returns once RDS accepted it (the wait is the caller's)."""
        cluster_id = cluster["DBClusterIdentifier"]
        require_ours(cluster_id, tag_dict(cluster.get("TagList")), "its engine is not upgraded")
        if cluster["EngineVersion"] == target_version:
            return
        listed = {target["EngineVersion"]: target for target in self.targets(cluster)}
        if target_version not in listed:
            rule = f"one of {cluster_id}'s valid upgrade targets: {', '.join(listed) or 'none'}"
            raise InvalidInput("target_engine_version", target_version, rule)
        current = EngineVersion.parse(cluster["Engine"], cluster["EngineVersion"])
        new = EngineVersion.parse(cluster["Engine"], target_version)
        arguments: dict[str, Any] = {
            "DBClusterIdentifier": cluster_id,
            "EngineVersion": target_version,
            "ApplyImmediately": True,
        }
        if listed[target_version].get("IsMajorVersionUpgrade"):
            arguments["AllowMajorVersionUpgrade"] = True
        if new.family != current.family:
            blue_id = tag_dict(cluster.get("TagList")).get(SOURCE_CLUSTER_TAG, "")
            arguments["DBClusterParameterGroupName"] = self._new_family_group(
                Level.CLUSTER, cluster, blue_id, new
            )
            arguments["DBInstanceParameterGroupName"] = self._new_family_group(
                Level.INSTANCE, cluster, blue_id, new
            )
        self.rds.call("modify_db_cluster", **arguments)
        self.rds.log.info(
            "Asked RDS to upgrade %s from %s to %s%s",
            cluster_id,
            cluster["EngineVersion"],
            target_version,
            " (major)" if arguments.get("AllowMajorVersionUpgrade") else "",
        )

    def failure(self, cluster: dict[str, Any], since: datetime) -> str | None:
        """The first RDS event since ``since``, on the cluster or its instances, of a failed upgrade."""
        sources = [("db-cluster", cluster["DBClusterIdentifier"])] + [
            ("db-instance", member["DBInstanceIdentifier"]) for member in cluster.get("DBClusterMembers", [])
        ]
        for source_type, source_id in sources:
            events = aws_pages(
                self.rds.client,
                "describe_events",
                "Events",
                SourceType=source_type,
                SourceIdentifier=source_id,
                StartTime=since,
            )
            for event in events:
                message = event.get("Message", "")
                if any(word in message.lower() for word in _FAILURE_WORDS):
                    return f"RDS event on {source_id}: {message}"
        return None

    def _new_family_group(
        self, level: Level, cluster: dict[str, Any], blue_id: str, new: EngineVersion
    ) -> str:
        """Green's own group of ``level`` in the new family, created (or found, on a retry) and tagged
        as ours, then settled as AWS advises. The cluster group gets read_only=1 (Aurora MySQL 3 keeps
        it at the cluster level, and a new family is only ever 8.0's) and blue's binlog settings; the
        DB group nothing."""
        cluster_id = cluster["DBClusterIdentifier"]
        name = f"{owned_group_name(cluster_id, level)}-{new.mysql.replace('.', '')}"
        plan = GroupPlan(level, name, Action.CREATE, f"{new.family} group for the upgrade")
        existing = self.groups.facts(level, [name]).get(name)
        if existing is not None:
            if not existing.managed or existing.family != new.family:
                why = "not ours" if not existing.managed else f"of family {existing.family}"
                rule = f"an upgrade whose new parameter group {name} is free, and it is {why}"
                raise InvalidInput("target_engine_version", new.version, rule)
            made = existing.created_at
        elif level is Level.INSTANCE:
            made = self.groups.clock()
            self.rds.call(
                "create_db_parameter_group",
                DBParameterGroupName=name,
                DBParameterGroupFamily=new.family,
                Description=f"aurora-bluegreen: {cluster_id}'s instances after its upgrade to {new.version}",
                Tags=tag_list({**_green_tags(cluster), **created_at_tag(made)}),
            )
            self.rds.log.info(
                "Created DB parameter group %s (%s) for %s's upgrade", name, new.family, cluster_id
            )
        else:
            blue = self.rds.cluster(blue_id) if blue_id else None
            source = (blue or cluster)["DBClusterParameterGroup"]
            made = self.groups.apply(
                replace(plan, binlog_source=source),
                new,
                CloneSpec(blue_id, cluster_id, "", read_only=True),
                _green_tags(cluster),
                self.groups.binlog_settings(source),
            )
        self.groups.settle(plan, made)
        return name


def _green_tags(cluster: dict[str, Any]) -> dict[str, str]:
    """Green's tags for a group made for it (ours, its role and blue), less its own creation time."""
    return {key: value for key, value in tag_dict(cluster.get("TagList")).items() if key != CREATED_AT_TAG}
