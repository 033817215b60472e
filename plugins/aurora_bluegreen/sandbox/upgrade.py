"""A real major engine upgrade of a sandbox cluster, in place, while it replicates (issue 14).

Aurora upgrades a cluster's engine with ``modify_db_cluster(EngineVersion=...)``; the sandbox plays
that for real on the MariaDB engine: the cluster's data directory is restarted under a newer
MariaDB from a Debian root (``installations.py``: 10.11 -> 11.8 on Debian 12), the way a person
upgrades MariaDB by hand. What ``Sandbox.upgrade`` does, and why:

1. Refuses what it cannot do, before any change: a cluster not created; the MySQL engine, which
   has one version here (``UpgradeUnavailable``); a target that is not one of
   ``upgrade_targets(cluster_id)`` (``InvalidInput``), or none at all (``UpgradeUnavailable``).
2. Finds the target's installation; its Debian root is built first if missing (about 30 s, once).
3. Stops the server cleanly (SIGTERM, so ``innodb_fast_shutdown=1``, the default, which MariaDB's
   upgrade guide asks for: "Ensure innodb_fast_shutdown is set to 1 ... before stopping",
   https://mariadb.com/docs/server/server-management/install-and-upgrade-mariadb/upgrading/upgrade-paths/mariadb-enterprise-server-11.4/upgrade-mariadb-enterprise-server-from-10.6-to-11.4).
   The record names the new installation before the new server touches the data: from its first
   start on, the data directory is the new version's and the old server must never open it again.
4. Starts it under the new server (replication stays stopped: every sandbox server runs with
   ``--skip-slave-start``) and runs that version's ``mariadb-upgrade`` as root over the socket:
   "You should run mariadb-upgrade after upgrading from one major MariaDB release to another"
   (https://mariadb.com/docs/server/clients-and-utilities/deployment-tools/mariadb-upgrade). It
   runs with ``--skip-write-binlog`` (its default, said out loud), so nothing of it reaches the
   cluster's binlog or GTID position, where a replica of this cluster would replay it.
5. Restarts the server: "After running mariadb-upgrade, stop the server and restart it so that
   any changes made to the system tables take effect" (mariadb-upgrade(1),
   https://man.archlinux.org/man/mysql_upgrade.1.en). The start is the sandbox's usual one
   (``Sandbox._start``): the parameter group's values, the stored configuration, and replication
   resumed where the rds procedures left it running. The replica's position survives in the data
   directory (``master.info`` and ``relay-log.info`` for file and position, ``mysql.gtid_slave_pos``
   for GTID), written at the clean shutdown, so replication continues from exactly where it was.

Replication into the upgraded cluster from its older source is supported by MariaDB: "The MariaDB
replica can be of any newer version than the primary"
(https://mariadb.com/kb/en/upgrading-between-major-mariadb-versions). The other direction (the
rollback's reverse replication, 11.8 -> 10.11) is not promised by MariaDB; what happens here is
measured in ``tests/integration/test_engine_upgrade.py`` and reported in ``docs/aws.md``.

An upgrade that dies part-way is finished by calling ``upgrade`` again with the same target: a
cluster already on the target's installation whose ``mariadb_upgrade_info`` names another version
is started, upgraded and restarted; one that is complete is left alone.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from aurora_bluegreen import server_answers
from aurora_bluegreen.errors import InvalidInput, SandboxError, ServerError, UpgradeUnavailable
from aurora_bluegreen.models import ReplicaStatus
from aurora_bluegreen.sandbox import server
from aurora_bluegreen.sandbox.connect import root_connection
from aurora_bluegreen.sandbox.engines import MYSQL, engine_named
from aurora_bluegreen.sandbox.installations import (
    SYSTEM,
    MariadbInstallation,
    UpgradePath,
    installation_named,
    mysql_refusal,
    release_series,
    upgrade_path,
)
from aurora_bluegreen.sandbox.server import ServerFiles
from aurora_bluegreen.sandbox.state import CREATED, ClusterRecord

log = logging.getLogger(__name__)

# mariadb-upgrade writes the version it upgraded to here (10.7.2+ / 10.6.6+: "mariadb_upgrade_info").
UPGRADE_INFO_FILES = ("mariadb_upgrade_info", "mysql_upgrade_info")
_UPGRADE_HELPERS = ("mariadb", "mariadb-check")
_UPGRADE_TIMEOUT_SECONDS = 600
_OUTPUT_TAIL = 2000


@dataclass
class EngineUpgradeReport:
    """What one ``Sandbox.upgrade`` did, for logs, tests and ``bench/upgrade.py``."""

    cluster_id: str
    target: str
    """The release series asked for, e.g. ``11.8``."""
    installation: str
    from_version: str | None
    """What the server reported before (``10.11.19-MariaDB-0+deb12u1``)."""
    to_version: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    """Each step's duration: ``stop``, ``start_new``, ``mariadb_upgrade``, ``restart``, ``total``."""
    replica_before: ReplicaStatus | None = None
    """The cluster's replication when its old server stopped (None: it was no replica)."""
    replica_after: ReplicaStatus | None = None
    """Right after the restart, before it caught up."""
    upgrade_output: str = ""
    """The end of mariadb-upgrade's output."""
    already_done: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in self.__dict__.items() if not key.startswith("replica_")}
        for name in ("replica_before", "replica_after"):
            status = getattr(self, name)
            data[name] = status.to_dict() if status else None
        return data


