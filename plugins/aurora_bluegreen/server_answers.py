"""Reading what servers answer: replica status in either column family, grant listings, retention.

``dialects`` builds the statements; this module turns their answers into the package's values, as
pure functions over rows and text (tested without a server).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aurora_bluegreen.dialects import Dialect
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus


def binlog_retention_from_rows(dialect: Dialect, rows: Sequence[Mapping[str, Any]]) -> int | None:
    """Hours of binlog the server keeps, from ``show_binlog_retention``'s rows; None when it is unset.

    "Unset" differs by engine, but it round-trips: ``set_binlog_retention(dialect, None)`` restores
    it. On Aurora it is NULL, binlogs "cleaned up lazily", "usually not longer than a day"
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-configuring.html;
    the setting-up page calls the default 24 hours); Aurora refuses 0. MySQL and MariaDB with 0 never
    expire binlogs by age.
    """
    if dialect.uses_rds_procedures:
        values = [row.get("value") for row in rows if row.get("name") == "binlog retention hours"]
        return int(values[0]) if values and values[0] is not None else None
    seconds = int(next(iter(rows[0].values())))
    return math.ceil(seconds / 3600) if seconds else None


_ROLE_GRANT = re.compile(r"^GRANT (?P<roles>.+?) TO ", re.IGNORECASE)


_ROLE = re.compile(r"`(?P<name>[^`]+)`(?:@`(?P<host>[^`]*)`)?|(?P<bare>[A-Za-z0-9_$]+)")


def granted_roles(grants: Sequence[str]) -> list[tuple[str, str | None]]:
    """The roles a ``SHOW GRANTS`` listing grants: ``GRANT `r`@`%` TO ...`` (MySQL) or
    ``GRANT `r` TO ...`` (MariaDB), which name no privilege and no ``ON``."""
    roles = []
    for line in grants:
        match = _ROLE_GRANT.match(line)
        if not match or " ON " in match.group("roles").upper():
            continue
        for role in _ROLE.finditer(match.group("roles")):
            name = role.group("name") or role.group("bare")
            roles.append((name, role.group("host")))
    return roles


_GRANT_ON_EVERYTHING = re.compile(r"^GRANT (?P<privileges>.+?) ON \*\.\* TO ", re.IGNORECASE)


_REPLICATION_PRIVILEGES = {"REPLICATION SLAVE", "REPLICATION REPLICA"}


def is_replication_only(grants: Sequence[str]) -> bool:
    """True when ``SHOW GRANTS`` lines give exactly REPLICATION SLAVE on ``*.*`` and nothing else.

    MariaDB appends ``IDENTIFIED BY PASSWORD '<hash>'`` and calls the privilege REPLICATION REPLICA
    too; any other privilege, object, role or grant option means the user is not ours to change.
    """
    privileges: set[str] = set()
    for line in grants:
        match = _GRANT_ON_EVERYTHING.match(line)
        if not match or re.search(r"\bWITH\b.*\bOPTION\b", line, re.IGNORECASE):
            return False
        privileges |= {privilege.strip().upper() for privilege in match["privileges"].split(",")}
    return bool(privileges & _REPLICATION_PRIVILEGES) and privileges <= _REPLICATION_PRIVILEGES | {"USAGE"}


def replica_status_from_rows(
    rows: Sequence[Mapping[str, Any]], gtid_slave_pos: str | None = None
) -> ReplicaStatus | None:
    """Normalize ``SHOW REPLICA STATUS``/``SHOW SLAVE STATUS`` rows, in either column family.

    MySQL lists one row per channel; the external source is the default (unnamed) channel. MariaDB
    has no executed-GTID column: pass its ``@@gtid_slave_pos``, used when the replica runs on GTIDs.
    """
    default_channel = [row for row in rows if not row.get("Channel_Name")]
    if not default_channel:
        return None
    row = default_channel[0]

    def column(modern: str, legacy: str) -> Any:
        return row[modern] if modern in row else row.get(legacy)

    using_gtid = row.get("Using_Gtid")
    auto_position = bool(int(row.get("Auto_Position") or 0)) or using_gtid not in (None, "", "No")
    executed_gtid_set = row.get("Executed_Gtid_Set")
    if executed_gtid_set is None and auto_position:
        executed_gtid_set = gtid_slave_pos
    seconds_behind = column("Seconds_Behind_Source", "Seconds_Behind_Master")
    return ReplicaStatus(
        io_running=column("Replica_IO_Running", "Slave_IO_Running"),
        sql_running=column("Replica_SQL_Running", "Slave_SQL_Running"),
        seconds_behind=None if seconds_behind is None else int(seconds_behind),
        source_host=column("Source_Host", "Master_Host"),
        source_port=int(column("Source_Port", "Master_Port")),
        read_position=_position(
            column("Source_Log_File", "Master_Log_File"), column("Read_Source_Log_Pos", "Read_Master_Log_Pos")
        ),
        exec_position=_position(
            column("Relay_Source_Log_File", "Relay_Master_Log_File"),
            column("Exec_Source_Log_Pos", "Exec_Master_Log_Pos"),
        ),
        last_io_errno=int(row.get("Last_IO_Errno") or 0),
        last_io_error=row.get("Last_IO_Error") or "",
        last_sql_errno=int(row.get("Last_SQL_Errno") or 0),
        last_sql_error=row.get("Last_SQL_Error") or "",
        executed_gtid_set=None if executed_gtid_set is None else "".join(executed_gtid_set.split()),
        auto_position=auto_position,
    )


def _position(file: str | None, position: Any) -> BinlogPosition | None:
    return BinlogPosition(file, int(position)) if file else None
