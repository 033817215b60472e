"""The sandbox's MySQL 9.7 engine against real servers run from the Debian root.

The slow parts are shared per module: the root (built once per machine, cached), blue with the
demo schema and Aurora 3's users, and two clones made while the application writes. The whole
file takes about a minute once the root exists. Skipped, with the reason, only where the root
cannot be built.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest

from aurora_bluegreen.errors import RootBuildError
from aurora_bluegreen.gtid import MysqlGtidSet
from aurora_bluegreen.models import CloneCoordinates
from aurora_bluegreen.sandbox import server
from aurora_bluegreen.sandbox.connect import root_connection, user_connection
from aurora_bluegreen.sandbox.credentials import Credentials
from aurora_bluegreen.sandbox.debian_root import MYSQL_ROOT, ensure_root, find_root
from aurora_bluegreen.sandbox.demo_schema import INSERT_ORDER, ORDERS_TABLE, create_demo_schema, order_row
from aurora_bluegreen.sandbox.mysql import server as mysql_server
from aurora_bluegreen.sandbox.mysql.accounts import ROLE, create_accounts
from aurora_bluegreen.sandbox.mysql.clone import clone_server
from aurora_bluegreen.sandbox.mysql.procedures import (
    install_rds_procedures,
    installed_procedures,
    skipped_for_aurora,
)
from aurora_bluegreen.sandbox.procedures import apply_stored_configuration

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
CREDENTIALS = Credentials(admin_password="adm'in\"pass\\wörd-密", app_password="ap'p\"pass\\wörd-漢")
REPLICATION_USER = "repl_user"
REPLICATION_PASSWORD = "re'pl\"pass\\wörd-ü"
ER_SPECIFIC_ACCESS_DENIED = 1227
ER_OPTION_PREVENTS_STATEMENT = 1290
ER_SP_DOES_NOT_EXIST = 1305
ER_SIGNAL_EXCEPTION = 1644


@dataclass
class Server:
    name: str
    files: server.ServerFiles
    port: int
    server_id: int
    pid: int
    coordinates: CloneCoordinates | None = None

    def root(self) -> pymysql.connections.Connection:
        return root_connection(str(self.files.socket))

    def admin(self) -> pymysql.connections.Connection:
        return user_connection(HOST, self.port, CREDENTIALS.admin_user, CREDENTIALS.admin_password)

    def app(self) -> pymysql.connections.Connection:
        return user_connection(HOST, self.port, CREDENTIALS.app_user, CREDENTIALS.app_password)

    def query(self, sql: str, *args: object) -> list[tuple]:
        with self.root() as root, root.cursor() as cursor:
            cursor.execute(sql, args or None)
            return list(cursor.fetchall())


class Servers:
    """Servers of one test module, under one directory; all are killed at the end."""

    def __init__(self, installation: mysql_server.MysqlInstallation, directory: Path) -> None:
        self.installation = installation
        self.directory = directory
        self.started: list[Server] = []

    def blank(self, name: str) -> Server:
        files = mysql_server.server_files(self.directory / name, name)
        mysql_server.init_datadir(self.installation, files.datadir)
        port, server_id = self._port(), len(self.started) + 1
        pid = mysql_server.start(self.installation, files, port, server_id, read_only=False)
        server.wait_until_ready(files, pid)
        return self._add(Server(name, files, port, server_id, pid))

    def clone(self, name: str, source: Server) -> Server:
        files = mysql_server.server_files(self.directory / name, name)
        port, server_id = self._port(), len(self.started) + 1
        cloned = clone_server(
            self.installation, str(source.files.socket), source.port, files, port, server_id, read_only=True
        )
        print(f"\n[timing] clone {name}: {cloned.seconds:.2f}s")
        return self._add(Server(name, files, port, server_id, cloned.pid, cloned.coordinates))

    def restart(self, target: Server) -> None:
        server.stop(target.pid, target.files)
        target.pid = mysql_server.start(self.installation, target.files, target.port, target.server_id, False)
        server.wait_until_ready(target.files, target.pid)

    def stop_all(self) -> None:
        for started in self.started:
            server.stop(started.pid, started.files, kill=True)

    def _add(self, started: Server) -> Server:
        self.started.append(started)
        return started

    def _port(self) -> int:
        return server.free_port({started.port for started in self.started})


class Writer:
    """The application: inserts orders as the app user as fast as it can; keeps what was acknowledged."""

    def __init__(self, target: Server, prefix: str) -> None:
        self.target, self.prefix = target, prefix
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while len(self.acknowledged) < 20:  # writing for real before the caller goes on
            assert self._thread.is_alive() and time.monotonic() < deadline, "the writer did not get going"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with self.target.app() as app, app.cursor() as cursor:
            n = 0
            while not self._stop.is_set():
                request_id = f"{self.prefix}-{n}"
                cursor.execute(INSERT_ORDER, order_row(request_id, n))
                self.acknowledged.append(request_id)
                n += 1


@pytest.fixture(scope="module")
def installation() -> mysql_server.MysqlInstallation:
    try:
        return mysql_server.mysql_installation()
    except RootBuildError as error:
        pytest.skip(f"the MySQL Debian root cannot be built on this machine: {error}")


@pytest.fixture(scope="module")
def servers(
    installation: mysql_server.MysqlInstallation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    started = Servers(installation, tmp_path_factory.mktemp("mysql"))
    yield started
    started.stop_all()


@pytest.fixture(scope="module")
def blue(servers: Servers) -> Server:
    """Blue as the sandbox will make it: procedures, Aurora 3's users, demo schema, a replication user."""
    blue = servers.blank("blue")
    with blue.root() as root:
        install_rds_procedures(root)
        create_accounts(root, CREDENTIALS)
        create_demo_schema(root)
    # As on Aurora, the master user creates the replication user (caching_sha2_password by default).
    with blue.admin() as admin, admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (REPLICATION_USER, REPLICATION_PASSWORD))
        cursor.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'%%'", (REPLICATION_USER,))
    return blue


