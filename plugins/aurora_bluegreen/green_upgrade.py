"""Upgrade green's engine while it replicates, then prove replication resumed where it stood.

Guarantee: only green is touched, and only a green this tool made (the control plane refuses any
other). The upgrade is asked for only while green replicates without error, and only to a version
the control plane lists as a valid target for it. Afterwards replication runs again from the same
source, the same way (file and position, or GTID), from the position it had executed before the
upgrade or later: the engine keeps the replica's position across its restart, and this module never
changes the source, its coordinates or a skip counter. If the restart left replication stopped
without an error, it is started again (``START``, nothing else); an error is never skipped: the
task fails with it. A failed upgrade (Aurora's prechecks) fails with the control plane's own words
(the RDS event); Aurora leaves the cluster on its old version, and blue was never touched.

What it does not guarantee: that the newer engine applies every later event of the older one as the
older would (MariaDB and MySQL support replication from an older source to a newer replica, not the
other way); that green has caught up (the lag sensor after this task decides that); reverse
replication after the cutover, which runs newer -> older (``REVERSE_AFTER_UPGRADE``).

The phases: ``versions`` and ``target`` (refusals, before any change), ``record_position``,
``upgrade`` (start it), the wait (``upgrade_progress``: the sandbox is done at once; on AWS the
operator defers to a trigger), ``resume_replication`` and ``check_position``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from aurora_bluegreen.errors import ClusterStateError, InvalidInput, ReplicationBroken, WaitTimedOut
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus
from aurora_bluegreen.timing import Stopwatch, logged_step

log = logging.getLogger(__name__)

REVERSE_AFTER_UPGRADE = (
    "green runs a newer engine than old blue, so reverse replication runs newer -> older, which "
    "neither MariaDB nor MySQL promises. Measured on the sandbox (MariaDB 11.8 -> 10.11): the "
    "application's writes, ADD COLUMN, CREATE INDEX and UPDATE replicate; a table created with a bare "
    "CHARACTER SET utf8mb4 gets a different collation on old blue (utf8mb4_general_ci instead of "
    "utf8mb4_uca1400_ai_ci) without an error; a column of a type the older engine lacks (VECTOR) stops "
    "reverse replication. A switch back loses no acknowledged write only while old blue's replication "
    "runs without error: the rollback DAG checks that first"
)
"""What the cutover report and the rollback DAG say after an upgrade (tests/integration)."""


class UpgradeControlPlane(Protocol):
    """What the upgrade needs of the control plane (``control_plane.protocol.EngineUpgrades``)."""

    def describe(self, cluster_id: str) -> Any: ...
    def engine_upgrade_targets(self, cluster_id: str) -> list[str]: ...
    def engine_upgrade_refusal(self, cluster_id: str) -> str | None: ...
    def upgrade_engine(self, cluster_id: str, target_version: str) -> Any: ...
    def runs_engine_version(self, cluster_id: str, target_version: str) -> bool: ...
    def upgrade_failure(self, cluster_id: str, since: datetime) -> str | None: ...


class GreenReplica(Protocol):
    """Green's SQL side (``ClusterSqlHook``), opened afresh after the upgrade."""

    @property
    def server_version(self) -> Any: ...
    def replica_status(self) -> ReplicaStatus | None: ...
    def start_replication(self) -> None: ...


@dataclass(frozen=True)
class ReplicationPoint:
    """Where green's replication stood: its source, how it replicates, and what it had executed."""

    source_host: str
    source_port: int
    auto_position: bool
    exec_position: BinlogPosition | None
    executed_gtid_set: str | None

    @classmethod
    def of(cls, status: ReplicaStatus) -> ReplicationPoint:
        return cls(
            status.source_host,
            status.source_port,
            status.auto_position,
            status.exec_position,
            status.executed_gtid_set,
        )

    def __str__(self) -> str:
        where = f"GTID {self.executed_gtid_set}" if self.auto_position else str(self.exec_position)
        return f"{where} of {self.source_host}:{self.source_port}"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["exec_position"] = self.exec_position.to_dict() if self.exec_position else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplicationPoint:
        return cls(**{**data, "exec_position": BinlogPosition.from_dict(data.get("exec_position"))})


def target_refusal(cluster_id: str, target: str, targets: list[str], why_none: str | None) -> str | None:
    """What ``target`` must be for ``cluster_id`` (an ``InvalidInput`` rule naming the valid
    targets), or None when it is one of them."""
    if target in targets:
        return None
    if not targets:
        return f"a version {cluster_id} can be upgraded to, and it has none: {why_none or 'no target exists'}"
    return f"one of {cluster_id}'s valid upgrade targets: {', '.join(targets)}"


