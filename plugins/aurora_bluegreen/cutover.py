"""The cutover critical section: freeze blue, let green catch up exactly, hand writes to green.

Guarantee: no write that blue acknowledged is lost. Blue stops taking writes (read_only, verified)
before its final binlog position is read; green is made writable only after it has executed
exactly that position. If any phase fails, or green is not writable within the freeze budget,
the section rolls back: green is made read-only and replicating from blue again, then blue is
made writable. Writes are refused (not lost) while frozen, so the application sees errors and
retries; how long that lasts is the ``freeze_ms`` of the report.

What it does not guarantee: that nobody with a read_only-bypassing privilege (SUPER, READ_ONLY
ADMIN, CONNECTION_ADMIN, the Aurora master user) writes to blue during the freeze. Such a write
would land after the final position and be missing on green; the application must not hold them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from aurora_bluegreen.catchup import is_caught_up
from aurora_bluegreen.models import BinlogPosition, CutoverReport, CutoverStep, ReplicaStatus

log = logging.getLogger(__name__)


class CutoverFailed(RuntimeError):
    """The cutover did not complete; ``report`` says how far it got and whether it rolled back."""

    def __init__(self, message: str, report: CutoverReport) -> None:
        super().__init__(message)
        self.report = report


class ReadOnlySwitch(Protocol):
    def set_read_only(self, read_only: bool) -> None:
        """Switch read_only and return only once it is in effect."""


class Repointer(Protocol):
    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        """Send the application to this endpoint; return a short description of what changed."""


class ReplicaControl(Protocol):
    """The data-plane operations the cutover needs on green (``ReplicationHook`` provides them)."""

    def replica_status(self) -> ReplicaStatus | None: ...
    def wait_for_position(self, position: BinlogPosition, timeout_seconds: float) -> bool: ...
    def stop_replication(self) -> None: ...
    def start_replication(self) -> None: ...
    def reset_external_source(self) -> None: ...
    def set_external_source(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        position: BinlogPosition | None,
        gtid: bool = False,
        ssl: bool = False,
    ) -> None: ...


class SourceControl(Protocol):
    def source_position(self) -> BinlogPosition: ...


@dataclass(frozen=True)
class SourceEndpoint:
    """How green reaches blue again if the cutover must be undone."""

    host: str
    port: int
    user: str
    password: str

    def __repr__(self) -> str:
        return f"SourceEndpoint(host={self.host!r}, port={self.port}, user={self.user!r})"


@dataclass(frozen=True)
class CutoverLimits:
    max_freeze_seconds: float
    max_lag_seconds: float


@dataclass
class Cutover:
    blue_cluster_id: str
    green_cluster_id: str
    blue: SourceControl
    blue_read_only: ReadOnlySwitch
    green: ReplicaControl
    green_read_only: ReadOnlySwitch
    green_host: str
    green_port: int
    repointer: Repointer
    source_for_rollback: SourceEndpoint
    limits: CutoverLimits
    clock: Callable[[], float] = time.monotonic

    def run(self) -> CutoverReport:
        """Run the phases in order; on any failure roll back and raise CutoverFailed."""
        report = CutoverReport(self.blue_cluster_id, self.green_cluster_id)
        progress = _Progress()
        try:
            with self._phase(report, "guardrails") as note:
                note(self._check_guardrails())
            freeze_started = self.clock()
            deadline = freeze_started + self.limits.max_freeze_seconds
            with self._phase(report, "freeze_blue") as note:
                self.blue_read_only.set_read_only(True)
                progress.blue_frozen = True
                note(f"{self.blue_cluster_id} read_only=1 verified")
            with self._phase(report, "read_final_position") as note:
                final = self.blue.source_position()
                report.blue_final_position = final
                note(f"blue stopped at {final}")
            with self._phase(report, "wait_for_green") as note:
                note(self._wait_for_green(final, deadline, report))
            with self._phase(report, "stop_replication") as note:
                self._within_budget(deadline)
                self.green.stop_replication()
                progress.replication_stopped = True
                note(f"replication stopped on {self.green_cluster_id}")
            with self._phase(report, "reset_external_source") as note:
                self._within_budget(deadline)
                self.green.reset_external_source()
                progress.source_reset = True
                note(f"{self.green_cluster_id} is no longer a replica")
            with self._phase(report, "green_writable") as note:
                self._within_budget(deadline)
                self.green_read_only.set_read_only(False)
                progress.green_writable = True
                note(f"{self.green_cluster_id} read_only=0 verified")
            with self._phase(report, "repoint") as note:
                report.repointed_to = self.repointer.repoint(
                    self.green_host, self.green_port, self.green_cluster_id
                )
                note(report.repointed_to)
            report.freeze_ms = (self.clock() - freeze_started) * 1000
        except Exception as error:
            report.failure = f"{type(error).__name__}: {error}"
            if progress.blue_frozen:
                report.freeze_ms = (self.clock() - freeze_started) * 1000
                try:
                    self._roll_back(report, progress)
                except Exception as rollback_error:
                    report.failure += f"; ROLLBACK FAILED, act by hand: {rollback_error}"
            raise CutoverFailed(f"cutover failed: {report.failure}", report) from error
        return report

    def _check_guardrails(self) -> str:
        status = self.green.replica_status()
        if status is None:
            raise RuntimeError(f"{self.green_cluster_id} is not replicating from blue")
        if not status.is_running or status.error:
            raise RuntimeError(
                f"replication on {self.green_cluster_id} is not healthy: {status.error or status.summary()}"
            )
        if status.seconds_behind is None or status.seconds_behind > self.limits.max_lag_seconds:
            raise RuntimeError(
                f"green lags {status.seconds_behind}s, over the {self.limits.max_lag_seconds}s threshold"
            )
        return f"replication healthy, lag {status.seconds_behind}s"

    def _wait_for_green(self, final: BinlogPosition, deadline: float, report: CutoverReport) -> str:
        remaining = deadline - self.clock()
        if remaining <= 0 or not self.green.wait_for_position(final, remaining):
            raise TimeoutError(
                f"green did not reach {final} within the {self.limits.max_freeze_seconds}s freeze budget"
            )
        status = self.green.replica_status()
        if status is None or not is_caught_up(final, status):
            executed = status.exec_position if status else None
            raise RuntimeError(f"green executed {executed}, not exactly blue's final {final}")
        report.green_executed_position = status.exec_position
        return f"green executed exactly {final}"

    def _within_budget(self, deadline: float) -> None:
        if self.clock() > deadline:
            raise TimeoutError(f"freeze budget of {self.limits.max_freeze_seconds}s ran out")

    def _roll_back(self, report: CutoverReport, progress: _Progress) -> None:
        """Put both clusters back as they were before the freeze, so the application resumes on blue."""
        report.rolled_back = True
        with self._phase(report, "rollback") as note:
            done = []
            if progress.green_writable:
                self.green_read_only.set_read_only(True)
                done.append("green read_only=1")
            if progress.source_reset:
                resume_at = report.green_executed_position
                if resume_at is None:
                    raise RuntimeError("green was reset without a known position; cannot resume")
                source = self.source_for_rollback
                self.green.set_external_source(
                    source.host, source.port, source.user, source.password, resume_at
                )
                done.append(f"green re-attached to blue at {resume_at}")
            if progress.replication_stopped:
                self.green.start_replication()
                done.append("replication restarted")
            self.blue_read_only.set_read_only(False)
            done.append(f"{self.blue_cluster_id} read_only=0")
            note("; ".join(done))

    @contextmanager
    def _phase(self, report: CutoverReport, name: str) -> Iterator[Callable[[str], None]]:
        details: list[str] = []
        started_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        started = self.clock()
        try:
            yield details.append
        except Exception as error:
            details.append(f"FAILED: {error}")
            raise
        finally:
            step = CutoverStep(name, started_at, (self.clock() - started) * 1000, "; ".join(details))
            report.steps.append(step)
            log.info("cutover %-22s %8.1f ms  %s", name, step.duration_ms, step.detail)


@dataclass
class _Progress:
    blue_frozen: bool = False
    replication_stopped: bool = False
    source_reset: bool = False
    green_writable: bool = False