@pytest.fixture(scope="module")
def scratch(servers: Servers) -> Server:
    """A blank server for tests that change what is installed."""
    return servers.blank("scratch")


def clone_while_writing(servers: Servers, blue: Server, name: str) -> tuple[Server, Writer]:
    with Writer(blue, f"during-{name}") as writer:
        green = servers.clone(name, blue)
        written_during_clone = len(writer.acknowledged)
    assert written_during_clone > 20, "the application was not writing during the clone"
    return green, writer


def wait_caught_up(replica: Server, source: Server, timeout: int = 60) -> None:
    (gtid_executed,) = source.query("SELECT @@GLOBAL.gtid_executed")[0]
    (result,) = replica.query("SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)", gtid_executed, timeout)[0]
    assert result == 0, f"{replica.name} did not catch up with {source.name}: {replica_status(replica)}"


def replica_status(replica: Server) -> dict:
    with replica.admin() as admin, admin.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute("SHOW REPLICA STATUS")
        return cursor.fetchone() or {}


def assert_exactly_once(replica: Server, acknowledged: list[str], prefix: str) -> None:
    """Every acknowledged write of the run is on the replica once; none is missing, none extra."""
    rows = replica.query(f"SELECT request_id FROM {ORDERS_TABLE} WHERE request_id LIKE %s", f"{prefix}-%")
    found = [request_id for (request_id,) in rows]
    missing = set(acknowledged) - set(found)
    extra = set(found) - set(acknowledged)
    assert not missing, (
        f"{len(missing)} acknowledged writes missing on {replica.name}, e.g. {sorted(missing)[:5]}"
    )
    assert not extra, (
        f"{len(extra)} writes on {replica.name} that were never acknowledged: {sorted(extra)[:5]}"
    )
    assert len(found) == len(set(found)) == len(acknowledged)


