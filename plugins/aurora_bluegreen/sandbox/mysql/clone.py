"""Aurora's copy-on-write clone, played by MySQL's CLONE plugin, with the coordinates it ends at.

The recipient, a fresh server from the template, pulls a physical copy of the running source
(``CLONE INSTANCE FROM``) as a throw-away donor user that holds only BACKUP_ADMIN. The plugin
notes the binlog file, position and GTID set that match the copied data exactly and keeps them
in ``performance_schema.clone_status`` on the recipient. Without a supervisor to restart it
(mysqld_safe, systemd), the recipient shuts down after the copy ("Restart server failed"); it is
started again and then holds the source's data, users and procedures (the mysql schema is copied).

What the clone keeps of its own (checked here, 9.7.4): its server_uuid, because ``auto.cnf`` is
not copied, and its server_id, which is a start option; both must differ from the source's, or
replication between the two breaks. The donor user is created and dropped outside the binlog on
the source, and the copy of it that the clone received is dropped too, outside the clone's binlog.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass

import pymysql

from aurora_bluegreen.errors import ServerError
from aurora_bluegreen.models import BinlogPosition, CloneCoordinates
from aurora_bluegreen.sandbox import server
from aurora_bluegreen.sandbox.connect import root_connection
from aurora_bluegreen.sandbox.mysql.server import MysqlInstallation, init_datadir, start
from aurora_bluegreen.sandbox.server import ServerFiles

log = logging.getLogger(__name__)

COORDINATES_EVIDENCE = "MySQL clone plugin: performance_schema.clone_status"
DONOR_USER_PREFIX = "aurora_bg_clone_"
_DONOR_USER_PATTERN = DONOR_USER_PREFIX.replace("_", "\\_") + "%"
_HOST = "127.0.0.1"
# ER_CLONE_RESTART: the copy is complete, but no supervisor restarts mysqld, so it stops instead.
_ER_CLONE_RESTART = 3707


@dataclass(frozen=True)
class ClonedServer:
    pid: int
    coordinates: CloneCoordinates
    seconds: float


def clone_server(
    installation: MysqlInstallation,
    source_socket: str,
    source_port: int,
    files: ServerFiles,
    port: int,
    server_id: int,
    read_only: bool,
) -> ClonedServer:
    """Make ``files`` a running clone of the source, and return it with the coordinates it ends at.

    The steps are public so that a caller that records pids (the Sandbox) can run them itself:
    ``init_datadir`` + ``start``, ``clone_instance``, ``server.stop`` (waits for the shutdown the
    plugin began), ``start`` again, ``finish_clone``.
    """
    started = time.monotonic()
    init_datadir(installation, files.datadir)
    pid = start(installation, files, port, server_id, read_only)
    server.wait_until_ready(files, pid)
    try:
        clone_instance(str(files.socket), source_socket, source_port)
    finally:
        server.stop(pid, files)
    pid = start(installation, files, port, server_id, read_only)
    server.wait_until_ready(files, pid)
    with root_connection(str(files.socket)) as root:
        coordinates = finish_clone(root)
    return ClonedServer(pid=pid, coordinates=coordinates, seconds=time.monotonic() - started)


def clone_instance(recipient_socket: str, source_socket: str, source_port: int) -> None:
    """Copy the source into the running recipient; afterwards the recipient shuts itself down."""
    user, password = f"{DONOR_USER_PREFIX}{secrets.token_hex(4)}", secrets.token_urlsafe(18)
    with root_connection(source_socket) as source, source.cursor() as cursor:
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, _HOST, password))
        cursor.execute("GRANT BACKUP_ADMIN ON *.* TO %s@%s", (user, _HOST))
        try:
            _clone_from(recipient_socket, user, password, source_port)
        finally:
            cursor.execute("DROP USER IF EXISTS %s@%s", (user, _HOST))


def _clone_from(recipient_socket: str, user: str, password: str, source_port: int) -> None:
    # CLONE can run for minutes: no read timeout on this connection.
    with root_connection(recipient_socket) as recipient, recipient.cursor() as cursor:
        cursor.execute("SET GLOBAL clone_valid_donor_list = %s", (f"{_HOST}:{source_port}",))
        try:
            cursor.execute(
                "CLONE INSTANCE FROM %s@%s:%s IDENTIFIED BY %s", (user, _HOST, source_port, password)
            )
        except pymysql.err.MySQLError as error:
            if error.args[0] != _ER_CLONE_RESTART:
                raise ServerError(f"CLONE INSTANCE from {_HOST}:{source_port} failed: {error}") from error
            return
    # Some server managed to restart itself, so no shutdown is coming: the caller's stop() ends it.
    log.info("The clone recipient on %s restarted by itself", recipient_socket)


def finish_clone(root: pymysql.connections.Connection) -> CloneCoordinates:
    """On the restarted clone: check the copy completed, drop the donor's copy, return the coordinates."""
    with root.cursor() as cursor:
        cursor.execute(
            "SELECT STATE, ERROR_NO, ERROR_MESSAGE, BINLOG_FILE, BINLOG_POSITION, GTID_EXECUTED "
            "FROM performance_schema.clone_status"
        )
        row = cursor.fetchone()
        if row is None:
            raise ServerError("performance_schema.clone_status is empty: this server was never cloned into")
        state, error_no, error_message, binlog_file, binlog_position, gtid_executed = row
        if state != "Completed" or not binlog_file:
            raise ServerError(f"clone state is {state!r}, error {error_no}: {error_message}")
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute("SELECT user, host FROM mysql.user WHERE user LIKE %s", (_DONOR_USER_PATTERN,))
        for user, host in cursor.fetchall():
            cursor.execute("DROP USER %s@%s", (user, host))
        cursor.execute("SET SESSION sql_log_bin = 1")
    return CloneCoordinates(
        position=BinlogPosition(binlog_file, int(binlog_position)),
        # MySQL breaks long GTID sets over lines ("uuid:1-5,\nuuid:1-3").
        gtid_set="".join(gtid_executed.split()) or None,
        evidence=COORDINATES_EVIDENCE,
    )
