"""Has green caught up with blue? Exact answers for the cutover, readable ones for people.

The cutover trusts only positions: green has executed exactly what blue wrote. ``Seconds_Behind_*``
is an estimate the server makes from event timestamps, so it feeds the lag verdict a person reads and
the sensor's "close enough to approve" threshold, never the cutover.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from aurora_bluegreen.gtid import GtidSet
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus


def is_caught_up(source: BinlogPosition | GtidSet, replica: ReplicaStatus) -> bool:
    """True when the replica has executed everything up to ``source`` (blue's final position or set)."""
    if isinstance(source, BinlogPosition):
        return replica.exec_position == source
    if replica.executed_gtid_set is None:
        return False
    return type(source).parse(replica.executed_gtid_set).contains(source)


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