def start_replication(replica: Server, source: Server, position: bool, ssl: int) -> None:
    """As Aurora's master user would: at the clone's binlog position, or by GTID auto-position."""
    with replica.admin() as admin, admin.cursor() as cursor:
        if position:
            assert replica.coordinates is not None and replica.coordinates.position is not None
            cursor.execute(
                "CALL mysql.rds_set_external_source(%s, %s, %s, %s, %s, %s, %s)",
                (
                    HOST,
                    source.port,
                    REPLICATION_USER,
                    REPLICATION_PASSWORD,
                    replica.coordinates.position.file,
                    replica.coordinates.position.position,
                    ssl,
                ),
            )
        else:
            cursor.execute(
                "CALL mysql.rds_set_external_source_with_auto_position(%s, %s, %s, %s, %s)",
                (HOST, source.port, REPLICATION_USER, REPLICATION_PASSWORD, ssl),
            )
        cursor.execute("CALL mysql.rds_start_replication()")


def ensure_replicating(replica: Server, source: Server) -> None:
    """For a test run on its own: the replica's channel, by GTID, if no earlier test set one up."""
    if not replica_status(replica):
        start_replication(replica, source, position=False, ssl=0)


@pytest.fixture(scope="module")
def green_by_position(servers: Servers, blue: Server) -> tuple[Server, Writer]:
    return clone_while_writing(servers, blue, "green-position")


@pytest.fixture(scope="module")
def green_by_gtid(servers: Servers, blue: Server) -> tuple[Server, Writer]:
    return clone_while_writing(servers, blue, "green-gtid")


def test_root_is_built_once_and_records_the_mysql_version(
    installation: mysql_server.MysqlInstallation,
) -> None:
    root = find_root(MYSQL_ROOT)
    assert root is not None and root.path == installation.root
    assert root.version == installation.version and root.version.startswith("9.")
    assert root.main_package == "mysql-server-core" and root.archive.startswith("http")
    started = time.monotonic()
    assert ensure_root(MYSQL_ROOT).path == root.path
    assert time.monotonic() - started < 1, "an existing root must be reused, not rebuilt"
    printed = subprocess.run(
        installation.command("usr/sbin/mysqld", "--version"), capture_output=True, text=True, check=True
    ).stdout
    assert root.version.split("-")[0] in printed, printed


def test_template_copies_get_their_own_uuid_and_keep_it_across_restarts(
    servers: Servers, blue: Server, scratch: Server
) -> None:
    (scratch_uuid,) = scratch.query("SELECT @@server_uuid")[0]
    assert scratch_uuid != blue.query("SELECT @@server_uuid")[0][0]
    servers.restart(scratch)
    assert scratch.query("SELECT @@server_uuid")[0][0] == scratch_uuid
    (version,) = scratch.query("SELECT @@version")[0]
    assert version.startswith("9.7"), version
    server.stop(scratch.pid, scratch.files)
    assert not server.is_running(scratch.pid, scratch.files)
    servers.restart(scratch)


def test_clone_has_its_own_identity_and_exact_coordinates(
    blue: Server, green_by_position: tuple[Server, Writer]
) -> None:
    green, _ = green_by_position
    assert green.coordinates is not None and green.coordinates.position is not None
    assert green.coordinates.position.file.startswith("mysql-bin-changelog.")
    assert green.coordinates.evidence.startswith("MySQL clone plugin")
    ((uuid, server_id, read_only, gtid_executed),) = green.query(
        "SELECT @@server_uuid, @@server_id, @@read_only, @@GLOBAL.gtid_executed"
    )
    assert uuid != blue.query("SELECT @@server_uuid")[0][0]
    assert server_id == green.server_id != blue.server_id
    assert read_only == 1
    # Nothing happened on the clone yet: what it executed is exactly what the clone says it holds.
    assert "".join(gtid_executed.split()) == green.coordinates.gtid_set
    assert not green.query("SELECT user FROM mysql.user WHERE user LIKE 'aurora\\_bg\\_clone\\_%'")


