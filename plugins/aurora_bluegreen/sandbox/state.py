"""The sandbox's shared state: one JSON file per cluster in a state directory.

Several processes (the CLI, Airflow tasks, the triggerer, tests) use the same sandbox at once.
Every file is replaced atomically (write a temporary file, then rename), so readers never see
half a file and need no lock. Writers that read, change and write back hold a file lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aurora_bluegreen.sandbox.aurora import DEFAULT_AURORA_VERSION

STATE_DIR_ENV = "AURORA_BLUEGREEN_SANDBOX_DIR"
DEFAULT_STATE_DIR = ".sandbox"

# Lifecycle of a cluster record. "creating" is written before any work starts, so a crash leaves
# a record that says the data directory cannot be trusted.
CREATING = "creating"
CREATED = "created"


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR).resolve()


def write_json_atomic(path: Path, data: Any, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as tmp:
            os.fchmod(tmp.fileno(), mode)
            json.dump(data, tmp, indent=2, sort_keys=True, ensure_ascii=False)
            tmp.write("\n")
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


@contextmanager
def file_lock(path: Path, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive flock on ``path``; yields False if ``blocking`` is off and it is taken.

    The kernel drops the lock when its holder dies, which is what makes "is anyone still working
    on this?" answerable after a crash.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        flags = fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB
        try:
            fcntl.flock(handle, flags)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class ClusterRecord:
    """Everything the sandbox knows about one cluster (one mariadbd).

    ``datadir``, ``socket``, ``pid_file`` and ``log_error`` are there for people and scripts; the
    sandbox itself derives them from ``server_dir`` (``server.ServerFiles.under``).
    """

    cluster_id: str
    status: str
    port: int
    server_id: int
    server_dir: str
    datadir: str
    socket: str
    pid_file: str
    log_error: str
    writer_instance_id: str
    created_by_sandbox: bool
    parameters: dict[str, str] = field(default_factory=dict)
    """The cluster parameter group's values (``parameters.py``): what every start applies."""
    pending_parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Changes of ``parameters`` not yet in effect on the running server: name -> when and token."""
    parameter_group: str = ""
    """The name of its cluster parameter group (``parameters.py``); clusters with the same name
    share it. Empty in records written before groups had names: blue's or our clone's own group."""
    aurora_version: str = DEFAULT_AURORA_VERSION
    """The Aurora MySQL version it plays (``aurora.py``), blue's for a clone."""
    pid: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    source_cluster_id: str | None = None
    clone_coordinates: dict[str, Any] | None = None
    created_at: str | None = None
    engine: str = "mariadb"
    """The server engine (``engines.py``); records written before engines existed are MariaDB's."""
    installation: str = "system"
    """The programs that run its server (``installations.py``): ``system`` (the machine's MariaDB),
    or a Debian root's name: ``mysql`` on the MySQL engine, ``mariadb-trixie`` after an upgrade."""
    server_version: str | None = None
    """What its server last reported at start (``SELECT VERSION()``), e.g. ``11.8.9-MariaDB-0+deb13u1``."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterRecord:
        data = dict(data)
        if "read_only" in data:  # written before parameter groups: read_only was the only one
            data.setdefault("parameters", {"read_only": str(int(data.pop("read_only")))})
        if "installation" not in data:  # written before installations: each engine had one
            data["installation"] = "mysql" if data.get("engine") == "mysql" else "system"
        return cls(**data)


class StateStore:
    """The layout of a state directory and the records in it.

    ``<root>/clusters/<id>.json``   cluster records
    ``<root>/clusters/<id>.lock``   held while a cluster is created or deleted
    ``<root>/servers/<id>/``        data directory, socket, pid file, logs of one mariadbd
    ``<root>/endpoints/<name>.json`` the application's "DNS" (see endpoints.py)
    ``<root>/load/``                acknowledged ids and summaries of load runs
    ``<root>/credentials.json``     master and application users (mode 0600)
    ``<root>/sandbox.json``         counters and settings shared by all clusters
    ``<root>/functions/``           the compiled ``aurora_version()`` (``aurora_function.py``)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        self.clusters_dir = self.root / "clusters"
        self.servers_dir = self.root / "servers"
        self.endpoints_dir = self.root / "endpoints"
        self.load_dir = self.root / "load"
        self.credentials_file = self.root / "credentials.json"
        self.functions_dir = self.root / "functions"
        self._meta_file = self.root / "sandbox.json"
        self._lock_file = self.root / ".lock"

    def locked(self) -> AbstractContextManager[bool]:
        """Short lock for read-modify-write of records and counters."""
        return file_lock(self._lock_file)

    def cluster_lock(self, cluster_id: str, blocking: bool = True) -> AbstractContextManager[bool]:
        """Long lock held by whoever creates or deletes ``cluster_id``."""
        return file_lock(self.clusters_dir / f"{cluster_id}.lock", blocking=blocking)

    def server_dir(self, cluster_id: str) -> Path:
        return self.servers_dir / cluster_id

    def read(self, cluster_id: str) -> ClusterRecord | None:
        data = read_json(self._record_file(cluster_id))
        return ClusterRecord.from_dict(data) if data else None

    def write(self, record: ClusterRecord) -> None:
        write_json_atomic(self._record_file(record.cluster_id), record.to_dict())

    def remove(self, cluster_id: str) -> None:
        self._record_file(cluster_id).unlink(missing_ok=True)

    def all(self) -> list[ClusterRecord]:
        if not self.clusters_dir.is_dir():
            return []
        records = (self.read(path.stem) for path in sorted(self.clusters_dir.glob("*.json")))
        return [record for record in records if record is not None]

    def engine(self) -> str | None:
        """The engine this sandbox was made with; None before its first cluster."""
        return self.setting("engine")

    def record_engine(self, name: str) -> None:
        self.record_setting("engine", name)

    def setting(self, name: str) -> Any | None:
        """A sandbox-wide setting (``sandbox.json``); None if it was never recorded."""
        return (read_json(self._meta_file) or {}).get(name)

    def record_setting(self, name: str, value: Any) -> None:
        with self.locked():
            meta = read_json(self._meta_file) or {}
            meta[name] = value
            write_json_atomic(self._meta_file, meta)

    def next_server_id(self) -> int:
        """A server_id never handed out before in this state directory; call with ``locked()`` held.

        Never reused, even after a delete: a replica skips binlog events that carry its own
        server_id, so a new clone must not inherit the id of one whose writes are still in blue's
        binlog (reverse replication puts them there).
        """
        meta = read_json(self._meta_file) or {}
        server_id = int(meta.get("next_server_id", 1))
        meta["next_server_id"] = server_id + 1
        write_json_atomic(self._meta_file, meta)
        return server_id

    def _record_file(self, cluster_id: str) -> Path:
        return self.clusters_dir / f"{cluster_id}.json"