def replication_not_resumed(before: ReplicationPoint, after: ReplicaStatus | None) -> str | None:
    """Why green's replication after the upgrade is not the one it had before, or None.

    The same source, the same way (GTID or file and position), no error, both threads running, and
    an executed position no earlier than before (earlier would replay events).
    """
    if after is None:
        return "green is no longer a replica: the upgrade lost its replication source"
    if not after.replicates_from(before.source_host, before.source_port):
        return (
            f"green replicates from {after.source_host}:{after.source_port}, "
            f"not {before.source_host}:{before.source_port} as before the upgrade"
        )
    if after.error:
        return f"replication stopped with an error after the upgrade: {after.error}"
    if after.auto_position != before.auto_position:
        return (
            f"green replicated by {'GTID' if before.auto_position else 'file and position'} before the "
            f"upgrade and by {'GTID' if after.auto_position else 'file and position'} after it"
        )
    if not after.is_running:
        return f"replication is not running after the upgrade ({after.summary()})"
    if before.auto_position:
        if before.executed_gtid_set and not after.executed_gtid_set:
            return f"green had executed GTID {before.executed_gtid_set} and now reports none"
        return None
    if before.exec_position and (
        after.exec_position is None or after.exec_position.sort_key() < before.exec_position.sort_key()
    ):
        return f"green's executed position went back from {before.exec_position} to {after.exec_position}"
    return None


@dataclass
class UpgradeStart:
    """What the first half (up to starting the upgrade) found; it travels through a deferral."""

    target: str
    started_at: str
    """ISO time just before the upgrade was asked for: events since then are this upgrade's."""
    position_before: ReplicationPoint
    green_version_before: str
    blue_version: str
    seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "position_before": self.position_before.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UpgradeStart:
        return cls(**{**data, "position_before": ReplicationPoint.from_dict(data["position_before"])})


@dataclass
class UpgradeResult:
    """XCom value of ``UpgradeGreenOperator``."""

    green_cluster_id: str
    blue_cluster_id: str
    target_engine_version: str | None
    blue_version: str
    green_version_before: str
    green_version: str
    skipped: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    """Each phase's duration, and ``total`` from the first phase to the last."""
    position_before: ReplicationPoint | None = None
    position_after: ReplicationPoint | None = None
    replication_restarted: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("position_before", "position_after"):
            point = getattr(self, name)
            data[name] = point.to_dict() if point else None
        return data


def upgrade_progress(
    backend: UpgradeControlPlane, cluster_id: str, target: str, since: datetime
) -> tuple[bool, str | None]:
    """(done, failure): the upgrade finished, or the control plane reported it failed since ``since``."""
    if backend.runs_engine_version(cluster_id, target):
        return True, None
    return False, backend.upgrade_failure(cluster_id, since)


def engine_label(info: Any, server_version: Any) -> str:
    """A cluster's engine as people know it: what the server says, and what the control plane says."""
    server = getattr(server_version, "text", str(server_version))
    control_plane = getattr(info, "engine_version", None)
    return f"{server} (control plane: {control_plane})" if control_plane else server