@pytest.mark.parametrize("by_position", [True, False], ids=["binlog-position", "gtid-auto-position"])
def test_replication_from_the_clone_point_loses_and_repeats_nothing(
    blue: Server,
    green_by_position: tuple[Server, Writer],
    green_by_gtid: tuple[Server, Writer],
    by_position: bool,
) -> None:
    green, writer = green_by_position if by_position else green_by_gtid
    # The file/position run uses plain TCP (caching_sha2_password through the source's RSA key),
    # the auto-position run TLS.
    start_replication(green, blue, position=by_position, ssl=0 if by_position else 1)
    with Writer(blue, f"after-{green.name}") as after:
        time.sleep(0.5)
    wait_caught_up(green, blue)
    status = replica_status(green)
    assert status["Replica_IO_Running"] == "Yes" and status["Replica_SQL_Running"] == "Yes", status
    assert status["Source_SSL_Allowed"] == ("No" if by_position else "Yes")
    # The hand-over is exact: the first transaction green fetched from blue is the one right after
    # the clone's last. (Under GTID mode a replica also skips transactions it has, so the rows
    # alone could not tell an early start position from an exact one.)
    assert green.coordinates is not None
    ((_, cloned),) = MysqlGtidSet.parse(green.coordinates.gtid_set).intervals
    ((_, retrieved),) = MysqlGtidSet.parse(status["Retrieved_Gtid_Set"]).intervals
    assert retrieved[0][0] == cloned[-1][1] + 1, (green.coordinates, status["Retrieved_Gtid_Set"])
    assert_exactly_once(green, writer.acknowledged, writer.prefix)
    assert_exactly_once(green, after.acknowledged, after.prefix)
    (plugin,) = blue.query("SELECT plugin FROM mysql.user WHERE user = %s", REPLICATION_USER)[0]
    assert plugin == "caching_sha2_password"


def test_master_user_needs_the_procedures_for_read_only_and_replication(
    blue: Server, green_by_gtid: tuple[Server, Writer]
) -> None:
    green, _ = green_by_gtid
    ensure_replicating(green, blue)
    with green.admin() as admin, admin.cursor() as cursor:
        for statement in (
            "SET GLOBAL read_only = 0",
            "CHANGE REPLICATION SOURCE TO SOURCE_CONNECT_RETRY = 2",
        ):
            with pytest.raises(pymysql.err.MySQLError) as denied:
                cursor.execute(statement)
            assert denied.value.args[0] == ER_SPECIFIC_ACCESS_DENIED, statement
        cursor.execute("SELECT CURRENT_ROLE()")
        assert cursor.fetchone()[0] == f"`{ROLE}`@`%`"
        cursor.execute("CALL mysql.rds_set_read_only(0)")
        cursor.execute("SELECT @@GLOBAL.read_only")
        assert cursor.fetchone()[0] == 0
        cursor.execute("CALL mysql.rds_set_read_only(1)")
        cursor.execute("CALL mysql.rds_stop_replication()")
        cursor.execute("CALL mysql.rds_set_binlog_source_ssl(0)")
        cursor.execute("CALL mysql.rds_start_replication()")
    assert replica_status(green)["Source_SSL_Allowed"] == "No"


def test_master_user_writes_under_read_only_and_the_app_user_cannot(blue: Server) -> None:
    insert = f"INSERT INTO {ORDERS_TABLE} (request_id, customer_id, product_id, quantity, amount_cents) "
    with blue.admin() as admin, admin.cursor() as cursor:
        cursor.execute("CALL mysql.rds_set_read_only(1)")
        try:
            # CONNECTION_ADMIN, through rds_superuser_role, exempts the master user, as on Aurora 3.
            cursor.execute(insert + "VALUES ('read-only-admin', 1, 1, 1, 1)")
            with (
                blue.app() as app,
                app.cursor() as app_cursor,
                pytest.raises(pymysql.err.MySQLError) as denied,
            ):
                app_cursor.execute(insert + "VALUES ('read-only-app', 1, 1, 1, 1)")
            assert denied.value.args[0] == ER_OPTION_PREVENTS_STATEMENT
        finally:
            cursor.execute("CALL mysql.rds_set_read_only(0)")


