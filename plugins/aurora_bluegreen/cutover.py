"""The cutover critical section: freeze blue, let green catch up exactly, hand writes to green.

Guarantee: no write that blue acknowledged is lost. Blue stops taking writes (read_only, or the
application stopped: ``freeze_methods``) before its final binlog position is read; green is made
writable only after it has executed exactly that position, and only if blue's position has not
moved since. If any phase fails, or green is not writable within the freeze budget, the section
rolls back: green is made read-only and replicating from blue again, then blue is unfrozen. Writes
are refused (not lost) while frozen, so the application sees errors and retries; how long that
lasts is the ``freeze_ms`` of the report.

What it does not guarantee: that nobody writes to old blue after green was made writable. With
read_only, only a read_only-bypassing privilege could (SUPER, READ_ONLY ADMIN, CONNECTION_ADMIN,
the Aurora master user): the guardrails refuse such users, and the master user's other sessions are
ended inside the freeze. With ``application_stops`` nothing on blue refuses a write: the
application must stay stopped until it is pointed at green.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aurora_bluegreen.catchup import wait_until_executed
from aurora_bluegreen.consistency import ConsistencyCheck
from aurora_bluegreen.errors import (
    BlueNotQuiet,
    ClusterStateError,
    CutoverFailed,
    GuardrailFailed,
    ReplicationBroken,
    WaitTimedOut,
)
from aurora_bluegreen.freeze_clock import FreezeClock
from aurora_bluegreen.green_upgrade import REVERSE_AFTER_UPGRADE
from aurora_bluegreen.guardrail_facts import read_guardrail_facts
from aurora_bluegreen.guardrails import evidence_summary, guardrail_violations
from aurora_bluegreen.models import (
    CutoverReport,
    ReplicaStatus,
    SourceEndpoint,
    SourceState,
)
from aurora_bluegreen.phases import PhaseRecorder
from aurora_bluegreen.protocols import BlueFreeze, ClusterSql, FreezeLedger, ReadOnlySwitch
from aurora_bluegreen.repointers.protocol import Repointer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CutoverLimits:
    max_freeze_seconds: float
    max_lag_seconds: float
    max_transaction_seconds: float = 60
    max_statement_seconds: float = 5
    """A write running this long when the freeze would start is a reason not to start it."""


@dataclass
class Cutover:
    blue_cluster_id: str
    green_cluster_id: str
    blue: ClusterSql
    blue_freeze: BlueFreeze
    green: ClusterSql
    green_read_only: ReadOnlySwitch
    green_host: str
    green_port: int
    repointer: Repointer
    source_for_rollback: SourceEndpoint
    limits: CutoverLimits
    approved: bool | None = None
    reverse_replication: bool = False
    green_engine_newer: bool = False
    """Green runs a newer engine than blue (``UpgradeGreenOperator``): reverse replication runs newer
    -> older, and the report says what a switch back can still rely on (``REVERSE_AFTER_UPGRADE``)."""
    expected_green_writes: tuple[str, ...] = ()
    application_users: tuple[str, ...] = ()
    """The application's MySQL users: checked for a read_only bypass even when not connected."""
    green_parameter_group: ReadOnlySwitch | None = None
    """Green's read_only as its parameter group holds it: set to 0 after the freeze, or the next
    reboot of the new writer would make production read-only."""
    consistency: ConsistencyCheck | None = None
    clock: Callable[[], float] = time.monotonic
    _reverse_user_exists: bool = field(default=False, init=False)
    _green_at_start: ReplicaStatus | None = field(default=None, init=False)
    _own_sessions: set[int] = field(default_factory=set, init=False)
    """Green's replica status when the guardrails ran: how it replicates decides how to wait and undo."""
    freeze_ledger: FreezeLedger | None = None
    """Where the freeze's start and deadline are kept for a retry on another worker."""
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    _freeze_clock: FreezeClock = field(init=False)
    _phases: PhaseRecorder = field(init=False)

    def run(self) -> CutoverReport:
        """Run the phases in order; on any failure roll back and raise CutoverFailed.

        A retry after a worker died mid-cutover converges: before the reset the phases run again
        (each is idempotent, and replication stopped by the dead attempt is restarted); after the
        reset, green is finished off (see ``_resume``).
        """
        report = CutoverReport(
            self.blue_cluster_id, self.green_cluster_id, freeze_method=self.blue_freeze.method
        )
        self._phases = PhaseRecorder(report.steps, log, self.clock)
        self._freeze_clock = FreezeClock(
            self.limits.max_freeze_seconds, self.freeze_ledger, self.clock, self.wall_clock
        )
        replica = self.green.replica_status()
        frozen_before = self.blue_freeze.holds()
        self._freeze_clock.resume(frozen_before)
        if frozen_before:
            if (
                self._freeze_clock.inherited
                and self._freeze_clock.seconds_left() <= 0
                and self.green.read_only()
            ):
                self._roll_back_dead_attempt(report, replica)
            if replica is None:
                return self._resume(report)
            if not replica.is_running and not replica.error:
                with self._phases.phase("recover") as note:
                    self.green.start_replication()
                    self._until_replicating(self.green)
                    note("restarted replication that an earlier attempt stopped during its freeze")
        try:
            with self._phases.phase("guardrails") as note:
                note(self._check_guardrails())
            self._freeze(report)
        except Exception as error:
            report.failure = report.failure or f"{type(error).__name__}: {error}"
            raise CutoverFailed(f"cutover failed: {report.failure}", report) from error
        if self.consistency is not None:
            with self._phases.phase("open_blue_snapshot") as note:
                note(self._open_snapshot(self.consistency.open_blue_snapshot, "blue"))
        if report.green_start_position is not None:
            self._start_reverse_replication(report)
        if self.consistency is not None:
            with self._phases.phase("consistency_check") as note:
                note(self._check_consistency(report))
        self._persist_green_writable(report)
        return report

    def _persist_green_writable(self, report: CutoverReport) -> None:
        """After the freeze: the switch that made green writable is forgotten at a reboot, its
        parameter group is not. A failure here leaves writes on green (a retry finishes it)."""
        if self.green_parameter_group is None:
            return
        try:
            with self._phases.phase("persist_green_writable") as note:
                self.green_parameter_group.set_read_only(False)
                note(
                    f"{self.green_cluster_id}'s parameter group says read_only=0: a reboot keeps it writable"
                )
        except Exception as error:
            report.failure = (
                f"writes moved to {self.green_cluster_id}, but its parameter group still makes it read-only "
                f"at its next reboot: {type(error).__name__}: {error}. Retry this task, or set read_only=0 "
                "in green's parameter group"
            )
            raise CutoverFailed(f"cutover incomplete: {report.failure}", report) from error

    def _check_consistency(self, report: CutoverReport) -> str:
        """After the freeze; a check that cannot run is reported, it does not undo a good cutover."""
        try:
            result = self.consistency.compare()
        except Exception as error:
            log.warning("The consistency check could not run: %s", error)
            return f"could not run: {error}"
        report.consistency = result.to_dict()
        return result.summary()

    def _freeze(self, report: CutoverReport) -> None:
        """Hand over, or roll back; ``freeze_ms`` is how long blue refused writes.

        The clock stops when the application is repointed, or when a rollback has made blue
        writable again; the held log lines are written after that, on time that costs nobody.
        """
        progress = _Progress()
        deadline = self._freeze_clock.start()
        try:
            with self._phases.quiet(self.blue, self.green):
                try:
                    self._hand_over(report, progress, deadline)
                except Exception as error:
                    report.failure = f"{type(error).__name__}: {error}"
                    if progress.blue_frozen:
                        self._roll_back(report, progress)
                    raise
                finally:
                    if progress.blue_frozen:
                        report.freeze_ms = self._freeze_clock.frozen_ms()
        except Exception:
            self._freeze_clock.end()  # rolled back, or never frozen
            raise
        self._freeze_clock.end()

    def _hand_over(self, report: CutoverReport, progress: _Progress, deadline: float) -> None:
        """The write freeze: from blue read-only to the application pointed at a writable green."""
        with self._phases.phase("freeze_blue") as note:
            # Marked first: while the switch waits (at most the budget: its session's lock wait
            # timeout), writes already queue behind it, and a failed switch is rolled back too.
            progress.blue_frozen = True
            note(f"{self.blue_cluster_id}: {self.blue_freeze.freeze(deadline)}")
        with self._phases.phase("end_writing_sessions") as note:
            note(self._end_writing_sessions(report))
        with self._phases.phase("read_final_position") as note:
            final = self.blue.source_state()
            report.blue_final_position, report.blue_final_gtid_set = final.position, final.gtid_set
            note(f"blue stopped at {final}")
        with self._phases.phase("wait_for_green") as note:
            note(self._wait_for_green(final, deadline, report))
        if self.consistency is not None:
            with self._phases.phase("open_green_snapshot") as note:
                note(self._open_snapshot(self.consistency.open_green_snapshot, "green"))
        with self._phases.phase("stop_replication") as note:
            self._within_budget(deadline)
            self.green.stop_replication()
            progress.replication_stopped = True
            note(f"replication stopped on {self.green_cluster_id}")
        with self._phases.phase("blue_still_frozen") as note:
            note(self._blue_still_at(final))
        with self._phases.phase("reset_external_source") as note:
            self._within_budget(deadline)
            self.green.reset_external_source()
            progress.source_reset = True
            note(f"{self.green_cluster_id} is no longer a replica")
        with self._phases.phase("green_writable") as note:
            self._within_budget(deadline)
            self.green_read_only.set_read_only(False)
            progress.green_writable = True
            note(f"{self.green_cluster_id} read_only=0")
        if self.reverse_replication:
            with self._phases.phase("prepare_reverse") as note:
                note(self._prepare_reverse(report))
        with self._phases.phase("repoint") as note:
            report.repointed_to = self.repointer.repoint(
                self.green_host, self.green_port, self.green_cluster_id
            )
            note(report.repointed_to)

    def _open_snapshot(self, open_snapshot: Callable[[], None], cluster: str) -> str:
        """Remember a cluster's state at blue's final position, for the check after the freeze."""
        try:
            open_snapshot()
        except Exception as error:
            self.consistency = None
            return f"consistency check skipped, the snapshot on {cluster} failed: {error}"
        return f"consistent snapshot open on {cluster} at blue's final position"

    def _prepare_reverse(self, report: CutoverReport) -> str:
        """Inside the freeze: the point in green's binlog from which old blue must follow it.

        The replication user is made on green first, so its CREATE USER (if any: Aurora 3 does not
        replicate users) lies before that point and never replays on blue, which has the user.
        """
        source = self.source_for_rollback
        made = "found"
        if not self._reverse_user_exists:
            self.green.ensure_replication_user(source.user, source.password, require_ssl=source.tls)
            made = "created"
        report.green_start_position = self.green.source_position()
        return f"{made} {source.user} on green; green starts taking writes at {report.green_start_position}"

    def _start_reverse_replication(self, report: CutoverReport) -> None:
        """After the freeze: old blue replicates green's new writes, so a switch back loses none.

        A failure here does not undo the cutover (green is live and correct); it is reported.
        """
        with self._phases.phase("reverse_replication") as note:
            try:
                source = self.source_for_rollback
                self.blue.set_external_source(
                    self.green_host,
                    self.green_port,
                    source.user,
                    source.password,
                    report.green_start_position,
                    ssl=source.tls,
                )
                self.blue.start_replication()
                status = self._until_replicating(self.blue)
                if status is None or not status.is_running:
                    raise ReplicationBroken(status.error or status.summary() if status else "not configured")
                report.reverse_replication = (
                    f"{self.blue_cluster_id} replicates from green since {report.green_start_position}"
                )
                if self.green_engine_newer:
                    report.reverse_replication += f"; {REVERSE_AFTER_UPGRADE}"
            except Exception as error:
                report.reverse_replication = f"FAILED (the cutover itself succeeded): {error}"
                log.warning("Reverse replication to %s failed: %s", self.blue_cluster_id, error)
            note(report.reverse_replication)

    def _until_replicating(self, cluster: ClusterSql, timeout: float = 10) -> ReplicaStatus | None:
        """Wait for a just-started replica's threads to run, or to fail; return its last status."""
        deadline = self.clock() + timeout
        status = cluster.replica_status()
        while status is not None and not status.is_running and not status.error and self.clock() < deadline:
            time.sleep(0.05)
            status = cluster.replica_status()
        return status

    def _end_writing_sessions(self, report: CutoverReport) -> str:
        """Inside the freeze: end the master user's other sessions, which read_only does not stop
        (CONNECTION_ADMIN through rds_superuser_role on Aurora 3), so none keeps writing to blue."""
        ended = []
        for session in self.blue.sessions():
            if session.user == self.blue.login and session.thread_id not in self._own_sessions:
                self.blue.end_session(session.thread_id)
                ended.append(f"{session.thread_id} ({session.user}@{session.host})")
        report.sessions_ended = ended
        return (
            f"ended {len(ended)} session(s) that could write through read_only: {', '.join(ended)}"
            if ended
            else "no other session can write through read_only"
        )

    def _check_guardrails(self) -> str:
        facts = read_guardrail_facts(
            self.blue,
            self.green,
            self.limits,
            approved=self.approved,
            expected_green_writes=self.expected_green_writes,
            application_users=self.application_users,
        )
        self._green_at_start = facts.replica
        violations = guardrail_violations(facts)
        if violations:
            raise GuardrailFailed("; ".join(violations))
        if self.consistency is not None:
            self.consistency.connect()
        # Turning read_only on waits for writes that hold locks: never longer than the budget.
        self.blue.set_lock_wait_timeout(self.limits.max_freeze_seconds)
        self._own_sessions = {
            self.blue.session_id,
            *(self.consistency.session_ids() if self.consistency else ()),
        }
        if self.reverse_replication:
            self._reverse_user_exists = self.green.replication_user_exists(self.source_for_rollback.user)
        return evidence_summary(facts)

    def _wait_for_green(self, final: SourceState, deadline: float, report: CutoverReport) -> str:
        by_gtid = bool(self._green_at_start and self._green_at_start.executed_gtid_set)
        executed = wait_until_executed(self.green, final, by_gtid, deadline, self.clock)
        if executed is None:
            raise WaitTimedOut(
                f"green did not reach {final} within the {self.limits.max_freeze_seconds}s freeze budget"
            )
        report.green_executed_position = executed
        return f"green executed exactly {final}" + (" (by GTID)" if by_gtid and final.gtid_set else "")

    def _blue_still_at(self, final: SourceState) -> str:
        """Green holds blue only up to ``final``: a write that got through the freeze since (a
        session that bypassed read_only, an application that did not stop) must undo the cutover,
        which green then catches up with, rather than be left behind on old blue."""
        now = self.blue.source_state()
        if now != final:
            raise BlueNotQuiet(
                f"blue took writes after its final position was read: {final} -> {now}; "
                "undoing the cutover so green replicates them"
            )
        return f"blue is still at {final}"

    def _within_budget(self, deadline: float) -> None:
        if self.clock() > deadline:
            raise WaitTimedOut(f"freeze budget of {self.limits.max_freeze_seconds}s ran out")

    def _roll_back(self, report: CutoverReport, progress: _Progress) -> None:
        """Put both clusters back as before the freeze, so the application resumes on blue.

        Every step is tried even if an earlier one failed (green may be dead), and blue is made
        writable last: until then green is read-only or replicating again, so no write is lost.
        """
        report.rolled_back = True
        steps: list[tuple[str, Callable[[], None]]] = []
        if progress.green_writable:
            steps.append(("green read_only=1", lambda: self.green_read_only.set_read_only(True)))
        if progress.source_reset:
            steps.append(("green re-attached to blue", lambda: self._reattach_green(report)))
        if progress.replication_stopped:
            steps.append(("replication restarted", self.green.start_replication))
        steps.append((f"{self.blue_cluster_id} unfrozen", self.blue_freeze.thaw))
        with self._phases.phase("rollback") as note:
            failed = []
            for name, step in steps:
                try:
                    said = step()
                    note(f"{name}: {said}" if said else name)
                except Exception as error:
                    failed.append(f"{name}: {error}")
                    note(f"FAILED {name}: {error}")
            if failed:
                report.failure += "; ROLLBACK INCOMPLETE, act by hand: " + "; ".join(failed)

    def _roll_back_dead_attempt(self, report: CutoverReport, replica: ReplicaStatus | None) -> None:
        """An earlier attempt's worker died inside the freeze and its deadline has passed, with green
        still read-only: undo what it did, as its own rollback would have, and fail."""
        report.failure = (
            f"an earlier attempt's worker died inside the freeze, and its deadline "
            f"{FreezeClock.moment(self._freeze_clock.record.deadline)} has passed"
        )
        # Green was reset only after it executed exactly blue's final position, where blue still is.
        report.green_executed_position = self.blue.source_position() if replica is None else None
        progress = _Progress(
            blue_frozen=True,
            replication_stopped=replica is None or not replica.is_running,
            source_reset=replica is None,
        )
        self._roll_back(report, progress)
        report.freeze_ms = self._freeze_clock.frozen_ms()
        self._freeze_clock.end()
        raise CutoverFailed(f"cutover failed: {report.failure}", report)

    def _reattach_green(self, report: CutoverReport) -> None:
        """Green follows blue again from exactly where it stopped: by GTID auto-position when it
        replicated that way (its executed position may trail at a checkpoint), else by position."""
        source = self.source_for_rollback
        if self._green_at_start is not None and self._green_at_start.auto_position:
            self.green.set_external_source(
                source.host, source.port, source.user, source.password, None, gtid=True, ssl=source.tls
            )
            return
        resume_at = report.green_executed_position
        if resume_at is None:
            raise ClusterStateError("green was reset without a known position")
        self.green.set_external_source(
            source.host, source.port, source.user, source.password, resume_at, ssl=source.tls
        )

    def _resume(self, report: CutoverReport) -> CutoverReport:
        """Finish a cutover whose worker died after green stopped being a replica.

        Green is only reset after it executed blue's final position, and blue is still frozen,
        so nothing can be missing: green is made writable and the application repointed.
        """
        with self._phases.phase("resume") as note:
            report.blue_final_position = self.blue.source_position()
            blue_set, green_set = self.blue.executed_gtid_set(), self.green.executed_gtid_set()
            if blue_set.is_empty or not green_set.contains(blue_set):
                raise CutoverFailed(
                    f"{self.green_cluster_id} is not a replica and blue is read-only, but green's GTIDs "
                    f"({green_set or 'none'}) do not prove it holds all of blue's ({blue_set or 'none'}); "
                    "not finishing this cutover automatically: check both clusters by hand",
                    report,
                )
            since = (
                f" since {FreezeClock.moment(self._freeze_clock.record.started_at)}"
                if self._freeze_clock.inherited
                else ""
            )
            note(
                f"an earlier attempt already reset {self.green_cluster_id}; "
                f"blue is still frozen{since} at {report.blue_final_position}"
            )
        with self._phases.phase("green_writable") as note:
            self.green_read_only.set_read_only(False)
            note(f"{self.green_cluster_id} read_only=0")
        with self._phases.phase("repoint") as note:
            report.repointed_to = self.repointer.repoint(
                self.green_host, self.green_port, self.green_cluster_id
            )
            note(report.repointed_to)
        if self._freeze_clock.inherited:
            report.freeze_ms = self._freeze_clock.frozen_ms()
            self._freeze_clock.end()
        self._persist_green_writable(report)
        return report


@dataclass
class _Progress:
    blue_frozen: bool = False
    replication_stopped: bool = False
    source_reset: bool = False
    green_writable: bool = False
