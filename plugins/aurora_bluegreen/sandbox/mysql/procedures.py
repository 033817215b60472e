"""Installs ``sql/rds_procedures_mysql.sql``: the ``mysql.rds_*`` procedures an Aurora version has.

A procedure that the emulated Aurora version does not have must not exist in the sandbox either,
so code that calls it fails here as it would on Aurora. The installer therefore runs every
``DROP PROCEDURE`` in the file and leaves out the ``CREATE`` of each skipped procedure: installing
again with a smaller set removes what the new version lacks.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from importlib import resources

import pymysql

from aurora_bluegreen.sandbox.procedures import split_statements

SQL_FILE = "rds_procedures_mysql.sql"
# Which Aurora versions have which names:
# https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-replicating.html
AURORA_2_ONLY = frozenset(
    {"rds_set_external_master", "rds_set_external_master_with_auto_position", "rds_reset_external_master"}
)
AURORA_3_ONLY = frozenset(
    {
        "rds_set_external_source",
        "rds_set_external_source_with_auto_position",
        "rds_reset_external_source",
        "rds_set_binlog_source_ssl",
        "rds_set_read_only",
    }
)
# rds_set_read_only arrived in Aurora MySQL 3.06.
_READ_ONLY_SINCE = (3, 6)
_PROCEDURE = re.compile(
    r"^(?P<verb>DROP|CREATE)\b.*?\bPROCEDURE\s+(?:IF\s+EXISTS\s+)?mysql\.(?P<name>\w+)",
    re.IGNORECASE | re.DOTALL,
)
_AURORA_VERSION = re.compile(r"(?:^|\.)(?P<major>[23])\.(?P<minor>\d+)(?:\.\d+)?$")


def skipped_for_aurora(version: str) -> frozenset[str]:
    """The procedures Aurora MySQL ``version`` lacks: "3.05.2" or "8.0.mysql_aurora.3.05.2", "2.11"."""
    match = _AURORA_VERSION.search(version.strip())
    if match is None:
        raise ValueError(f"not an Aurora MySQL 2.x or 3.x version: {version!r}")
    major, minor = int(match.group("major")), int(match.group("minor"))
    if major == 2:
        return AURORA_3_ONLY
    if (major, minor) < _READ_ONLY_SINCE:
        return AURORA_2_ONLY | {"rds_set_read_only"}
    return AURORA_2_ONLY


def install_rds_procedures(root: pymysql.connections.Connection, skip: Collection[str] = ()) -> None:
    """Run the file as root, leaving out the procedures named in ``skip``; nothing reaches the binlog."""
    statements = split_statements(
        resources.files("aurora_bluegreen.sandbox").joinpath("sql", SQL_FILE).read_text()
    )
    names = {match.group("name") for match in map(_PROCEDURE.match, statements) if match}
    unknown = set(skip) - names
    if unknown:
        raise ValueError(f"{SQL_FILE} has no procedure {', '.join(sorted(unknown))}")
    with root.cursor() as cursor:
        for statement in statements:
            match = _PROCEDURE.match(statement)
            if match and match.group("verb").upper() == "CREATE" and match.group("name") in skip:
                continue
            cursor.execute(statement)
        # The file ends by turning the binlog back on; this holds even if it is cut short one day.
        cursor.execute("SET SESSION sql_log_bin = 1")


def installed_procedures(root: pymysql.connections.Connection) -> set[str]:
    with root.cursor() as cursor:
        cursor.execute(
            "SELECT ROUTINE_NAME FROM information_schema.ROUTINES "
            "WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME LIKE 'rds\\_%'"
        )
        return {name for (name,) in cursor.fetchall()}