def test_a_failed_transaction_is_skipped_by_its_gtid(
    blue: Server, green_by_position: tuple[Server, Writer]
) -> None:
    green, _ = green_by_position
    ensure_replicating(green, blue)
    wait_caught_up(green, blue)
    # A row that exists only on green makes blue's next insert of that key fail there.
    green.query(INSERT_ORDER, *order_row("conflict", 1))
    blue.query(INSERT_ORDER, *order_row("conflict", 1))
    deadline = time.monotonic() + 30
    while replica_status(green)["Replica_SQL_Running"] == "Yes":
        assert time.monotonic() < deadline, "green's applier did not stop on the duplicate key"
        time.sleep(0.05)
    with green.admin() as admin, admin.cursor() as cursor:
        with pytest.raises(pymysql.err.MySQLError) as refused:
            cursor.execute("CALL mysql.rds_skip_repl_error()")
        assert refused.value.args[0] == ER_SIGNAL_EXCEPTION and "gtid" in refused.value.args[1]
        cursor.execute(
            "SELECT APPLYING_TRANSACTION FROM performance_schema.replication_applier_status_by_worker "
            "WHERE LAST_ERROR_NUMBER <> 0"
        )
        (failed_gtid,) = cursor.fetchone()
        cursor.execute("CALL mysql.rds_skip_transaction_with_gtid(%s)", (failed_gtid,))
        cursor.execute("CALL mysql.rds_start_replication()")
    blue.query(INSERT_ORDER, *order_row("after-conflict", 2))
    wait_caught_up(green, blue)
    assert green.query(f"SELECT COUNT(*) FROM {ORDERS_TABLE} WHERE request_id = 'after-conflict'")[0][0] == 1


def test_reset_external_source_forgets_the_source(blue: Server, green_by_gtid: tuple[Server, Writer]) -> None:
    green, _ = green_by_gtid
    ensure_replicating(green, blue)
    with green.admin() as admin, admin.cursor() as cursor:
        cursor.execute("CALL mysql.rds_reset_external_source()")
    assert replica_status(green) == {}


def test_procedures_follow_the_aurora_version(scratch: Server) -> None:
    with scratch.root() as root:
        install_rds_procedures(root, skipped_for_aurora("8.0.mysql_aurora.3.05.2"))
        before_read_only = installed_procedures(root)
        install_rds_procedures(root, skipped_for_aurora("2.11.4"))
        aurora_2 = installed_procedures(root)
        install_rds_procedures(root, skipped_for_aurora("3.08.0"))
        aurora_3 = installed_procedures(root)
        install_rds_procedures(root, skipped_for_aurora("3.05"))
        with root.cursor() as cursor, pytest.raises(pymysql.err.MySQLError) as missing:
            cursor.execute("CALL mysql.rds_set_read_only(1)")
        assert missing.value.args[0] == ER_SP_DOES_NOT_EXIST
        with pytest.raises(ValueError, match="no procedure"):
            install_rds_procedures(root, {"rds_no_such_procedure"})
    assert "rds_set_read_only" not in before_read_only and "rds_set_external_source" in before_read_only
    assert {"rds_set_external_master", "rds_reset_external_master"} <= aurora_2
    assert not {"rds_set_external_source", "rds_set_read_only", "rds_set_binlog_source_ssl"} & aurora_2
    assert {"rds_set_read_only", "rds_set_binlog_source_ssl"} <= aurora_3
    assert not {"rds_set_external_master", "rds_reset_external_master"} & aurora_3


def test_binlog_retention_is_stored_and_applied_again_after_a_restart(servers: Servers, blue: Server) -> None:
    with blue.admin() as admin, admin.cursor() as cursor:
        cursor.execute("CALL mysql.rds_set_configuration('binlog retention hours', 24)")
        cursor.execute("CALL mysql.rds_show_configuration()")
        assert [row[:2] for row in cursor.fetchall()] == [("binlog retention hours", "24")]
    assert blue.query("SELECT @@binlog_expire_logs_seconds")[0][0] == 24 * 3600
    servers.restart(blue)
    # --no-defaults skips mysqld-auto.cnf: the sandbox applies the stored value after each start.
    assert blue.query("SELECT @@binlog_expire_logs_seconds")[0][0] != 24 * 3600
    with blue.root() as root:
        apply_stored_configuration(root)
    assert blue.query("SELECT @@binlog_expire_logs_seconds")[0][0] == 24 * 3600


def test_rds_kill_ends_another_users_session(blue: Server) -> None:
    with blue.app() as app, blue.admin() as admin, admin.cursor() as cursor:
        cursor.execute("CALL mysql.rds_kill(%s)", (app.thread_id(),))
        with pytest.raises(pymysql.err.OperationalError):
            app.query("SELECT 1")