class EngineUpgradeMixin:
    """``Sandbox``'s engine upgrades. Uses its ``store``, ``record``, ``describe``, ``_files``,
    ``_update``, ``_launch`` and ``_start``."""

    def upgrade_targets(self, cluster_id: str) -> list[str]:
        """The release series ``upgrade`` takes for this cluster (``["11.8"]``); [] where none exists."""
        try:
            _, path = self._upgrade_path(self.record(cluster_id))
        except UpgradeUnavailable:
            return []
        return [path.to_series]

    def upgrade_refusal(self, cluster_id: str) -> str | None:
        """Why this cluster cannot be upgraded at all, or None when ``upgrade_targets`` has one."""
        try:
            self._upgrade_path(self.record(cluster_id))
        except UpgradeUnavailable as reason:
            return str(reason)
        return None

    def runs_engine_version(self, cluster_id: str, target: str) -> bool:
        """Whether the cluster is available on MariaDB ``target`` (a release series), upgrade finished."""
        with self.store.cluster_lock(cluster_id, blocking=False) as free:
            if not free:
                return False  # being created, upgraded or deleted
            record = self.record(cluster_id)
            if self.describe(cluster_id).status != "available" or record.server_version is None:
                return False
            if release_series(record.server_version) != target:
                return False
            if record.engine == MYSQL or record.installation == SYSTEM:
                return True
            return _upgraded_to(self._files(record).datadir, installation_named(record.installation))

    def upgrade(self, cluster_id: str, target: str) -> EngineUpgradeReport:
        """Upgrade the cluster's server to MariaDB ``target`` (a release series), keeping its data
        and resuming its replication from exactly where it was; see the module's docstring."""
        started = time.monotonic()
        with self.store.cluster_lock(cluster_id):
            record = self.record(cluster_id)
            new = self._target_installation(record, target)
            report = EngineUpgradeReport(cluster_id, target, new.name, record.server_version)
            files = self._files(record)
            if record.installation == new.name and _upgraded_to(files.datadir, new):
                report.already_done = True
                report.to_version = record.server_version
                return report
            log.info("Upgrading %s from %s to %s", cluster_id, record.server_version, new.label)
            with _timed(report, "stop"):
                report.replica_before = self._stopped_replica(record, files)
                record = self._update(cluster_id, pid=None, installation=new.name)
            with _timed(report, "start_new"):
                record = self._launch(record)
            with _timed(report, "mariadb_upgrade"):
                report.upgrade_output = run_mariadb_upgrade(new, files)
            with _timed(report, "restart"):
                server.stop(record.pid, files)
                record = self._start(self._update(cluster_id, pid=None))
                report.replica_after = replica_status(files)
            report.to_version = record.server_version
        report.seconds["total"] = round(time.monotonic() - started, 3)
        steps = ", ".join(f"{step} {took:.2f}s" for step, took in report.seconds.items() if step != "total")
        log.info(
            "Upgraded %s to %s in %.2fs (%s)", cluster_id, report.to_version, report.seconds["total"], steps
        )
        return report

    def _upgrade_path(self, record: ClusterRecord) -> tuple[MariadbInstallation, UpgradePath]:
        """The cluster's installation and the upgrade from it; UpgradeUnavailable, saying why, if none.

        Builds no root.
        """
        if record.engine == MYSQL:
            version = engine_named(MYSQL).version.removeprefix("MySQL ")
            raise UpgradeUnavailable(f"{record.cluster_id}: {mysql_refusal(version)}")
        current = installation_named(record.installation)
        return current, upgrade_path(current.series)

    def _target_installation(self, record: ClusterRecord, target: str) -> MariadbInstallation:
        """The installation that runs ``target`` for this cluster; every refusal raised before any change."""
        if record.status != CREATED:
            raise SandboxError(f"{record.cluster_id} is {record.status}: only a created cluster is upgraded")
        if record.engine != MYSQL and record.installation != SYSTEM:
            current = installation_named(record.installation)
            if current.series == target:
                return current  # upgraded, or part-way: ``upgrade`` finishes it
        current, path = self._upgrade_path(record)
        if target != path.to_series:
            raise InvalidInput(
                "target", target, f"one of {[path.to_series]} for {record.cluster_id} ({current.label})"
            )
        if not server.is_running(record.pid, self._files(record)):
            raise SandboxError(
                f"{record.cluster_id} is stopped: start it first (Aurora upgrades only an available cluster)"
            )
        new = installation_named(path.root)
        if new.series != path.to_series:
            raise UpgradeUnavailable(
                f"the {path.root} root holds MariaDB {new.version}, not {path.to_series}: it was built "
                "from an archive whose suite moved on; remove it to have it built again"
            )
        return new

    def _stopped_replica(self, record: ClusterRecord, files: ServerFiles) -> ReplicaStatus | None:
        """Stop the server cleanly; return its replication status from just before."""
        status = replica_status(files) if server.is_running(record.pid, files) else None
        server.stop(record.pid, files)
        return status


