"""Which parameter groups green gets, and which groups this tool may ever write to.

The blog's rules: green is made read-only through a parameter group, and that group must never be
one blue uses, or setting ``read_only=1`` in it would freeze production. A named group that blue's
writer does not use is set read-only and attached; a group that is blue's, or missing, is replaced
by a copy of blue's.

Green never gets an empty group: a new group holds the engine's defaults, and on Aurora MySQL those
turn binary logging off (``binlog_format=OFF``), while after the cutover old blue must replicate
from green. So green's own group is a copy of blue's; only where blue uses the engine's default
group, which AWS lets nobody copy, is a new group created, and it is given the default group's
binlog settings explicitly (they are blue's, since blue runs with that group).

One rule is stricter here than in the blog: this tool writes only to groups it created (tagged
``managed-by=aurora-bluegreen``) and that no cluster other than green uses. A group someone else
made may be shared by clusters the blog's check never looks at, so when the user names such a group
green gets a copy of it, carrying its settings, instead of the group itself.

``read_only`` lives in the DB (instance) parameter group on Aurora MySQL 1 and 2 and in the cluster
parameter group on Aurora MySQL 3, so the rules apply at that level; the group at the other level is
attached as it is and never written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from aurora_bluegreen.errors import ClusterStateError, InvalidInput

_AURORA_VERSION = re.compile(r"^(?P<mysql>\d+\.\d+)\.(?:mysql_aurora\.(?P<aurora>\d+(?:\.\d+)*)|\w+)")
_FAST_READ_ONLY_SINCE = (3, 6)
"""Aurora MySQL 3.06 added ``mysql.rds_set_read_only``, which switches read_only in milliseconds."""

DEFAULT_GROUP_PREFIX = "default."
LONGEST_BINLOG_RETENTION_HOURS = 2160
SHORT_BINLOG_RETENTION_HOURS = 168
_LONG_RETENTION_SINCE = (2, 11, 0)
BINLOG_PARAMETERS = ("binlog_format", "binlog_row_image", "binlog_checksum")
"""The cluster-level settings that decide whether a server writes binlogs and what a replica reads
in them. ``binlog_format`` is a cluster parameter on Aurora MySQL 2 and 3; OFF (the default) means
no binlogs (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_LogAccess.MySQL.BinaryFormat.html)."""


class Level(str, Enum):
    CLUSTER = "cluster"
    INSTANCE = "instance"


@dataclass(frozen=True)
class EngineVersion:
    """An Aurora MySQL engine and version, as ``describe_db_clusters`` reports them."""

    engine: str
    version: str

    @classmethod
    def reported(cls, engine: str | None, version: str | None) -> EngineVersion | None:
        """The engine a control plane reports, if it reports Aurora MySQL; None otherwise (the sandbox)."""
        try:
            return cls.parse(engine, version) if engine and version else None
        except ValueError:
            return None

    @classmethod
    def parse(cls, engine: str, version: str) -> EngineVersion:
        if engine not in ("aurora-mysql", "aurora") or not _AURORA_VERSION.match(version or ""):
            raise ValueError(
                f"engine {engine} {version} is not Aurora MySQL; "
                "aurora-bluegreen clones Aurora MySQL clusters"
            )
        return cls(engine, version)

    @property
    def mysql(self) -> str:
        """The MySQL series: 5.6, 5.7 or 8.0."""
        return _AURORA_VERSION.match(self.version).group("mysql")

    @property
    def aurora(self) -> tuple[int, ...] | None:
        """Aurora's own version (3.06.0 -> (3, 6, 0)); None for the old ``5.6.10a`` style."""
        aurora = _AURORA_VERSION.match(self.version).group("aurora")
        return tuple(int(part) for part in aurora.split(".")) if aurora else None

    @property
    def family(self) -> str:
        """The parameter group family every group of this cluster must belong to."""
        return f"{self.engine}{self.mysql}"

    @property
    def read_only_level(self) -> Level:
        return Level.CLUSTER if self.mysql.startswith("8.") else Level.INSTANCE

    @property
    def has_rds_set_read_only(self) -> bool:
        return self.mysql.startswith("8.") and (self.aurora or (0,))[:2] >= _FAST_READ_ONLY_SINCE


def max_binlog_retention_hours(engine: EngineVersion | None) -> int:
    """The most 'binlog retention hours' the engine keeps; Aurora silently uses it for any larger value.

    "For Aurora MySQL version 2.11.0 and higher and version 3 DB clusters, the maximum ... is 2160
    (90 days)"; until May 2023 the same page gave 168 (7 days) for versions 2 and 3 and 2160 for
    version 1, so before 2.11.0 it is 168; "If you specify a value ... higher than the maximum value,
    then Aurora MySQL uses the maximum"
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-configuring.html,
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Replication.MySQL.SettingUp.html).
    Where the engine is not known to be Aurora (the sandbox), Aurora's largest maximum.
    """
    aurora = engine.aurora if engine is not None else None
    if aurora is not None and aurora[0] == 2 and aurora < _LONG_RETENTION_SINCE:
        return SHORT_BINLOG_RETENTION_HOURS
    return LONGEST_BINLOG_RETENTION_HOURS


