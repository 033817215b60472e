"""The data plane: the SQL side of one cluster (replication, read_only, users, the user's own SQL).

One name for one thing: ``ClusterSqlHook`` is the hook, ``protocols.ClusterSql`` the protocol the
domain modules need of it, and ``ClusterAccess.sql(cluster_id, role)`` where operators get one.

Credentials come from an Airflow MySQL connection. Green exists only at run time and carries blue's
users, so one connection serves both: ``host``/``port`` point its credentials at another endpoint.
How each statement runs (one connection, errors without secrets, logs) is ``sql_session.SqlSession``.
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import attrs

from aurora_bluegreen import dialects, server_answers
from aurora_bluegreen.consistency import TableShape
from aurora_bluegreen.dialects import Dialect, Engine, ServerVersion, Statement
from aurora_bluegreen.errors import (
    ClusterStateError,
    ReplicationNotRunning,
    StatementFailed,
    UserNotManagedByUs,
)
from aurora_bluegreen.gtid import GtidSet, MariadbGtidSet, MysqlGtidSet
from aurora_bluegreen.guardrails import GtidHistory
from aurora_bluegreen.hooks.sql_session import SqlSession
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus, SourceState

_NO_SUCH_GRANT = 1141
# Same on MySQL and MariaDB: rows the previous statement on this connection changed.
_ROW_COUNT = Statement("SELECT ROW_COUNT()")


@dataclass(frozen=True)
class BinlogSettings:
    log_bin: bool
    binlog_format: str
    gtid_mode: bool
    """MySQL's ``gtid_mode=ON``. Always False on MariaDB, which has no such mode: it writes GTIDs for
    every transaction and a replica uses them only when set up with ``MASTER_USE_GTID``."""


@dataclass(frozen=True)
class SqlResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    affected_rows: int
    """Rows changed by a DML statement; -1 for a statement that returns rows or changes none."""
    seconds: float


@dataclass(frozen=True)
class RunningStatement:
    thread_id: int
    seconds: int
    query: str


@dataclass(frozen=True)
class Session:
    thread_id: int
    user: str
    host: str
    command: str
    seconds: int
    query: str | None


@dataclass(frozen=True)
class OpenTransaction:
    thread_id: int
    seconds_open: int
    state: str
    query: str | None


class ClusterSqlHook(SqlSession):
    """The SQL side of one cluster: blue as a source, green as its replica, either one's read_only.

    :param mysql_conn_id: a MySQL connection with the cluster's master user.
    :param host: endpoint to use instead of the connection's host.
    :param port: port to use instead of the connection's port.
    :param dialect: aurora2, aurora3, mysql or mariadb; else the connection extra ``dialect``; else
        detected from the server once.
    :param cluster: the cluster's role and id (``green green-1``), named in every error.
    """

    def __init__(
        self,
        mysql_conn_id: str,
        *,
        host: str | None = None,
        port: int | None = None,
        dialect: str | None = None,
        cluster: str | None = None,
        **kwargs: Any,
    ) -> None:
        if host is not None or port is not None:
            connection = kwargs.get("connection") or self.get_connection(mysql_conn_id)
            kwargs["connection"] = attrs.evolve(
                connection,
                host=connection.host if host is None else host,
                port=connection.port if port is None else port,
            )
        super().__init__(mysql_conn_id, **kwargs)
        self._dialect_name = dialect
        self.cluster_label = cluster
        self._server_connection: Any = None
        self._held_logs: list | None = None

    # -- what the server is --------------------------------------------------------------------

    @cached_property
    def server_version(self) -> ServerVersion:
        text, comment = self._first_row(dialects.VERSION)
        return ServerVersion(text, comment or "")

    @cached_property
    def dialect(self) -> Dialect:
        forced = self._dialect_name or self.connection_extra.get("dialect")
        if forced:
            return Dialect.named(forced)
        try:
            (aurora_version,) = self._first_row(dialects.AURORA_VERSION)
        except StatementFailed:
            aurora_version = None
        if isinstance(aurora_version, bytes):
            # A loadable function answers with a binary string: the sandbox's aurora_version() does.
            aurora_version = aurora_version.decode("ascii", errors="replace")
        detected = dialects.detect_dialect(
            self.server_version.text, self.server_version.comment, aurora_version, self.rds_procedures
        )
        self.log.info("%s runs %s: using the %s dialect", self.where, self.server_version, detected.value)
        return detected

    @cached_property
    def rds_procedures(self) -> frozenset[str]:
        return frozenset(row["ROUTINE_NAME"] for row in self._rows(dialects.RDS_PROCEDURES))

    @property
    def can_set_read_only(self) -> bool:
        """Whether SQL can flip read_only; Aurora MySQL 3 gained mysql.rds_set_read_only in 3.06."""
        if not self.dialect.can_set_read_only:
            return False
        return not self.dialect.uses_rds_procedures or "rds_set_read_only" in self.rds_procedures

    def binlog_settings(self) -> BinlogSettings:
        log_bin, binlog_format = self._first_row(dialects.BINLOG_SETTINGS)
        gtid_mode_query = dialects.gtid_mode(self.server_version.engine)
        gtid_mode = gtid_mode_query is not None and self._first_row(gtid_mode_query)[0] == "ON"
        return BinlogSettings(log_bin=bool(int(log_bin)), binlog_format=binlog_format, gtid_mode=gtid_mode)

    # -- the server as a source ----------------------------------------------------------------

    def source_position(self) -> BinlogPosition:
        """Where this server's binary log ends now."""
        return self.source_state().position

    def source_state(self) -> SourceState:
        """Where this server's binary log ends now and, on MySQL with GTIDs, what it has executed."""
        rows = self._rows(dialects.show_source_status(self.server_version))
        if not rows:
            raise ClusterStateError(f"{self.where} has binary logging off: it reports no binlog position")
        gtids = "".join((rows[0].get("Executed_Gtid_Set") or "").split())
        return SourceState(BinlogPosition(rows[0]["File"], int(rows[0]["Position"])), gtids or None)

    def executed_gtid_set(self) -> GtidSet:
        """The transactions this server has executed and written to its binary log."""
        (text,) = self._first_row(dialects.executed_gtid_set(self.server_version.engine))
        parse = MariadbGtidSet.parse if self.server_version.engine is Engine.MARIADB else MysqlGtidSet.parse
        return parse(text)

    def binlog_retention_hours(self) -> int | None:
        rows = self._rows(dialects.show_binlog_retention(self.dialect))
        return server_answers.binlog_retention_from_rows(self.dialect, rows)

    def set_binlog_retention_hours(self, hours: int | None) -> None:
        """Keep binlogs this long, so green can still read them after a pause; None restores the default."""
        with self._logged(f"Set binlog retention to {'unset' if hours is None else f'{hours}h'}"):
            self._run(dialects.set_binlog_retention(self.dialect, hours))

    def long_running_transactions(self, min_seconds: float) -> list[OpenTransaction]:
        """Transactions open for at least ``min_seconds``: a cutover would wait for them, or cut them off."""
        return [
            OpenTransaction(
                thread_id=int(row["thread_id"]),
                seconds_open=int(row["seconds_open"]),
                state=row["state"],
                query=row["query"],
            )
            for row in self._rows(dialects.long_running_transactions(min_seconds))
        ]

    def running_ddl(self) -> list[RunningStatement]:
        return [
            RunningStatement(int(row["thread_id"]), int(row["seconds"] or 0), row["query"])
            for row in self._rows(dialects.RUNNING_DDL)
        ]

    def gtid_history(self) -> GtidHistory | None:
        """This server's GTID history and own id; None where GTIDs give no evidence (MySQL, GTID off)."""
        engine = self.server_version.engine
        if engine is Engine.MYSQL and not self.binlog_settings().gtid_mode:
            return None
        history, own_id = self._first_row(dialects.own_gtid_evidence(engine))
        return GtidHistory(engine.value, history or "", str(own_id))

    # -- sessions ------------------------------------------------------------------------------

    @property
    def login(self) -> str:
        """The user this hook logs in as: the cluster's master user."""
        return self.connection.login

    @cached_property
    def session_id(self) -> int:
        """This hook's own session on the server (it connects on first use)."""
        (value,) = self._first_row(dialects.SESSION_ID)
        return int(value)

    def sessions(self) -> list[Session]:
        """Every other client session on the server, with what it runs now."""
        return [
            Session(
                int(r["thread_id"]),
                r["user"],
                r["host"] or "",
                r["command"],
                int(r["seconds"] or 0),
                r["query"],
            )
            for r in self._rows(dialects.SESSIONS)
        ]

    def end_session(self, thread_id: int) -> None:
        with self._logged(f"Ended session {thread_id}"):
            self._run(dialects.end_session(self.dialect, thread_id))

    def set_lock_wait_timeout(self, seconds: float) -> None:
        self._run(dialects.set_lock_wait_timeout(seconds))

    # -- consistency snapshots -----------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection (and learn the dialect) now, ahead of time-critical statements."""
        self._db()
        _ = self.dialect

    def start_snapshot(self) -> None:
        """Open a consistent read view on this hook's connection; ``close()`` ends it."""
        self._run(dialects.START_SNAPSHOT)

    def user_tables(self) -> dict[tuple[str, str], TableShape]:
        columns: dict[tuple[str, str], list[str]] = {}
        rows: dict[tuple[str, str], int] = {}
        for row in self._rows(dialects.USER_TABLE_COLUMNS):
            key = (row["table_schema"], row["table_name"])
            columns.setdefault(key, []).append(row["column_name"])
            rows[key] = int(row["table_rows"] or 0)
        return {key: TableShape(tuple(names), rows[key]) for key, names in columns.items()}

    def table_checksum(self, schema: str, table: str, columns: list[str]) -> tuple[int, int]:
        count, checksum = self._first_row(dialects.table_checksum(schema, table, columns))
        return int(count), int(checksum)

    # -- the replication user ------------------------------------------------------------------

    def replication_user_grants(self, user: str, host: str = "%") -> list[str] | None:
        """The user's ``SHOW GRANTS`` lines, or None when there is no such user."""
        try:
            return [next(iter(row.values())) for row in self._rows(dialects.show_grants(user, host))]
        except StatementFailed as error:
            if error.errno == _NO_SUCH_GRANT:
                return None
            raise

    def grants_by_host(self, user: str) -> dict[str, list[str]]:
        """``SHOW GRANTS`` for every account with this user name, keyed by host; empty if none.

        The grants of every role the account holds follow its own, each line ending in
        ``-- through role <name>``: a privilege that arrives through a role counts as much as a
        direct one (Aurora 3's master user writes through read_only by ``rds_superuser_role``).
        Every granted role is expanded, default or not: a session can ``SET ROLE`` at any time.
        """
        hosts = [row["host"] for row in self._rows(dialects.user_hosts(user))]
        return {
            host: self._grants_with_roles(self.replication_user_grants(user, host) or []) for host in hosts
        }

    def _grants_with_roles(self, grants: list[str]) -> list[str]:
        expanded, seen = list(grants), set()
        pending = server_answers.granted_roles(grants)
        while pending:
            role, host = pending.pop()
            if (role, host) in seen:
                continue
            seen.add((role, host))
            lines = [
                next(iter(row.values()))
                for row in self._rows(dialects.show_role_grants(self.server_version, role, host))
            ]
            expanded += [f"{line} -- through role {role}" for line in lines]
            pending += server_answers.granted_roles(lines)
        return expanded

    def replication_user_exists(self, user: str, host: str = "%") -> bool:
        return self.replication_user_grants(user, host) is not None

    def ensure_replication_user(
        self, user: str, password: str, host: str = "%", require_ssl: bool = False
    ) -> bool:
        """Create ``user`` with REPLICATION SLAVE only; True if created, False if ours already existed.

        An existing user with anything beyond REPLICATION SLAVE is someone else's: UserNotManagedByUs.
        The password of an existing user is left as it is. ``require_ssl``: the user may log in
        over TLS only, so replication cannot silently fall back to plain text.
        """
        grants = self.replication_user_grants(user, host)
        if grants is not None:
            _refuse_unless_replication_only(user, host, grants)
            return False
        tls = " (TLS required)" if require_ssl else ""
        with self._logged(f"Created replication user {user}@{host} with REPLICATION SLAVE only{tls}"):
            statement = dialects.create_user(
                self.server_version, user, host, password, require_ssl=require_ssl
            )
            self._run(statement, secret=password)
            try:
                self._run(dialects.grant_replication(user, host))
            except StatementFailed:
                # A user without its grant would look foreign to every later run; leave no trace.
                self._run(dialects.drop_user(user, host))
                raise
        return True

    def drop_replication_user(self, user: str, host: str = "%") -> bool:
        """Drop ``user`` if it has REPLICATION SLAVE only; False if it did not exist."""
        grants = self.replication_user_grants(user, host)
        if grants is None:
            return False
        _refuse_unless_replication_only(user, host, grants)
        with self._logged(f"Dropped replication user {user}@{host}"):
            self._run(dialects.drop_user(user, host))
        return True

    # -- the server as a replica ---------------------------------------------------------------

    def replica_status(self) -> ReplicaStatus | None:
        """Replication status of the default channel; None when this server is not a replica."""
        rows = self._rows(dialects.show_replica_status(self.server_version))
        gtid_slave_pos = None
        # Only a GTID replica needs its executed set, and the cutover reads this inside the freeze.
        if rows and self.server_version.engine is Engine.MARIADB and rows[0].get("Using_Gtid", "No") != "No":
            (gtid_slave_pos,) = self._first_row(dialects.MARIADB_GTID_SLAVE_POS)
        status = server_answers.replica_status_from_rows(rows, gtid_slave_pos)
        if status is not None and dialects.is_coordinator_error(status.last_sql_errno, status.last_sql_error):
            worker = self._rows(dialects.WORKER_ERROR)
            if worker:
                return dataclasses.replace(
                    status,
                    last_sql_errno=int(worker[0]["errno"]),
                    last_sql_error=f"{worker[0]['error']} (a worker of the multithreaded applier)",
                )
        return status

    def set_external_source(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        position: BinlogPosition | None = None,
        gtid: bool = False,
        ssl: bool = False,
    ) -> None:
        """Make this server a replica of ``host:port``, from ``position`` or by GTID auto-position."""
        if gtid == (position is not None):
            raise ValueError("set_external_source needs a binlog position or gtid=True, not both or neither")
        if position is None:
            statement = dialects.set_external_source_auto_position(
                self.dialect, host, port, user, password, ssl=ssl
            )
        else:
            statement = dialects.set_external_source(
                self.dialect, host, port, user, password, position, ssl=ssl
            )
        start = "GTID auto-position" if position is None else str(position)
        what = (
            f"Set the replication source to {host}:{port} as {user} from {start}{' over TLS' if ssl else ''}"
        )
        with self._logged(what):
            self._run(statement, secret=password)
            if ssl and self.dialect is Dialect.AURORA3:
                self._run(dialects.BINLOG_SOURCE_SSL_ON)

    def offers_tls(self) -> bool:
        """Whether this server accepts TLS connections (it has a certificate loaded)."""
        rows = self._rows(dialects.TLS_OFFERED)
        return bool(rows and rows[0].get("Value"))

    @property
    def can_encrypt_replication(self) -> bool:
        """Whether this server, as a replica, can connect to its source over TLS without imported
        client certificates: natively, or on Aurora MySQL 3.06+ by rds_set_binlog_source_ssl."""
        if self.dialect.uses_rds_procedures:
            return self.dialect is Dialect.AURORA3 and "rds_set_binlog_source_ssl" in self.rds_procedures
        return True

    def start_replication(self) -> None:
        with self._logged("Started replication"):
            self._run(dialects.start_replication(self.dialect, self.server_version))

    def stop_replication(self) -> None:
        with self._logged("Stopped replication"):
            self._run(dialects.stop_replication(self.dialect, self.server_version))

    def reset_external_source(self) -> None:
        """Forget the source, so this server is no longer a replica."""
        with self._logged("Removed the replication source"):
            self._run(dialects.reset_external_source(self.dialect, self.server_version))

    def wait_for_position(self, position: BinlogPosition, timeout_seconds: float) -> bool:
        """Block until this replica has executed ``position`` of its source; False on timeout.

        The wait happens on the server, so it returns the moment the position is reached. It raises
        ReplicationNotRunning at once when the replica cannot get there (SQL thread stopped, no source).
        """
        (waited,) = self._first_row(
            dialects.wait_for_position(self.server_version, position, timeout_seconds)
        )
        if waited is None:
            raise ReplicationNotRunning(
                f"{self.where} cannot reach {position}: its SQL thread is stopped or it has no source"
            )
        return int(waited) >= 0

    def wait_for_gtid_set(self, gtid_set: str, timeout_seconds: float) -> bool:
        """Block until this server has executed every GTID of ``gtid_set`` (MySQL); False on timeout."""
        (waited,) = self._first_row(dialects.wait_for_gtid_set(gtid_set, timeout_seconds))
        return int(waited) == 0

    # -- read_only -----------------------------------------------------------------------------

    def read_only(self) -> bool:
        (value,) = self._first_row(dialects.READ_ONLY)
        return bool(int(value))

    def set_read_only(self, read_only: bool) -> None:
        """Switch read_only; ReadOnlyNeedsControlPlane on Aurora MySQL 2.

        The server answers ``SET GLOBAL read_only`` (bare or inside ``mysql.rds_set_read_only``)
        only once the setting is in effect: turning it on first waits for running commits. Its OK
        is the proof, so the value is not read back; the cutover pays for every round trip.
        """
        statement = dialects.set_read_only(self.dialect, read_only)
        with self._logged(f"Set read_only={int(read_only)}"):
            self._run(statement)

    # -- the user's own SQL (migrations, checks, masking) ---------------------------------------

    def run_sql(self, sql: str) -> SqlResult:
        """Run one statement as written (``%`` is not a parameter marker here) and time it."""
        started = time.monotonic()
        columns, rows = self._result(Statement(sql))
        seconds = time.monotonic() - started
        (affected,) = self._first_row(_ROW_COUNT)
        return SqlResult(columns, rows, int(affected), seconds)


def _refuse_unless_replication_only(user: str, host: str, grants: Sequence[str]) -> None:
    if not server_answers.is_replication_only(grants):
        # MariaDB's SHOW GRANTS carries the password hash, which has no place in an error message.
        shown = "; ".join(re.sub(r" IDENTIFIED BY PASSWORD '[^']*'", "", grant) for grant in grants)
        raise UserNotManagedByUs(
            f"user {user}@{host} exists with more than REPLICATION SLAVE on *.* ({shown}); "
            "refusing to change or drop a user aurora-bluegreen did not create. Choose another "
            "replication user name."
        )