def run_mariadb_upgrade(installation: MariadbInstallation, files: ServerFiles) -> str:
    """``installation``'s mariadb-upgrade as root over the server's socket; returns its output's end."""
    tools = files.server_dir / "upgrade-tools"
    command = installation.command_beside(
        tools,
        "mariadb-upgrade",
        _UPGRADE_HELPERS,
        "--no-defaults",
        "--user=root",
        f"--socket={files.socket}",
        "--skip-write-binlog",
        f"--tmpdir={files.server_dir / 'tmp'}",
    )
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=installation.environment(os.environ),
        timeout=_UPGRADE_TIMEOUT_SECONDS,
        check=False,
    )
    output = (result.stdout + result.stderr)[-_OUTPUT_TAIL:]
    if result.returncode != 0:
        raise ServerError(f"mariadb-upgrade ({installation.label}) failed ({result.returncode}):\n{output}")
    if not _upgraded_to(files.datadir, installation):
        raise ServerError(f"mariadb-upgrade ({installation.label}) left no record of the upgrade:\n{output}")
    return output


def replica_status(files: ServerFiles) -> ReplicaStatus | None:
    """The server's replication (MariaDB's SHOW SLAVE STATUS, with its gtid_slave_pos)."""
    with root_connection(str(files.socket)) as root, root.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute("SHOW SLAVE STATUS")
        rows = cursor.fetchall()
        cursor.execute("SELECT @@GLOBAL.gtid_slave_pos AS pos")
        gtid_slave_pos = cursor.fetchone()["pos"]
    return server_answers.replica_status_from_rows(rows, gtid_slave_pos)


def _upgraded_to(datadir: Path, installation: MariadbInstallation) -> bool:
    """Whether mariadb-upgrade of ``installation``'s version has run on ``datadir``."""
    for name in UPGRADE_INFO_FILES:
        path = datadir / name
        if path.exists():
            return path.read_text(errors="replace").strip().startswith(installation.version)
    return False


@contextmanager
def _timed(report: EngineUpgradeReport, step: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        report.seconds[step] = round(time.monotonic() - started, 3)