@dataclass(frozen=True)
class GroupFacts:
    """What the control plane says about one parameter group."""

    name: str
    family: str
    managed: bool
    used_by: frozenset[str]
    """Clusters attached to it: directly for a cluster group, through an instance for a DB group."""
    created_at: datetime | None = None
    """When this tool created it (its ``created-at`` tag); None if unknown."""


class Action(str, Enum):
    ATTACH = "attach"
    """Attach as it is; nothing is written to it."""
    WRITE = "write"
    """A group this tool made for green already (a retry): set read_only in it."""
    CREATE = "create"
    """Create a group in blue's family, tagged as ours, and set read_only in it, and at the cluster
    level the binlog settings of ``binlog_source``. Only where blue's group cannot be copied."""
    COPY = "copy"
    """Copy ``source`` into a new group tagged as ours, and set read_only in it."""


@dataclass(frozen=True)
class GroupPlan:
    level: Level
    name: str | None
    """None leaves the choice to RDS: the engine's default group."""
    action: Action
    reason: str
    source: str | None = None
    """The group copied (COPY)."""
    binlog_source: str | None = None
    """The group whose binlog settings a new cluster group is given (CREATE): blue's default group."""
    created_at: datetime | None = None
    """When this tool created the group it writes (WRITE), if known."""

    @property
    def writes_read_only(self) -> bool:
        return self.action is not Action.ATTACH


def owned_group_name(green_cluster_id: str, level: Level) -> str:
    """The name of the group this tool creates for green when it needs one of its own."""
    return f"aurora-bluegreen-{green_cluster_id}-{level.value}"


def refusal_to_modify(group: GroupFacts, cluster_id: str, *, user_consented: bool = False) -> str | None:
    """Why this tool must not write to ``group`` on behalf of ``cluster_id``, or None if it may.

    ``user_consented``: the user chose ``freeze_method=parameter_group``, the blog's way of
    freezing a blue that has no ``mysql.rds_set_read_only``. Then a group the user made may hold
    the freeze too (only ``read_only`` is ever written to it), still only if no other cluster uses it.
    """
    if not group.managed and not user_consented:
        return f"parameter group {group.name} was not created by aurora-bluegreen"
    others = sorted(group.used_by - {cluster_id})
    if others:
        return f"parameter group {group.name} is also used by {', '.join(others)}"
    return None


def read_only_refusal(
    group_name: str, facts: GroupFacts | None, cluster_id: str, *, user_consented: bool = False
) -> str | None:
    """Why read_only must not be written in ``group_name``, the group that holds it for
    ``cluster_id``; ``facts`` is None where the control plane knows no such group of the user's."""
    if group_name.startswith(DEFAULT_GROUP_PREFIX) or facts is None:
        return f"{group_name} is the engine's default parameter group, which nobody can modify"
    return refusal_to_modify(facts, cluster_id, user_consented=user_consented)


def plan_group(
    *,
    level: Level,
    field: str,
    requested: str | None,
    engine: EngineVersion,
    green_cluster_id: str,
    blue_cluster_id: str,
    blue_group: str | None,
    groups: Mapping[str, GroupFacts],
) -> GroupPlan:
    """Decide green's group at ``level``. ``groups`` holds the facts of every group that exists among
    the requested one, blue's and the one this tool would create; ``field`` names the input in errors.
    """
    facts = groups.get(requested) if requested else None
    if facts is not None and facts.family != engine.family:
        raise InvalidInput(
            field,
            requested,
            f"a {level.value} parameter group of family {engine.family} (it is {facts.family})",
        )
    if level is not engine.read_only_level:
        return _attach_as_is(level, field, requested, facts, blue_group)
    if requested and facts is None:
        return _new_group(level, requested, engine, groups, blue_group, f"{requested} does not exist")
    if facts is not None:
        refusal = refusal_to_modify(facts, green_cluster_id)
        if refusal is None:
            return GroupPlan(
                level,
                requested,
                Action.WRITE,
                f"{requested} was created by aurora-bluegreen for green",
                created_at=facts.created_at,
            )
        if blue_cluster_id in facts.used_by:
            refusal = f"blue {blue_cluster_id} uses {requested}"
        return _own_group(level, field, requested, engine, green_cluster_id, groups, requested, refusal)
    return _own_group(
        level, field, requested, engine, green_cluster_id, groups, blue_group, "no group was named for green"
    )


def _attach_as_is(
    level: Level, field: str, requested: str | None, facts: GroupFacts | None, blue_group: str | None
) -> GroupPlan:
    if requested and facts is None:
        # Nothing would be gained by creating an empty group here: it is most likely a typo.
        raise InvalidInput(field, requested, f"an existing {level.value} parameter group")
    if requested:
        return GroupPlan(
            level, requested, Action.ATTACH, "named for green; read_only is not set at this level"
        )
    if blue_group and not blue_group.startswith(DEFAULT_GROUP_PREFIX):
        return GroupPlan(level, blue_group, Action.ATTACH, "blue's, shared as it is; never written")
    return GroupPlan(level, None, Action.ATTACH, "the engine's default, like blue")


