"""Small dataclasses shared by hooks, operators, sensors and triggers.

Everything that crosses XCom is turned into plain dicts with ``to_dict``/``from_dict`` so the
values stay readable in the Airflow UI and need no custom deserialisation allow-list.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from aurora_bluegreen.ownership import is_ours

_BINLOG_SEQUENCE = re.compile(r"\.(\d+)$")


@dataclass(frozen=True)
class BinlogPosition:
    """A point in a server's binary log: file name and byte offset."""

    file: str
    position: int

    @property
    def sequence(self) -> int:
        """The numeric suffix of the file (``mysql-bin.000042`` -> 42), which orders files."""
        match = _BINLOG_SEQUENCE.search(self.file)
        if not match:
            raise ValueError(f"binlog file name {self.file!r} has no numeric suffix")
        return int(match.group(1))

    def sort_key(self) -> tuple[int, int]:
        return (self.sequence, self.position)

    def __str__(self) -> str:
        return f"{self.file}:{self.position}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "position": self.position}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> BinlogPosition | None:
        if not data:
            return None
        return cls(file=data["file"], position=int(data["position"]))


@dataclass(frozen=True)
class SourceState:
    """Where a source's binlog ends, and (MySQL with gtid_mode=ON) the GTID set it has executed,
    read together in one statement."""

    position: BinlogPosition
    gtid_set: str | None = None

    def __str__(self) -> str:
        return f"{self.position}" + (f" (GTIDs {self.gtid_set})" if self.gtid_set else "")


@dataclass(frozen=True)
class CloneCoordinates:
    """Where in blue's binlog the clone's data stops: replication starts exactly here."""

    position: BinlogPosition | None
    gtid_set: str | None
    evidence: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position.to_dict() if self.position else None,
            "gtid_set": self.gtid_set,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CloneCoordinates | None:
        if not data:
            return None
        return cls(
            position=BinlogPosition.from_dict(data.get("position")),
            gtid_set=data.get("gtid_set") or None,
            evidence=data.get("evidence", ""),
        )


@dataclass(frozen=True)
class CloneSpec:
    """What the user asked green to look like."""

    source_cluster_id: str
    cluster_id: str
    writer_instance_id: str
    cluster_parameter_group: str | None = None
    instance_parameter_group: str | None = None
    vpc_security_group_ids: tuple[str, ...] = ()
    db_subnet_group: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    read_only: bool = True


@dataclass(frozen=True)
class ClusterInfo:
    """What the control plane knows about one cluster."""

    cluster_id: str
    status: str
    endpoint: str | None
    port: int | None
    writer_instance_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    engine: str | None = None
    """``aurora-mysql`` on AWS; None where the control plane does not say (the sandbox)."""
    engine_version: str | None = None
    """As RDS reports it, e.g. ``8.0.mysql_aurora.3.06.0``; the sandbox reports the version it plays."""
    cluster_parameter_group: str | None = None
    """Where binlogs are turned on, on AWS; None on the sandbox."""

    @property
    def is_available(self) -> bool:
        return self.status == "available"

    @property
    def is_managed(self) -> bool:
        return is_ours(self.tags)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterInfo:
        return cls(**data)


@dataclass(frozen=True)
class ParameterStatus:
    """One parameter of a cluster's parameter group: its value, and whether the writer runs with it.

    ``value`` is what the group holds, so what every reboot applies. ``applied`` is False while a
    change is still on its way to the running server (RDS: ``applying``, ``pending-reboot``).
    """

    value: str
    applied: bool


@dataclass(frozen=True)
class InstanceInfo:
    """One DB instance of a cluster, as far as placing readers is concerned."""

    instance_id: str
    cluster_id: str | None
    instance_class: str
    zone: str | None
    status: str
    is_writer: bool
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_managed(self) -> bool:
        return is_ours(self.tags)


@dataclass(frozen=True)
class CloneResult:
    """XCom value of ``CloneClusterOperator``."""

    cluster_id: str
    writer_instance_id: str | None
    endpoint: str
    port: int
    coordinates: CloneCoordinates
    reused: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster_id": self.cluster_id,
            "writer_instance_id": self.writer_instance_id,
            "endpoint": self.endpoint,
            "port": self.port,
            "coordinates": self.coordinates.to_dict(),
            "reused": self.reused,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CloneResult:
        coordinates = CloneCoordinates.from_dict(data["coordinates"])
        if coordinates is None:
            raise ValueError("clone result carries no coordinates")
        return cls(
            cluster_id=data["cluster_id"],
            writer_instance_id=data.get("writer_instance_id"),
            endpoint=data["endpoint"],
            port=int(data["port"]),
            coordinates=coordinates,
            reused=bool(data.get("reused", False)),
        )


