"""The SQL each kind of server speaks for replication, as pure builders, plus how to tell them apart.

Two things vary independently. The *dialect* is how replication is managed: Aurora (and RDS) deny
the master user ``CHANGE MASTER``/``SUPER`` and offer ``mysql.rds_*`` procedures instead, while
self-managed servers take the native statements. The *engine* (MySQL or MariaDB) decides variable
names and the GTID format. The sandbox runs the aurora3 dialect on the MariaDB engine, so GTID
statements follow the engine, everything else the dialect.

Every builder returns a ``Statement``; values always travel as driver parameters, never as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple

from aurora_bluegreen.errors import ReadOnlyNeedsControlPlane
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus


class Statement(NamedTuple):
    sql: str
    params: tuple[Any, ...] = ()


class Dialect(str, Enum):
    AURORA2 = "aurora2"
    """Aurora MySQL 2 (MySQL 5.7): ``mysql.rds_*_external_master``; also fits RDS for MySQL 5.7."""
    AURORA3 = "aurora3"
    """Aurora MySQL 3 (MySQL 8.0): ``mysql.rds_*_external_source``, ``mysql.rds_set_read_only``."""
    MYSQL = "mysql"
    """Self-managed MySQL 8.0.23 or later: ``CHANGE REPLICATION SOURCE TO``."""
    MARIADB = "mariadb"
    """Self-managed MariaDB: ``CHANGE MASTER TO``."""

    @classmethod
    def named(cls, name: str) -> Dialect:
        try:
            return cls(name.strip().lower())
        except ValueError:
            choices = ", ".join(dialect.value for dialect in cls)
            raise ValueError(f"unknown dialect {name!r}: choose one of {choices}") from None

    @property
    def uses_rds_procedures(self) -> bool:
        return self in (Dialect.AURORA2, Dialect.AURORA3)

    @property
    def can_set_read_only(self) -> bool:
        """Aurora MySQL 2 has no procedure for it and denies ``SET GLOBAL``: only its parameter group can."""
        return self is not Dialect.AURORA2


class Engine(str, Enum):
    MYSQL = "mysql"
    MARIADB = "mariadb"


@dataclass(frozen=True)
class ServerVersion:
    """What a server says it is: ``@@version`` and ``@@version_comment``."""

    text: str
    comment: str = ""

    @property
    def engine(self) -> Engine:
        return Engine.MARIADB if "mariadb" in f"{self.text} {self.comment}".lower() else Engine.MYSQL

    @property
    def number(self) -> tuple[int, int, int]:
        match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", self.text)
        if not match:
            raise ValueError(f"cannot read a version number from {self.text!r}")
        major, minor, patch = match.groups()
        return (int(major), int(minor), int(patch or 0))

    def __str__(self) -> str:
        return f"{self.text} ({self.comment})" if self.comment else self.text

    def mysql_since(self, *version: int) -> bool:
        """Whether this is MySQL at ``version`` or later; MariaDB never is (it kept the old words)."""
        return self.engine is Engine.MYSQL and self.number >= tuple(version)

    @property
    def says_replica(self) -> bool:
        """MySQL 8.0.22 renamed SHOW SLAVE STATUS and START/STOP/RESET SLAVE; 8.4 removed the old names."""
        return self.mysql_since(8, 0, 22)


def detect_dialect(
    version: str, version_comment: str, aurora_version: str | None, rds_procedures: Collection[str]
) -> Dialect:
    """Pick the dialect from what the server reports.

    ``aurora_version`` is the result of ``SELECT aurora_version()`` (None where the function does not
    exist); ``rds_procedures`` are the routine names found in the ``mysql`` schema. Servers that
    carry the RDS procedures without being Aurora (RDS for MySQL, the sandbox) are managed like Aurora.
    """
    if aurora_version is not None:
        major = aurora_version.strip().split(".", 1)[0]
        return Dialect.AURORA2 if major in ("1", "2") else Dialect.AURORA3
    if "rds_set_external_source" in rds_procedures:
        return Dialect.AURORA3
    if "rds_set_external_master" in rds_procedures:
        return Dialect.AURORA2
    if ServerVersion(version, version_comment).engine is Engine.MARIADB:
        return Dialect.MARIADB
    return Dialect.MYSQL


# Statements that every dialect shares.
VERSION = Statement("SELECT @@global.version, @@global.version_comment")
AURORA_VERSION = Statement("SELECT aurora_version()")
RDS_PROCEDURES = Statement(
    "SELECT ROUTINE_NAME FROM information_schema.ROUTINES"
    " WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME IN (%s, %s, %s)",
    ("rds_set_external_source", "rds_set_external_master", "rds_set_read_only"),
)
BINLOG_SETTINGS = Statement("SELECT @@global.log_bin, @@global.binlog_format")
READ_ONLY = Statement("SELECT @@global.read_only")
MARIADB_GTID_SLAVE_POS = Statement("SELECT @@global.gtid_slave_pos")
# A multithreaded replica (Aurora MySQL 3.04+ runs four workers by default) reports a failed worker
# as the coordinator's "Coordinator stopped because there were error(s) in the worker(s)", under
# error 13146 or the worker's number; the error a person must read is the worker's.
_COORDINATOR_STOPPED = 13146


def is_coordinator_error(errno: int, error: str) -> bool:
    return errno == _COORDINATOR_STOPPED or error.startswith("Coordinator stopped because")


WORKER_ERROR = Statement(
    "SELECT LAST_ERROR_NUMBER AS errno, LAST_ERROR_MESSAGE AS error"
    " FROM performance_schema.replication_applier_status_by_worker"
    " WHERE CHANNEL_NAME = '' AND LAST_ERROR_NUMBER <> 0 ORDER BY LAST_ERROR_TIMESTAMP DESC LIMIT 1"
)


def long_running_transactions(min_seconds: float) -> Statement:
    return Statement(
        "SELECT trx_mysql_thread_id AS thread_id,"
        " TIMESTAMPDIFF(SECOND, trx_started, NOW()) AS seconds_open, trx_state AS state, trx_query AS query"
        " FROM information_schema.innodb_trx"
        " WHERE TIMESTAMPDIFF(SECOND, trx_started, NOW()) >= %s ORDER BY trx_started",
        (min_seconds,),
    )


# DDL on blue at cutover time would sit in the freeze (it holds metadata locks) or replicate late.
RUNNING_DDL = Statement(
    "SELECT ID AS thread_id, TIME AS seconds, LEFT(INFO, 200) AS query"
    " FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query'"
    " AND INFO REGEXP '^[[:space:]]*(ALTER|CREATE|DROP|RENAME|TRUNCATE|OPTIMIZE)[[:space:]]'"
)


# The consistency check reads both clusters inside snapshots taken during the freeze.
START_SNAPSHOT = Statement("START TRANSACTION WITH CONSISTENT SNAPSHOT")
_USER_SCHEMAS = "TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
USER_TABLE_COLUMNS = Statement(
    "SELECT c.TABLE_SCHEMA AS table_schema, c.TABLE_NAME AS table_name, c.COLUMN_NAME AS column_name,"
    " t.TABLE_ROWS AS table_rows FROM information_schema.COLUMNS c"
    " JOIN information_schema.TABLES t USING (TABLE_SCHEMA, TABLE_NAME)"
    f" WHERE t.TABLE_TYPE = 'BASE TABLE' AND c.{_USER_SCHEMAS}"
    " ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION"
)


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def table_checksum(schema: str, table: str, columns: Sequence[str]) -> Statement:
    """Row count and an order-independent checksum over ``columns`` (NULL kept apart from '')."""
    # CONCAT_WS skips NULLs; the ISNULL flag beside each value keeps NULL and '' apart.
    values = ", ".join(f"{quote_identifier(c)}, ISNULL({quote_identifier(c)})" for c in columns)
    return Statement(
        f"SELECT COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('#', {values}))), 0)"
        f" FROM {quote_identifier(schema)}.{quote_identifier(table)}"
    )


# GTIDs follow the engine.
def gtid_mode(engine: Engine) -> Statement | None:
    """None for MariaDB, which has no GTID mode: it writes a GTID for every transaction."""
    return Statement("SELECT @@global.gtid_mode") if engine is Engine.MYSQL else None


def own_gtid_evidence(engine: Engine) -> Statement:
    """This server's GTID history and its own id, to tell local writes from replicated ones.

    MariaDB's gtid_binlog_state keeps the last GTID of every (domain, server_id) pair, so a
    local write leaves an entry with this server's id even after replicated events follow it.
    """
    if engine is Engine.MARIADB:
        return Statement("SELECT @@global.gtid_binlog_state, @@global.server_id")
    return Statement("SELECT @@global.gtid_executed, @@global.server_uuid")


def executed_gtid_set(engine: Engine) -> Statement:
    """The transactions this server has executed and logged, as a source would report them."""
    if engine is Engine.MARIADB:
        return Statement("SELECT @@global.gtid_binlog_pos")
    return Statement("SELECT @@global.gtid_executed")


# Statements the server answers itself follow its version; replication management follows the
# dialect (procedures on Aurora), and the server's version where the dialect sends native SQL.
def show_replica_status(server: ServerVersion) -> Statement:
    return Statement("SHOW REPLICA STATUS" if server.says_replica else "SHOW SLAVE STATUS")


def show_source_status(server: ServerVersion) -> Statement:
    """MySQL 8.2 renamed ``SHOW MASTER STATUS`` and 8.4 removed the old name."""
    return Statement("SHOW BINARY LOG STATUS" if server.mysql_since(8, 2) else "SHOW MASTER STATUS")


def set_external_source(
    dialect: Dialect,
    host: str,
    port: int,
    user: str,
    password: str,
    position: BinlogPosition,
    *,
    ssl: bool,
) -> Statement:
    """Point this server at a source, starting at a binlog file and position."""
    if dialect.uses_rds_procedures:
        return Statement(
            f"CALL mysql.{_rds_external(dialect, 'set')}(%s, %s, %s, %s, %s, %s, %s)",
            (host, port, user, password, position.file, position.position, int(ssl)),
        )
    if dialect is Dialect.MYSQL:
        # GET_SOURCE_PUBLIC_KEY lets a caching_sha2_password user authenticate without TLS.
        return Statement(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s, SOURCE_PORT = %s, SOURCE_USER = %s,"
            " SOURCE_PASSWORD = %s, SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = %s, SOURCE_LOG_POS = %s,"
            " SOURCE_SSL = %s, GET_SOURCE_PUBLIC_KEY = 1",
            (host, port, user, password, position.file, position.position, int(ssl)),
        )
    return Statement(
        "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s,"
        " MASTER_USE_GTID = no, MASTER_LOG_FILE = %s, MASTER_LOG_POS = %s, MASTER_SSL = %s,"
        " MASTER_CONNECT_RETRY = 1",
        (host, port, user, password, position.file, position.position, int(ssl)),
    )


def set_external_source_auto_position(
    dialect: Dialect, host: str, port: int, user: str, password: str, *, ssl: bool
) -> Statement:
    """Point this server at a source and let GTIDs decide where to start.

    On MariaDB the start is the replica's ``gtid_slave_pos``, which must hold the clone's GTID position.
    """
    if dialect.uses_rds_procedures:
        return Statement(
            f"CALL mysql.{_rds_external(dialect, 'set')}_with_auto_position(%s, %s, %s, %s, %s)",
            (host, port, user, password, int(ssl)),
        )
    if dialect is Dialect.MYSQL:
        return Statement(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s, SOURCE_PORT = %s, SOURCE_USER = %s,"
            " SOURCE_PASSWORD = %s, SOURCE_AUTO_POSITION = 1, SOURCE_SSL = %s, GET_SOURCE_PUBLIC_KEY = 1",
            (host, port, user, password, int(ssl)),
        )
    return Statement(
        "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s,"
        " MASTER_USE_GTID = slave_pos, MASTER_SSL = %s, MASTER_CONNECT_RETRY = 1",
        (host, port, user, password, int(ssl)),
    )


def start_replication(dialect: Dialect, server: ServerVersion) -> Statement:
    return _by_dialect(dialect, server, "CALL mysql.rds_start_replication", "START {}")


def stop_replication(dialect: Dialect, server: ServerVersion) -> Statement:
    return _by_dialect(dialect, server, "CALL mysql.rds_stop_replication", "STOP {}")


def reset_external_source(dialect: Dialect, server: ServerVersion) -> Statement:
    """Forget the source entirely, so the server is no longer a replica."""
    return _by_dialect(dialect, server, f"CALL mysql.{_rds_external(dialect, 'reset')}", "RESET {} ALL")


def set_read_only(dialect: Dialect, read_only: bool) -> Statement:
    if dialect is Dialect.AURORA2:
        raise ReadOnlyNeedsControlPlane(
            "Aurora MySQL 2 cannot switch read_only by SQL; change the cluster's parameter group"
        )
    if dialect is Dialect.AURORA3:
        return Statement("CALL mysql.rds_set_read_only(%s)", (int(read_only),))
    if dialect is Dialect.MYSQL:
        # super_read_only also stops SUPER users; switching read_only off clears super_read_only too.
        if read_only:
            return Statement("SET GLOBAL super_read_only = 1")
        return Statement("SET GLOBAL read_only = 0")
    return Statement("SET GLOBAL read_only = %s", (int(read_only),))


def show_binlog_retention(dialect: Dialect) -> Statement:
    if dialect.uses_rds_procedures:
        return Statement("CALL mysql.rds_show_configuration")
    return Statement("SELECT @@global.binlog_expire_logs_seconds")


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


def set_binlog_retention(dialect: Dialect, hours: int | None) -> Statement:
    if dialect.uses_rds_procedures:
        return Statement("CALL mysql.rds_set_configuration('binlog retention hours', %s)", (hours,))
    return Statement("SET GLOBAL binlog_expire_logs_seconds = %s", ((hours or 0) * 3600,))


def wait_for_position(server: ServerVersion, position: BinlogPosition, timeout_seconds: float) -> Statement:
    """Block on the server until it has executed ``position`` of its source, or the timeout passes.

    MariaDB reads the timeout as a whole number, and a timeout of 0 means "wait forever" on every
    engine, so it is rounded up to at least one second: it may overrun by less than a second.
    MySQL 8.0.26 renamed the function (SOURCE_POS_WAIT); the old name is deprecated.
    """
    function = "SOURCE_POS_WAIT" if server.mysql_since(8, 0, 26) else "MASTER_POS_WAIT"
    timeout = max(1, math.ceil(timeout_seconds))
    return Statement(f"SELECT {function}(%s, %s, %s)", (position.file, position.position, timeout))


def wait_for_gtid_set(gtid_set: str, timeout_seconds: float) -> Statement:
    """MySQL: block until this server has executed every GTID of ``gtid_set``; 0 when it has, 1 on timeout.

    Unlike SOURCE_POS_WAIT it answers the moment the transactions commit: a multithreaded replica
    (Aurora MySQL 3.04+ runs four workers by default) advances its executed position only at
    checkpoints, every ``replica_checkpoint_period`` (300 ms by default).
    """
    return Statement(
        "SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)", (gtid_set, max(1, math.ceil(timeout_seconds)))
    )


# The replication user.
def create_user(user: str, host: str, password: str) -> Statement:
    return Statement("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))


def grant_replication(user: str, host: str) -> Statement:
    return Statement("GRANT REPLICATION SLAVE ON *.* TO %s@%s", (user, host))


def show_grants(user: str, host: str) -> Statement:
    return Statement("SHOW GRANTS FOR %s@%s", (user, host))


def user_hosts(user: str) -> Statement:
    return Statement("SELECT Host AS host FROM mysql.user WHERE User = %s ORDER BY Host", (user,))


def drop_user(user: str, host: str) -> Statement:
    return Statement("DROP USER %s@%s", (user, host))


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


def _rds_external(dialect: Dialect, verb: str) -> str:
    return f"rds_{verb}_external_{'source' if dialect is Dialect.AURORA3 else 'master'}"


def _by_dialect(dialect: Dialect, server: ServerVersion, rds: str, native: str) -> Statement:
    """The RDS procedure, or the native statement with REPLICA or SLAVE as the server says it."""
    if dialect.uses_rds_procedures:
        return Statement(rds)
    return Statement(native.format("REPLICA" if server.says_replica else "SLAVE"))


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
