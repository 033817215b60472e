"""Has green caught up with blue? Exact answers for the cutover, readable ones for people.

The cutover trusts only positions: green has executed exactly what blue wrote. ``Seconds_Behind_*``
is an estimate the server makes from event timestamps, so it feeds the lag verdict a person reads and
the sensor's "close enough to approve" threshold, never the cutover.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum

from aurora_bluegreen.errors import ReplicationBroken
from aurora_bluegreen.gtid import GtidSet, MysqlGtidSet
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus, SourceState
from aurora_bluegreen.protocols import ClusterSql


def is_caught_up(source: BinlogPosition | GtidSet, replica: ReplicaStatus) -> bool:
    """True when the replica has executed everything up to ``source`` (blue's final position or set)."""
    if isinstance(source, BinlogPosition):
        return replica.exec_position == source
    if replica.executed_gtid_set is None:
        return False
    return type(source).parse(replica.executed_gtid_set).contains(source)


def wait_until_executed(
    green: ClusterSql,
    final: SourceState,
    by_gtid: bool,
    deadline: float,
    clock: Callable[[], float],
) -> BinlogPosition | None:
    """Wait until green has executed exactly blue's ``final`` state; return blue's position it
    executed up to, or None if ``deadline`` came first. ReplicationBroken if it never will.

    By GTID set where both run GTIDs (``by_gtid``: MySQL), since a multithreaded replica advances its
    executed position only at checkpoints (300 ms apart by default); by binlog position otherwise.
    """
    target: BinlogPosition | GtidSet = final.position
    if by_gtid and final.gtid_set:
        target = MysqlGtidSet.parse(final.gtid_set)
    if not _wait_on_server(green, final, target, deadline, clock):
        return None
    status = green.replica_status()
    if status is None or not is_caught_up(target, status):
        executed = (status.executed_gtid_set or status.exec_position) if status else None
        raise ReplicationBroken(f"green executed {executed}, not exactly blue's final {final}")
    # Blue is frozen at its final position and green holds all of its GTIDs, so green has executed
    # exactly that far; its own Exec_Source_Log_Pos trails until a checkpoint.
    return final.position if isinstance(target, GtidSet) else status.exec_position


def _wait_on_server(
    green: ClusterSql,
    final: SourceState,
    target: BinlogPosition | GtidSet,
    deadline: float,
    clock: Callable[[], float],
) -> bool:
    """A GTID wait cannot see a stopped applier, so it waits a second at a time."""
    if isinstance(target, BinlogPosition):
        remaining = deadline - clock()
        return remaining > 0 and green.wait_for_position(final.position, remaining)
    while (remaining := deadline - clock()) > 0:
        if green.wait_for_gtid_set(final.gtid_set, min(remaining, 1)):
            return True
        status = green.replica_status()
        if status is None or status.error or not status.is_running:
            why = (status.error or status.summary()) if status else "it has no source"
            raise ReplicationBroken(f"green stopped applying before {final}: {why}")
    return False


# Blue restarting or a network blip: the IO thread retries by itself, so these are waited out.
# Anything else while connecting (wrong password, missing grant) never heals and fails at once.
SOURCE_UNREACHABLE_ERRNOS = frozenset({2003, 2005, 2006, 2013})


class LagState(str, Enum):
    CAUGHT_UP = "caught_up"
    LAGGING = "lagging"
    BROKEN = "broken"
    NOT_CONFIGURED = "not_configured"


@dataclass(frozen=True)
class LagVerdict:
    state: LagState
    message: str

    @property
    def is_final(self) -> bool:
        """Whether waiting longer can change the answer: only a lagging replica is worth polling."""
        return self.state is not LagState.LAGGING


def lag_verdict(status: ReplicaStatus | None, max_lag_seconds: float) -> LagVerdict:
    """Judge one replica status against the lag threshold.

    A thread that has stopped never restarts by itself, so that is broken at once. An IO thread
    that is still connecting is only broken once the server reports why it cannot connect.
    """
    if status is None:
        return LagVerdict(LagState.NOT_CONFIGURED, "replication is not configured")
    if status.sql_running != "Yes":
        reason = _error_text("SQL", status.last_sql_errno, status.last_sql_error) or "SQL thread not running"
        return LagVerdict(LagState.BROKEN, f"{reason} ({status.summary()})")
    if status.io_running != "Yes":
        reason = _error_text("IO", status.last_io_errno, status.last_io_error)
        if status.io_running == "Connecting" and status.last_io_errno in SOURCE_UNREACHABLE_ERRNOS:
            return LagVerdict(LagState.LAGGING, f"reconnecting to blue after {reason} ({status.summary()})")
        if reason:
            return LagVerdict(LagState.BROKEN, f"{reason} ({status.summary()})")
        if status.io_running == "No":
            return LagVerdict(LagState.BROKEN, f"IO thread not running ({status.summary()})")
        return LagVerdict(LagState.LAGGING, f"IO thread is {status.io_running} ({status.summary()})")
    if status.seconds_behind is None:
        return LagVerdict(LagState.LAGGING, f"lag unknown ({status.summary()})")
    if status.seconds_behind > max_lag_seconds:
        return LagVerdict(
            LagState.LAGGING, f"lagging, over the {max_lag_seconds}s threshold ({status.summary()})"
        )
    return LagVerdict(
        LagState.CAUGHT_UP, f"caught up, within the {max_lag_seconds}s threshold ({status.summary()})"
    )


def _error_text(thread: str, errno: int, error: str) -> str:
    return f"{thread} thread error {errno}: {error}" if errno or error else ""


class LagLog:
    """Which lag polls are worth a log line: the first, a change of state, and one every ``every`` seconds.

    A sensor may poll every 2 s for six hours; a line per poll buries the one that matters (the
    replica broke, or caught up). A change of state is logged at once, however soon.
    """

    def __init__(self, every: float = 60.0) -> None:
        self.every = every
        self._state: LagState | None = None
        self._logged_at = -math.inf

    def wanted(self, verdict: LagVerdict, now: float) -> bool:
        if verdict.state is self._state and now - self._logged_at < self.every:
            return False
        self._state, self._logged_at = verdict.state, now
        return True


def observed(status: ReplicaStatus | None, at: datetime) -> dict | None:
    """The status as the sensor returns it, with the moment it was read (``observed_at``, UTC)."""
    if status is None:
        return None
    return {**status.to_dict(), "observed_at": at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
