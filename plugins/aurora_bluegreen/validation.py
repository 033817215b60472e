"""Input rules, checked before anything changes. Each error names the field and the rule."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.parameter_groups import (
    LONGEST_BINLOG_RETENTION_HOURS,
    EngineVersion,
    max_binlog_retention_hours,
)

_CLUSTER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,62}$")
_USER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,15}$")
SQL_IDENTIFIER_PATTERN = "[A-Za-z_][A-Za-z0-9_$]{0,63}"
_SQL_IDENTIFIER = re.compile(f"^{SQL_IDENTIFIER_PATTERN}$")

_PARAMETER_GROUP = re.compile(r"^(default\.[a-z0-9.-]{1,247}|[A-Za-z][A-Za-z0-9-]{0,254})$")
PARAMETER_GROUP_RULE = (
    "1-255 letters, digits or hyphens; first a letter; no trailing hyphen; no '--' "
    "(or an engine default group, default.<family>)"
)
ENGINE_VERSION_PATTERN = "^[0-9]+\\.[0-9]+(\\.[A-Za-z0-9_.]+)?$"
ENGINE_VERSION_RULE = "an engine version: 11.8 on the sandbox, 8.0.mysql_aurora.3.10.0 on AWS"
_ENGINE_VERSION = re.compile(ENGINE_VERSION_PATTERN)
CLUSTER_ID_RULE = "1-63 letters, digits or hyphens; first a letter; no trailing hyphen; no '--'"
USER_NAME_RULE = "4-16 letters, digits or underscores; first a letter"
MAX_BINLOG_RETENTION_HOURS = LONGEST_BINLOG_RETENTION_HOURS
"""The most any Aurora MySQL keeps; older versions keep less (``max_binlog_retention_hours``)."""


def cluster_identifier(field: str, value: object) -> str:
    """An RDS cluster or instance identifier, as AWS defines it."""
    if not isinstance(value, str) or not _CLUSTER_ID.match(value) or value.endswith("-") or "--" in value:
        raise InvalidInput(field, value, CLUSTER_ID_RULE)
    return value


_SNAPSHOT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,254}$")
SNAPSHOT_ID_RULE = "1-255 letters, digits or hyphens; first a letter; no trailing hyphen; no '--'"


def snapshot_identifier(field: str, value: object) -> str:
    """An RDS cluster snapshot identifier, as AWS defines it."""
    if not isinstance(value, str) or not _SNAPSHOT_ID.match(value) or value.endswith("-") or "--" in value:
        raise InvalidInput(field, value, SNAPSHOT_ID_RULE)
    return value


def parameter_group_name(field: str, value: object) -> str:
    """An RDS parameter group name, as AWS defines it."""
    if (
        not isinstance(value, str)
        or not _PARAMETER_GROUP.match(value)
        or value.endswith("-")
        or "--" in value
    ):
        raise InvalidInput(field, value, PARAMETER_GROUP_RULE)
    return value


def engine_version(field: str, value: object) -> str:
    """A target engine version as the control plane spells it; whether it exists is asked of it."""
    if not isinstance(value, str) or len(value) > 64 or not _ENGINE_VERSION.match(value):
        raise InvalidInput(field, value, ENGINE_VERSION_RULE)
    return value


def replication_user_name(field: str, value: object) -> str:
    if not isinstance(value, str) or not _USER_NAME.match(value):
        raise InvalidInput(field, value, USER_NAME_RULE)
    return value


def mysql_user_name(field: str, value: object) -> str:
    """Any existing MySQL account name we may look up (bound as a parameter, never spliced in)."""
    if not isinstance(value, str) or not 1 <= len(value) <= 80 or "\x00" in value:
        raise InvalidInput(field, value, "a MySQL user name of 1-80 characters")
    return value


def sql_identifier(field: str, value: object) -> str:
    """A schema or table name we put into SQL text; anything else is refused, not quoted."""
    if not isinstance(value, str) or not _SQL_IDENTIFIER.match(value):
        raise InvalidInput(field, value, "a plain SQL identifier (letters, digits, _ or $)")
    return value


def positive_number(field: str, value: object) -> float:
    """A finite number above 0 (NaN and infinity are not budgets)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise InvalidInput(field, value, "a finite number greater than 0")
    return value


def one_of(field: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(field, value, f"one of {', '.join(choices)}")
    return value


def retention_hours(field: str, value: object, engine: EngineVersion | None = None) -> int:
    """Hours of binlog retention, at most what ``engine`` keeps where it is known: Aurora would use
    its maximum for more without a word. Aurora refuses 0 (NULL is "unset")."""
    maximum = max_binlog_retention_hours(engine)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        rule = f"a whole number of hours from 1 to {maximum}"
        if maximum < MAX_BINLOG_RETENTION_HOURS:
            rule += (
                f": blue runs {engine.version}, which keeps binlogs at most {maximum} hours and silently "
                f"uses {maximum} for more ({MAX_BINLOG_RETENTION_HOURS} from Aurora MySQL 2.11.0)"
            )
        raise InvalidInput(field, value, rule)
    return value


def blue_and_green(
    blue_id: object,
    green_id: object,
    blue_field: str = "blue_cluster_id",
    green_field: str = "green_cluster_id",
) -> None:
    """Both identifiers valid, and not the same cluster."""
    cluster_identifier(blue_field, blue_id)
    cluster_identifier(green_field, green_id)
    distinct_clusters(blue_id, green_id, blue_field, green_field)


def distinct_clusters(
    blue_id: str, green_id: str, blue_field: str = "blue_cluster_id", green_field: str = "green_cluster_id"
) -> None:
    if blue_id.lower() == green_id.lower():
        raise InvalidInput(green_field, green_id, f"different from {blue_field}")


@dataclass(frozen=True)
class ReplicationCredentials:
    user: str
    password: str = field(repr=False)


def replication_credentials(conn_id: str) -> ReplicationCredentials:
    """The replication user's name and password, from its connection, checked against the rules."""
    from airflow.sdk import BaseHook

    connection_exists("replication_conn_id", conn_id)
    conn = BaseHook.get_connection(conn_id)
    user = replication_user_name(f"{conn_id}.login", conn.login)
    if not conn.password:
        raise InvalidInput(f"{conn_id}.password", "", "a non-empty password")
    return ReplicationCredentials(user, conn.password)


def connection_exists(field: str, conn_id: object) -> str:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    if not isinstance(conn_id, str) or not conn_id:
        raise InvalidInput(field, conn_id, "the id of an Airflow connection")
    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise InvalidInput(field, conn_id, "the id of an existing Airflow connection") from None
    return conn_id
