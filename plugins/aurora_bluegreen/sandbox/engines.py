"""The two server engines a sandbox can run, behind one interface: MariaDB and MySQL.

Aurora MySQL speaks MySQL, so MySQL (9.7, from a Debian root) is the engine that proves the SQL
our aurora dialects send; MariaDB (the machine's own) is quicker to start and always at hand.
``Sandbox`` asks an engine to make a data directory, start a server, copy a running server the
way Aurora clones (a hot physical copy whose binlog coordinates are exact) and set up blue's
users and ``mysql.rds_*`` procedures. Everything else (records, ports, locks, endpoints) is the
sandbox's own and the same for both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from aurora_bluegreen.errors import InvalidInput, SandboxError
from aurora_bluegreen.models import CloneCoordinates
from aurora_bluegreen.sandbox import server
from aurora_bluegreen.sandbox.aurora_function import AuroraFunction
from aurora_bluegreen.sandbox.connect import root_connection
from aurora_bluegreen.sandbox.credentials import Credentials
from aurora_bluegreen.sandbox.installations import (
    MYSQL_INSTALLATION,
    SYSTEM,
    MariadbInstallation,
    installation_named,
)
from aurora_bluegreen.sandbox.server import ServerFiles

MARIADB = "mariadb"
MYSQL = "mysql"
ENGINES = (MYSQL, MARIADB)
DEFAULT_ENGINE = MYSQL
"""Aurora is MySQL: the sandbox plays it on MySQL unless told otherwise."""

if TYPE_CHECKING:
    from aurora_bluegreen.sandbox.mysql.server import MysqlInstallation

Launch = Callable[[], int]
"""Starts the cluster's server, waits until it accepts connections, records and returns its pid."""


class ServerEngine(Protocol):
    name: str
    installation_name: str
    """Which programs run its servers: ``system`` or a Debian root's name (``installations.py``)."""

    @property
    def version(self) -> str:
        """What runs, for people: ``MySQL 9.7.4-2`` or ``MariaDB 10.11.14``."""

    def files(self, server_dir: Path, cluster_id: str) -> ServerFiles: ...

    def init_datadir(self, files: ServerFiles) -> None:
        """An empty server's data directory."""

    def start(
        self, files: ServerFiles, port: int, server_id: int, read_only: bool, function: AuroraFunction
    ) -> int:
        """Launch the server in its own session and return its pid; it answers ``aurora_version()``."""

    def clone(
        self, source: ServerFiles, source_port: int, target: ServerFiles, launch: Launch
    ) -> CloneCoordinates:
        """Make ``target`` a running copy of the running source; return where its data ends on the source."""

    def create_accounts(self, files: ServerFiles, credentials: Credentials) -> None:
        """Aurora's master user (no SUPER) and the application's user (DML only), outside the binlog."""

    def install_procedures(self, files: ServerFiles, aurora_version: str) -> None:
        """The ``mysql.rds_*`` procedures Aurora MySQL ``aurora_version`` has, outside the binlog."""