@dataclass(frozen=True)
class ReplicaStatus:
    """One ``SHOW REPLICA STATUS`` / ``SHOW SLAVE STATUS`` row, with both column families merged."""

    io_running: str
    sql_running: str
    seconds_behind: int | None
    source_host: str
    source_port: int
    read_position: BinlogPosition | None
    exec_position: BinlogPosition | None
    last_io_errno: int = 0
    last_io_error: str = ""
    last_sql_errno: int = 0
    last_sql_error: str = ""
    executed_gtid_set: str | None = None
    auto_position: bool = False

    @property
    def is_running(self) -> bool:
        return self.io_running == "Yes" and self.sql_running == "Yes"

    def replicates_from(self, host: str, port: int) -> bool:
        """Whether this replica's source is ``host:port``; on Aurora every cluster listens on 3306,
        so the port alone says nothing. Host names compare without case, as DNS does."""
        return self.source_port == port and self.source_host.lower() == host.lower()

    @property
    def error(self) -> str | None:
        """The replication error a person must read, or None when there is none."""
        parts = []
        if self.last_sql_errno or self.last_sql_error:
            parts.append(f"SQL thread error {self.last_sql_errno}: {self.last_sql_error}")
        if self.last_io_errno or self.last_io_error:
            parts.append(f"IO thread error {self.last_io_errno}: {self.last_io_error}")
        return "; ".join(parts) or None

    def summary(self) -> str:
        lag = "unknown" if self.seconds_behind is None else f"{self.seconds_behind}s"
        return (
            f"io={self.io_running} sql={self.sql_running} lag={lag} "
            f"read={self.read_position} executed={self.exec_position}"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["read_position"] = self.read_position.to_dict() if self.read_position else None
        data["exec_position"] = self.exec_position.to_dict() if self.exec_position else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplicaStatus:
        values = dict(data)
        values["read_position"] = BinlogPosition.from_dict(values.get("read_position"))
        values["exec_position"] = BinlogPosition.from_dict(values.get("exec_position"))
        return cls(**values)


@dataclass(frozen=True)
class ReplicationSummary:
    """XCom value of ``StartBinlogReplicationOperator``."""

    green_cluster_id: str
    source_host: str
    source_port: int
    start_position: BinlogPosition | None
    start_gtid_set: str | None
    replication_user: str
    binlog_retention_hours: int
    previous_binlog_retention_hours: int | None
    dialect: str
    tls: bool = False
    """Whether green reads blue's binlog over TLS."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start_position"] = self.start_position.to_dict() if self.start_position else None
        return data


@dataclass(frozen=True)
class CutoverStep:
    name: str
    started_at: str
    duration_ms: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CutoverReport:
    """XCom value of ``CutoverOperator``: what happened, step by step, and how long writes froze."""

    blue_cluster_id: str
    green_cluster_id: str
    steps: list[CutoverStep] = field(default_factory=list)
    freeze_ms: float | None = None
    blue_final_position: BinlogPosition | None = None
    blue_final_gtid_set: str | None = None
    green_executed_position: BinlogPosition | None = None
    repointed_to: str | None = None
    green_start_position: BinlogPosition | None = None
    reverse_replication: str | None = None
    sessions_ended: list[str] = field(default_factory=list)
    """Sessions on blue that could write through read_only, ended inside the freeze: the application
    sees their connections drop."""
    consistency: dict[str, Any] | None = None
    rolled_back: bool = False
    failure: str | None = None
    freeze_method: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "freeze_method": self.freeze_method,
            "application_sees": self.application_sees(),
            "blue_cluster_id": self.blue_cluster_id,
            "green_cluster_id": self.green_cluster_id,
            "steps": [step.to_dict() for step in self.steps],
            "freeze_ms": self.freeze_ms,
            "blue_final_position": (self.blue_final_position.to_dict() if self.blue_final_position else None),
            "blue_final_gtid_set": self.blue_final_gtid_set,
            "green_executed_position": (
                self.green_executed_position.to_dict() if self.green_executed_position else None
            ),
            "repointed_to": self.repointed_to,
            "green_start_position": (
                self.green_start_position.to_dict() if self.green_start_position else None
            ),
            "reverse_replication": self.reverse_replication,
            "sessions_ended": self.sessions_ended,
            "consistency": self.consistency,
            "rolled_back": self.rolled_back,
            "failure": self.failure,
        }

    def as_table(self) -> str:
        """A fixed-width table of the steps, for the task log."""
        rows = [(step.name, f"{step.duration_ms:.1f}", step.detail) for step in self.steps]
        name_width = max([len("step"), *(len(r[0]) for r in rows)])
        ms_width = max([len("ms"), *(len(r[1]) for r in rows)])
        lines = [f"{'step':<{name_width}}  {'ms':>{ms_width}}  detail"]
        lines.append(f"{'-' * name_width}  {'-' * ms_width}  {'-' * 6}")
        lines += [f"{n:<{name_width}}  {ms:>{ms_width}}  {d}" for n, ms, d in rows]
        freeze = "n/a" if self.freeze_ms is None else f"{self.freeze_ms:.1f} ms"
        method = f" ({self.freeze_method})" if self.freeze_method else ""
        lines.append(f"write freeze: {freeze}{method}; rolled back: {'yes' if self.rolled_back else 'no'}")
        lines.append(f"the application sees: {self.application_sees()}")
        return "\n".join(lines)

    def application_sees(self) -> str:
        """The freeze is only the database's part of the application's downtime: in words, the rest."""
        if self.freeze_ms is None:
            return "nothing: blue was never frozen"
        seen = [f"writes refused for {self.freeze_ms:.0f} ms"]
        if self.sessions_ended:
            seen.append(f"{len(self.sessions_ended)} connection(s) to old blue dropped (pools reconnect)")
        if self.rolled_back:
            seen.append("then writes on blue again")
        elif self.repointed_to:
            seen.append(
                f"then its new endpoint ({self.repointed_to}); a client still holding the old DNS "
                "answer or a pooled connection reaches old blue until its TTL runs out or it reconnects"
            )
        return "; ".join(seen)


@dataclass(frozen=True)
class SourceEndpoint:
    """The replication user's way to blue: for undoing the cutover, and (reversed) to green."""

    host: str
    port: int
    user: str
    password: str
    tls: bool = False
    """Replicate over TLS, and create the user with REQUIRE SSL."""

    def __repr__(self) -> str:
        return f"SourceEndpoint(host={self.host!r}, port={self.port}, user={self.user!r}, tls={self.tls})"