@dataclass
class GreenUpgrade:
    blue_cluster_id: str
    green_cluster_id: str
    backend: UpgradeControlPlane
    green_sql: Callable[[], GreenReplica]
    """Green's SQL side; called again after the upgrade, as the old connection died with the server."""
    blue_sql: Callable[[], GreenReplica]
    """Blue's SQL side: only its version is read."""
    resume_timeout: float = 60
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def begin(self, target: str) -> UpgradeStart:
        """Refuse what cannot be done, record green's position, ask for the upgrade; no wait."""
        seconds: dict[str, float] = {}
        with _timed_phase(
            seconds,
            "versions",
            "Engine versions of blue %s and green %s",
            self.blue_cluster_id,
            self.green_cluster_id,
        ):
            blue_version = engine_label(
                self.backend.describe(self.blue_cluster_id), self.blue_sql().server_version
            )
            green = self.green_sql()
            green_version = engine_label(self.backend.describe(self.green_cluster_id), green.server_version)
        with _timed_phase(
            seconds, "target", "Checked %s against green %s's upgrade targets", target, self.green_cluster_id
        ) as note:
            if self.backend.runs_engine_version(self.green_cluster_id, target):
                # A retry after the upgrade: the target is no longer one of green's targets.
                note("green runs it already")
            elif refusal := target_refusal(
                self.green_cluster_id,
                target,
                self.backend.engine_upgrade_targets(self.green_cluster_id),
                self.backend.engine_upgrade_refusal(self.green_cluster_id),
            ):
                raise InvalidInput("target_engine_version", target, refusal)
        with _timed_phase(
            seconds, "record_position", "Recorded green %s's replication", self.green_cluster_id
        ) as note:
            status = green.replica_status()
            if status is None or status.error or not status.is_running:
                why = "is not a replica" if status is None else (status.error or status.summary())
                raise ReplicationBroken(
                    f"green {self.green_cluster_id} {why}: its engine is upgraded only while it replicates"
                )
            point = ReplicationPoint.of(status)
            note(str(point))
        started_at = datetime.now(timezone.utc)
        with _timed_phase(
            seconds, "upgrade", "Asked to upgrade green %s to %s", self.green_cluster_id, target
        ):
            self.backend.upgrade_engine(self.green_cluster_id, target)
        return UpgradeStart(target, started_at.isoformat(), point, green_version, blue_version, seconds)

    def wait_here(self, start: UpgradeStart, poll_interval: float, timeout: float) -> None:
        """Wait for the upgrade in this process (the sandbox's returns done; AWS's defers instead)."""
        watch = Stopwatch(self.clock)
        since = datetime.fromisoformat(start.started_at)
        while True:
            done, failure = upgrade_progress(self.backend, self.green_cluster_id, start.target, since)
            if done:
                start.seconds["wait"] = round(watch.seconds, 3)
                return
            if failure:
                raise ClusterStateError(upgrade_failed(self.green_cluster_id, start.target, failure))
            if watch.seconds > timeout:
                raise WaitTimedOut(f"green {self.green_cluster_id} is not on {start.target} after {timeout}s")
            self.sleep(poll_interval)

    def finish(self, start: UpgradeStart, seconds_before: float) -> UpgradeResult:
        """After the upgrade: replication running again from where it stood, versions read again.

        ``seconds_before``: how long the task took up to here (``begin`` and the wait).
        """
        watch = Stopwatch(self.clock)
        seconds = dict(start.seconds)
        restarted = False
        with _timed_phase(
            seconds, "resume_replication", "Replication on green %s after the upgrade", self.green_cluster_id
        ) as note:
            green = self.green_sql()
            status = green.replica_status()
            if status is not None and not status.is_running and not status.error:
                green.start_replication()
                restarted = True
                note("the engine restart had stopped it: started again from its own position")
            status = self._until_running(green, status)
        with _timed_phase(
            seconds,
            "check_position",
            "Checked green %s resumed from %s",
            self.green_cluster_id,
            start.position_before,
        ) as note:
            refusal = replication_not_resumed(start.position_before, status)
            if refusal:
                raise ReplicationBroken(f"green {self.green_cluster_id}: {refusal}")
            after = ReplicationPoint.of(status)
            note(f"now at {after}")
        green_version = engine_label(self.backend.describe(self.green_cluster_id), green.server_version)
        seconds["total"] = round(seconds_before + watch.seconds, 3)
        return UpgradeResult(
            self.green_cluster_id,
            self.blue_cluster_id,
            start.target,
            start.blue_version,
            start.green_version_before,
            green_version,
            seconds=seconds,
            position_before=start.position_before,
            position_after=after,
            replication_restarted=restarted,
        )

    def _until_running(self, green: GreenReplica, status: ReplicaStatus | None) -> ReplicaStatus | None:
        """Both threads running, an error, or ``resume_timeout``: the IO thread connects in a moment."""
        deadline = self.clock() + self.resume_timeout
        while status is not None and not status.is_running and not status.error and self.clock() < deadline:
            self.sleep(0.2)
            status = green.replica_status()
        return status


def upgrade_failed(cluster_id: str, target: str, failure: str) -> str:
    return (
        f"the upgrade of green {cluster_id} to {target} failed: {failure}. Blue was not touched; the "
        "control plane leaves green on its old version. Fix what it names, or run without "
        "target_engine_version"
    )


@contextmanager
def _timed_phase(
    seconds: dict[str, float], name: str, message: str, *args: Any
) -> Iterator[Callable[[str], None]]:
    """One phase: one log line (what, on what, how long) and its seconds in ``seconds``."""
    watch = Stopwatch()
    try:
        with logged_step(log, "upgrade %s: " + message, name, *args) as note:
            yield note
    finally:
        seconds[name] = round(watch.seconds, 3)