def _own_group(
    level: Level,
    field: str,
    requested: str | None,
    engine: EngineVersion,
    green_cluster_id: str,
    groups: Mapping[str, GroupFacts],
    source: str | None,
    why: str,
) -> GroupPlan:
    name = owned_group_name(green_cluster_id, level)
    existing = groups.get(name)
    if existing is not None:
        refusal = refusal_to_modify(existing, green_cluster_id)
        if refusal is None and existing.family != engine.family:
            refusal = f"{name} is of family {existing.family}"
        if refusal is not None:
            raise InvalidInput(
                field, requested, f"a parameter group for green: {why}, and {refusal}; name another group"
            )
        return GroupPlan(
            level,
            name,
            Action.WRITE,
            f"{why}; {name} was created earlier for green",
            created_at=existing.created_at,
        )
    return _new_group(level, name, engine, groups, source, f"{why}: green gets {name}")


def _new_group(
    level: Level,
    name: str,
    engine: EngineVersion,
    groups: Mapping[str, GroupFacts],
    source: str | None,
    why: str,
) -> GroupPlan:
    """A group this tool makes for green: a copy of ``source``, or where that is the engine's default
    group (AWS refuses to copy one), a new group given the default group's binlog settings."""
    if source and not source.startswith(DEFAULT_GROUP_PREFIX) and source in groups:
        return GroupPlan(level, name, Action.COPY, f"{why}, a copy of {source}", source)
    if level is not Level.CLUSTER:
        # Binlog settings are cluster parameters: a new DB parameter group has none to carry.
        return GroupPlan(level, name, Action.CREATE, f"{why}, new in {engine.family}")
    settings_from = source or f"{DEFAULT_GROUP_PREFIX}{engine.family}"
    return GroupPlan(
        level,
        name,
        Action.CREATE,
        f"{why}, new in {engine.family} with the binlog settings of {settings_from}",
        binlog_source=settings_from,
    )


ENHANCED_BINLOG_PARAMETER = "aurora_enhanced_binlog"
_ENHANCED_BINLOG_PAGE = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Enhanced.binlog.html"
)


def enhanced_binlog_refusal(group: str, user_parameters: Mapping[str, str]) -> str | None:
    """Why a clone of a cluster whose cluster parameter group is ``group`` cannot be replicated into, or
    None. Phrased as the rule ``source_cluster_id`` breaks.

    AWS: "The enhanced binlog files written on the primary DB cluster aren't copied to the cloned or
    restored DB clusters", and a clone starts its own binlog sequence from 000001
    (``_ENHANCED_BINLOG_PAGE``). So the clone has none of blue's binlog to recover a position from,
    and nothing says where in blue's binlog green's data ends. Turning it off is the page's recipe.
    """
    if str(user_parameters.get(ENHANCED_BINLOG_PARAMETER, "0")).strip() != "1":
        return None
    return (
        f"a cluster without enhanced binlog: its cluster parameter group {group} sets "
        f"{ENHANCED_BINLOG_PARAMETER}=1 (enhanced binlog), whose binlog files are not copied to clones "
        f"({_ENHANCED_BINLOG_PAGE}), so the clone cannot tell where its data ends in blue's binlog and "
        "green could not start replicating from there. Turn it off on blue first (in "
        f"{group}: {ENHANCED_BINLOG_PARAMETER}=0, binlog_backup=1, binlog_replication_globaldb=1, then "
        "reboot blue's writer); nothing was changed"
    )


def settle_seconds_left(created_at: datetime | None, now: datetime, settle_seconds: float) -> float:
    """Seconds still to wait before a new cluster or instance may use a group this tool created at
    ``created_at``; in full when that time is unknown.

    AWS: "After you create a DB cluster parameter group, wait at least 5 minutes before creating a DB
    cluster that uses that DB cluster parameter group"
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_WorkingWithParamGroups.CreatingCluster.html;
    the 2023 guide said the same after a copy), and the same of a DB parameter group and a new DB
    instance (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBParameterGroup.html).
    """
    if created_at is None:
        return max(0.0, settle_seconds)
    return max(0.0, settle_seconds - (now - created_at).total_seconds())


def carried_binlog_settings(group: str, parameters: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The binlog settings a new group for green takes from ``group``, as RDS lists its parameters.

    Only modifiable ones with a value: RDS refuses to set the others. Without ``binlog_format`` there
    is no telling whether green would write binlogs, so that is refused before anything is created.
    """
    settings = {
        parameter["ParameterName"]: str(parameter["ParameterValue"])
        for parameter in parameters
        if parameter.get("ParameterName") in BINLOG_PARAMETERS
        and parameter.get("ParameterValue") is not None
        and parameter.get("IsModifiable", True)
    }
    if "binlog_format" not in settings:
        raise ClusterStateError(
            f"parameter group {group} lists no binlog_format, so a new parameter group for green could "
            "not be given blue's binlog settings; name a cluster_parameter_group for green that sets it"
        )
    return settings