def engine_named(name: str, installation: str | None = None) -> ServerEngine:
    """The engine ``name``, running ``installation`` (a cluster record's; None: the engine's default)."""
    if name == MARIADB:
        return MariadbEngine(installation or SYSTEM)
    if name == MYSQL:
        if installation not in (None, MYSQL_INSTALLATION):
            raise InvalidInput("installation", installation, f"{MYSQL_INSTALLATION} on the MySQL engine")
        return MysqlEngine()
    raise InvalidInput("engine", name, f"one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class MariadbEngine:
    """mariadbd of one installation (``installations.py``): the machine's own unless a cluster was
    upgraded onto a Debian root's; clones with that installation's mariadb-backup (``backup.py``)."""

    installation_name: str = SYSTEM
    name: str = MARIADB

    @cached_property
    def installation(self) -> MariadbInstallation:
        """Found on first use: a root's may be built then (RootBuildError if it cannot)."""
        return installation_named(self.installation_name)

    @property
    def version(self) -> str:
        return f"MariaDB {self.installation.version}"

    def files(self, server_dir: Path, cluster_id: str) -> ServerFiles:
        return ServerFiles.under(server_dir, cluster_id)

    def init_datadir(self, files: ServerFiles) -> None:
        if self.installation_name != SYSTEM:
            # New clusters start on the machine's MariaDB; a root's only runs clusters upgraded
            # onto it (upgrade.py) and their clones.
            raise SandboxError(
                f"a new cluster's data directory is made by the machine's MariaDB, not {self.version}"
            )
        server.init_datadir(files.datadir)

    def start(
        self, files: ServerFiles, port: int, server_id: int, read_only: bool, function: AuroraFunction
    ) -> int:
        return server.start(files, port, server_id, read_only, function, self.installation)

    def clone(
        self, source: ServerFiles, source_port: int, target: ServerFiles, launch: Launch
    ) -> CloneCoordinates:
        import tempfile

        from aurora_bluegreen.sandbox.backup import copy_running_server

        # A fresh work directory per attempt: an orphaned backup from a crashed attempt may still
        # be writing into its own.
        work_dir = Path(tempfile.mkdtemp(prefix="backup-", dir=target.server_dir))
        # The source's own version's mariadb-backup: the clone runs on the source's installation.
        program = self.installation.command("mariadb-backup")
        coordinates = copy_running_server(str(source.socket), work_dir, target.datadir, program)
        launch()
        if coordinates.gtid:
            # Aurora's clone already knows blue's GTID state; a MariaDB copy has to be told.
            with root_connection(str(target.socket)) as root, root.cursor() as cursor:
                cursor.execute("SET GLOBAL gtid_slave_pos = %s", (coordinates.gtid,))
        return coordinates.as_clone_coordinates()

    def create_accounts(self, files: ServerFiles, credentials: Credentials) -> None:
        from aurora_bluegreen.sandbox.accounts import create_accounts

        with root_connection(str(files.socket)) as root:
            create_accounts(root, credentials)

    def install_procedures(self, files: ServerFiles, aurora_version: str) -> None:
        from aurora_bluegreen.sandbox.procedures import MARIADB_SQL_FILE, install_for_aurora

        with root_connection(str(files.socket)) as root:
            install_for_aurora(root, MARIADB_SQL_FILE, aurora_version)


class MysqlEngine:
    """mysqld from a Debian root (``mysql/server.py``); clones with the CLONE plugin."""

    name = MYSQL
    installation_name = MYSQL_INSTALLATION

    @cached_property
    def installation(self) -> MysqlInstallation:
        """Found on first use: it may build the Debian root (RootBuildError if it cannot)."""
        from aurora_bluegreen.sandbox.mysql.server import mysql_installation

        return mysql_installation()

    @property
    def version(self) -> str:
        return f"MySQL {self.installation.version}"

    def files(self, server_dir: Path, cluster_id: str) -> ServerFiles:
        from aurora_bluegreen.sandbox.mysql.server import server_files

        return server_files(server_dir, cluster_id)

    def init_datadir(self, files: ServerFiles) -> None:
        from aurora_bluegreen.sandbox.mysql.server import init_datadir

        init_datadir(self.installation, files.datadir)

    def start(
        self, files: ServerFiles, port: int, server_id: int, read_only: bool, function: AuroraFunction
    ) -> int:
        from aurora_bluegreen.sandbox.mysql.server import start

        return start(self.installation, files, port, server_id, read_only, function)

    def clone(
        self, source: ServerFiles, source_port: int, target: ServerFiles, launch: Launch
    ) -> CloneCoordinates:
        from aurora_bluegreen.sandbox.mysql.clone import clone_instance, finish_clone

        self.init_datadir(target)
        pid = launch()
        try:
            clone_instance(str(target.socket), str(source.socket), source_port)
        finally:
            # The plugin shuts the recipient down after the copy; this waits for that (or ends it).
            server.stop(pid, target)
        launch()
        with root_connection(str(target.socket)) as root:
            return finish_clone(root)

    def create_accounts(self, files: ServerFiles, credentials: Credentials) -> None:
        from aurora_bluegreen.sandbox.mysql.accounts import create_accounts

        with root_connection(str(files.socket)) as root:
            create_accounts(root, credentials)

    def install_procedures(self, files: ServerFiles, aurora_version: str) -> None:
        from aurora_bluegreen.sandbox.mysql.procedures import SQL_FILE
        from aurora_bluegreen.sandbox.procedures import install_for_aurora

        with root_connection(str(files.socket)) as root:
            install_for_aurora(root, SQL_FILE, aurora_version)
