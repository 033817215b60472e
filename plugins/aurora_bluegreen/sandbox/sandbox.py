"""The sandbox: local servers on 127.0.0.1 (MySQL or MariaDB, see engines.py) that play Aurora clusters.

Blue (``create_blue``) plays the user's production cluster, so it is not tagged as ours and only
``down`` removes it. Clones are made the way Aurora makes them, from a hot copy of the source,
tagged ``managed-by=aurora-bluegreen``, and may be deleted.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import pymysql

from aurora_bluegreen import validation
from aurora_bluegreen.errors import CloneConflict, ClusterNotFound, SandboxError, ServerExited
from aurora_bluegreen.models import CloneCoordinates, CloneSpec, ClusterInfo
from aurora_bluegreen.ownership import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    SOURCE_CLUSTER_TAG,
    require_ours,
    require_reusable,
)
from aurora_bluegreen.parameter_groups import Level, owned_group_name
from aurora_bluegreen.sandbox import aurora, aurora_function, parameters, procedures, server
from aurora_bluegreen.sandbox.connect import root_connection, user_connection
from aurora_bluegreen.sandbox.credentials import Credentials, load_credentials, save_credentials
from aurora_bluegreen.sandbox.demo_schema import create_demo_schema
from aurora_bluegreen.sandbox.endpoints import Endpoint, endpoint_file, write_endpoint
from aurora_bluegreen.sandbox.engines import DEFAULT_ENGINE, ServerEngine, engine_named
from aurora_bluegreen.sandbox.parameters import ParameterGroupMixin
from aurora_bluegreen.sandbox.server import ServerFiles
from aurora_bluegreen.sandbox.state import CREATED, CREATING, ClusterRecord, StateStore, default_state_dir
from aurora_bluegreen.sandbox.upgrade import EngineUpgradeMixin

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
User = Literal["root", "admin", "app"]


class Sandbox(ParameterGroupMixin, EngineUpgradeMixin):
    """The clusters of one state directory, all on one engine (``engines.py``).

    :param engine: ``mysql`` or ``mariadb``, for a new sandbox; an existing one keeps the engine
        it was made with, and naming another is refused.
    """

    def __init__(self, state_dir: str | Path | None = None, engine: str | None = None) -> None:
        self.store = StateStore(state_dir or default_state_dir())
        self._engine_name = engine

    @property
    def engine(self) -> ServerEngine:
        recorded = self.store.engine()
        if self._engine_name is not None and recorded is not None and recorded != self._engine_name:
            raise SandboxError(
                f"the sandbox in {self.state_dir} runs {recorded}, not {self._engine_name}: "
                "remove it first (`aurora-bluegreen sandbox down`) or choose another --state-dir"
            )
        return engine_named(recorded or self._engine_name or DEFAULT_ENGINE)

    @property
    def state_dir(self) -> Path:
        return self.store.root

    @property
    def credentials(self) -> Credentials:
        credentials = load_credentials(self.store.credentials_file)
        if credentials is None:
            raise SandboxError(f"no sandbox in {self.state_dir}: run `aurora-bluegreen sandbox up` first")
        return credentials

    # -- creating clusters ------------------------------------------------------------------------

    def create_blue(
        self,
        cluster_id: str = "blue",
        port: int | None = None,
        credentials: Credentials | None = None,
        aurora_version: str | None = None,
    ) -> ClusterInfo:
        """Start blue with the demo schema, users and rds procedures; reuse it if it exists.

        ``credentials`` are used only when the sandbox has none yet (default: generated ones).
        ``aurora_version`` ("3.08.0", default ``aurora.DEFAULT_AURORA_VERSION``) decides which rds
        procedures it has and what ``aurora_version()`` answers; its clones inherit it.
        """
        validation.cluster_identifier("cluster_id", cluster_id)
        version = aurora.aurora_version(aurora_version or aurora.DEFAULT_AURORA_VERSION)
        started = time.monotonic()
        with self.store.cluster_lock(cluster_id):
            record = self.store.read(cluster_id)
            if record is not None and record.status == CREATED:
                return self._reuse_blue(record, version if aurora_version else None)
            if record is not None:
                self._discard(record)
            credentials = self._ensure_credentials(credentials)
            engine = self.engine
            self.store.record_engine(engine.name)
            record = self._new_record(
                cluster_id,
                port=port,
                writer_instance_id=f"{cluster_id}-instance-1",
                created_by_sandbox=True,
                parameters=parameters.initial(read_only=False),
                parameter_group=f"{cluster_id}-cluster-params",
                aurora_version=version,
                tags={},
                source_cluster_id=None,
            )
            files = self._files(record)
            engine.init_datadir(files)
            record = self._launch(record)
            engine.install_procedures(files, version)
            engine.create_accounts(files, credentials)
            with self._root(record) as root:
                aurora_function.create_function(root)
                create_demo_schema(root)
            self._update(cluster_id, status=CREATED)
        log.info(
            "Created %s (%s, playing Aurora MySQL %s) on port %s in %.2fs",
            cluster_id,
            engine.version,
            version,
            record.port,
            time.monotonic() - started,
        )
        return self.describe(cluster_id)

    def _reuse_blue(self, record: ClusterRecord, version: str | None) -> ClusterInfo:
        """The blue that exists, started if it was stopped; ``version``, if given, must be its own."""
        if not record.created_by_sandbox:
            raise CloneConflict(f"{record.cluster_id} exists and is a clone, not a sandbox blue cluster")
        if version is not None and record.aurora_version != version:
            raise CloneConflict(
                f"{record.cluster_id} exists and runs Aurora MySQL {record.aurora_version}, not {version}"
            )
        if not server.is_running(record.pid, self._files(record)):
            self._start(record)
        return self.describe(record.cluster_id)

    def clone(self, spec: CloneSpec) -> ClusterInfo:
        """Hot-copy the source into a new server; return the existing clone if we made it already.

        Crash-safe: the record says "creating" until the clone is complete, and a retry that finds
        such a record discards the half-made server and copies again.
        """
        validation.cluster_identifier("source_cluster_id", spec.source_cluster_id)
        validation.cluster_identifier("cluster_id", spec.cluster_id)
        validation.distinct_clusters(spec.source_cluster_id, spec.cluster_id)
        started = time.monotonic()
        with self.store.cluster_lock(spec.cluster_id):
            existing = self.store.read(spec.cluster_id)
            if existing is not None:
                require_reusable("cluster_id", spec.cluster_id, existing.tags, spec.source_cluster_id)
                if existing.status == CREATED:
                    log.info("Clone %s exists already; reusing it", spec.cluster_id)
                    return self.describe(spec.cluster_id)
                log.warning("Clone %s was left half-made; discarding it and copying again", spec.cluster_id)
                self._discard(existing)
            source = self.record(spec.source_cluster_id)
            source_files = self._files(source)
            if not server.is_running(source.pid, source_files):
                raise SandboxError(f"cannot clone {source.cluster_id}: its server is stopped")
            record = self._new_record(
                spec.cluster_id,
                port=None,
                writer_instance_id=spec.writer_instance_id,
                created_by_sandbox=False,
                parameters=parameters.initial(read_only=spec.read_only),
                parameter_group=owned_group_name(spec.cluster_id, Level.CLUSTER),
                aurora_version=source.aurora_version,
                # An upgraded source's data runs only on its newer server: the copy runs there too.
                installation=source.installation,
                tags={
                    **spec.tags,
                    MANAGED_BY_TAG: MANAGED_BY_VALUE,
                    SOURCE_CLUSTER_TAG: spec.source_cluster_id,
                },
                source_cluster_id=spec.source_cluster_id,
            )
            files = self._files(record)
            coordinates = self._engine_of(record).clone(
                source_files, source.port, files, lambda: self._launch(self.record(spec.cluster_id)).pid
            )
            record = self._update(spec.cluster_id, clone_coordinates=coordinates.to_dict())
            with self._root(record) as root:
                procedures.apply_stored_configuration(root)
                procedures.forget_replication(root)
            self._update(spec.cluster_id, status=CREATED)
        log.info(
            "Cloned %s into %s on port %s in %.2fs; data ends at %s gtid %s",
            spec.source_cluster_id,
            spec.cluster_id,
            record.port,
            time.monotonic() - started,
            coordinates.position,
            coordinates.gtid_set or "-",
        )
        return self.describe(spec.cluster_id)

    # -- looking at clusters ----------------------------------------------------------------------

    def describe(self, cluster_id: str) -> ClusterInfo:
        record = self.record(cluster_id)
        return ClusterInfo(
            cluster_id=record.cluster_id,
            status=self._status(record),
            endpoint=HOST,
            port=record.port,
            writer_instance_id=record.writer_instance_id,
            tags=dict(record.tags),
            engine_version=aurora.engine_version(record.aurora_version),
        )

    def find(self, cluster_id: str) -> ClusterInfo | None:
        try:
            return self.describe(cluster_id)
        except ClusterNotFound:
            return None

    def record(self, cluster_id: str) -> ClusterRecord:
        record = self.store.read(cluster_id)
        if record is None:
            raise ClusterNotFound(f"no sandbox cluster {cluster_id!r} in {self.state_dir}")
        return record

    def clusters(self) -> list[ClusterRecord]:
        return self.store.all()

    def list_clusters(self, tags: Mapping[str, str]) -> list[ClusterInfo]:
        """Clusters whose tags include every pair in ``tags``, half-made ones too, by id."""
        wanted = dict(tags)
        found = [
            self.find(record.cluster_id)
            for record in self.store.all()
            if wanted.items() <= record.tags.items()
        ]
        return [info for info in found if info is not None]  # None: deleted while we looked

    def clone_coordinates(self, cluster_id: str) -> CloneCoordinates | None:
        record = self.record(cluster_id)
        if record.status != CREATED:
            return None
        return CloneCoordinates.from_dict(record.clone_coordinates)

    # -- changing clusters ------------------------------------------------------------------------

    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags of a clone we made; anything else raises NotManagedByUs."""
        with self.store.locked():
            record = self.record(cluster_id)
            require_ours(cluster_id, record.tags, "its tags stay as they are")
            record.tags = {**record.tags, **tags}
            self.store.write(record)

    def delete(self, cluster_id: str) -> None:
        """Stop and remove a clone we made; anything else raises NotManagedByUs."""
        with self.store.cluster_lock(cluster_id):
            record = self.record(cluster_id)
            require_ours(cluster_id, record.tags, "it will not be deleted")
            self._discard(record)
            self.store.remove(cluster_id)
        log.info("Deleted %s", cluster_id)

    def stop_server(self, cluster_id: str, kill: bool = False) -> None:
        """Stop the server but keep its data and record (``kill`` simulates a crash)."""
        record = self.record(cluster_id)
        server.stop(record.pid, self._files(record), kill=kill)
        self._update(cluster_id, pid=None)

    def start_server(self, cluster_id: str) -> ClusterInfo:
        record = self.record(cluster_id)
        if not server.is_running(record.pid, self._files(record)):
            self._start(record)
        return self.describe(cluster_id)

    def restart(self, cluster_id: str) -> ClusterInfo:
        """Reboot the cluster's writer as Aurora does: a clean shutdown, then a start.

        The start applies the parameter group's values (runtime switches such as
        ``rds_set_read_only`` are forgotten), the stored configuration, and resumes the
        replication that the rds procedures left running (``procedures.after_start``).
        """
        started = time.monotonic()
        with self.store.cluster_lock(cluster_id):
            record = self.record(cluster_id)
            if record.status != CREATED:
                raise SandboxError(f"{cluster_id} is {self._status(record)}: only a created cluster restarts")
            server.stop(record.pid, self._files(record))
            self._start(self._update(cluster_id, pid=None))
        log.info("Restarted %s in %.2fs", cluster_id, time.monotonic() - started)
        return self.describe(cluster_id)

    def down(self) -> None:
        """Stop every server and remove the whole state directory, blue included."""
        records = self.store.all()
        for record in records:
            server.stop(record.pid, self._files(record))
        for record in records:
            self._files(record).socket.unlink(missing_ok=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
        log.info("Removed the sandbox in %s (%d clusters)", self.state_dir, len(records))

    # -- connections and endpoints ----------------------------------------------------------------

    def connect(
        self, cluster_id: str, user: User = "root", database: str | None = None
    ) -> pymysql.connections.Connection:
        """root over the unix socket; admin (master user) or app over TCP with their passwords."""
        record = self.record(cluster_id)
        if user == "root":
            connection = self._root(record)
            if database:
                connection.select_db(database)
            return connection
        credentials = self.credentials
        name, password = {
            "admin": (credentials.admin_user, credentials.admin_password),
            "app": (credentials.app_user, credentials.app_password),
        }[user]
        return user_connection(HOST, record.port, name, password, database=database)

    def endpoint_file(self, name: str) -> Path:
        return endpoint_file(self.state_dir, name)

    def point_endpoint(self, name: str, cluster_id: str) -> Endpoint:
        record = self.record(cluster_id)
        endpoint = Endpoint(host=HOST, port=record.port, cluster_id=cluster_id)
        write_endpoint(self.endpoint_file(name), endpoint)
        return endpoint

    # -- internals --------------------------------------------------------------------------------

    def _update(self, cluster_id: str, **changes: Any) -> ClusterRecord:
        with self.store.locked():
            record = self.record(cluster_id)
            for name, value in changes.items():
                setattr(record, name, value)
            self.store.write(record)
        return record

    def _engine_of(self, record: ClusterRecord) -> ServerEngine:
        return engine_named(record.engine, record.installation)

    def _files(self, record: ClusterRecord) -> ServerFiles:
        return self._engine_of(record).files(Path(record.server_dir), record.cluster_id)

    def _status(self, record: ClusterRecord) -> str:
        if record.status == CREATING:
            with self.store.cluster_lock(record.cluster_id, blocking=False) as free:
                # Nobody holds the lock: whoever was creating it died part-way.
                return "failed" if free else "creating"
        files = self._files(record)
        if not server.is_running(record.pid, files):
            return "stopped"
        try:
            root_connection(str(files.socket), connect_timeout=2, read_timeout=2).close()
        except pymysql.err.OperationalError:
            return "unreachable"  # running, but it does not answer
        return "available"

    def _ensure_credentials(self, credentials: Credentials | None) -> Credentials:
        with self.store.locked():
            existing = load_credentials(self.store.credentials_file)
            if existing is not None:
                return existing
            chosen = credentials or Credentials.generate()
            save_credentials(self.store.credentials_file, chosen)
            return chosen

    def _new_record(self, cluster_id: str, port: int | None, **fields: Any) -> ClusterRecord:
        """Write a "creating" record, with its port and server_id reserved, before any other work."""
        server_dir = self.store.server_dir(cluster_id)
        engine = self.engine
        files = engine.files(server_dir, cluster_id)
        with self.store.locked():
            taken = {record.port for record in self.store.all() if record.cluster_id != cluster_id}
            if port is not None and port in taken:
                raise SandboxError(f"port {port} is already recorded for another sandbox cluster")
            record = ClusterRecord(
                cluster_id=cluster_id,
                status=CREATING,
                port=port or server.free_port(taken),
                server_id=self.store.next_server_id(),
                server_dir=str(server_dir),
                datadir=str(files.datadir),
                socket=str(files.socket),
                pid_file=str(files.pid_file),
                log_error=str(files.log_error),
                created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                engine=engine.name,
                **{"installation": engine.installation_name, **fields},
            )
            self.store.write(record)
        server_dir.mkdir(parents=True, exist_ok=True)
        return record

    def _launch(self, record: ClusterRecord) -> ClusterRecord:
        files = self._files(record)
        with self.store.locked():
            library = aurora_function.build_library(self.store.functions_dir)
        function = aurora_function.AuroraFunction(record.aurora_version, library)
        read_only = parameters.read_only_of(record.parameters)  # the parameter group's, at every start
        # mariadbd now and then dies at start-up before writing any log on a busy machine (seen
        # here under parallel test load, like the install-db segfault); a second start has worked.
        attempt = 1
        while True:
            pid = self._engine_of(record).start(files, record.port, record.server_id, read_only, function)
            record = self._update(record.cluster_id, pid=pid)
            try:
                server.wait_until_ready(files, pid)
                return self._update(record.cluster_id, server_version=self._server_version(files))
            except ServerExited:
                if attempt == server.START_ATTEMPTS:
                    raise
                log.warning(
                    "%s exited while starting (attempt %d), starting it again", record.cluster_id, attempt
                )
                attempt += 1

    def _server_version(self, files: ServerFiles) -> str:
        with root_connection(str(files.socket)) as root, root.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            return cursor.fetchone()[0]

    def _start(self, record: ClusterRecord) -> ClusterRecord:
        """Start a stopped server with its parameter group's values: no change is pending after it."""
        record = self._launch(self._update(record.cluster_id, pending_parameters={}))
        with self._root(record) as root:
            procedures.after_start(root)
        return record

    def _discard(self, record: ClusterRecord) -> None:
        """Kill the server (its data is being thrown away) and remove its files."""
        files = self._files(record)
        server.stop(record.pid, files, kill=True)
        shutil.rmtree(files.server_dir, ignore_errors=True)
        files.socket.unlink(missing_ok=True)

    def socket(self, cluster_id: str) -> Path:
        """The server's unix socket, on which root logs in without a password."""
        return self._files(self.record(cluster_id)).socket

    def _root(self, record: ClusterRecord) -> pymysql.connections.Connection:
        """root over the socket; use it in a ``with`` block, which closes it."""
        return root_connection(str(self._files(record).socket))
