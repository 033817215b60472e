"""A freeze's start and deadline, kept where a retry on another worker finds them.

A worker that dies inside the freeze leaves blue frozen. Its retry runs in another process, maybe
on another machine, and must keep the original deadline (roll back once it has passed) and report
the whole freeze, not only its own part. Nothing on the dead worker survives, and a task's XComs
are cleared when it is retried (Airflow's execution API clears them at the start of every try), so
the record is kept as tags on our clone of the pair, in the control plane: written before the
freeze starts, so it costs the freeze nothing, and closed once the freeze is over. People see it
there too, in the console's tags.

Times are wall-clock UTC, since the retry's monotonic clock is another machine's: clock skew
between workers moves the deadline by as much.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

FREEZE_STARTED_TAG = "freeze-started-at"
FREEZE_DEADLINE_TAG = "freeze-deadline"
FREEZE_ENDED_TAG = "freeze-ended-at"


@dataclass(frozen=True)
class FreezeRecord:
    started_at: datetime
    deadline: datetime

    @classmethod
    def in_flight(cls, tags: Mapping[str, str]) -> FreezeRecord | None:
        """The freeze these tags record as started and not ended, if any."""
        started, deadline = tags.get(FREEZE_STARTED_TAG), tags.get(FREEZE_DEADLINE_TAG)
        if not started or not deadline:
            return None
        record = cls(datetime.fromisoformat(started), datetime.fromisoformat(deadline))
        ended = tags.get(FREEZE_ENDED_TAG)
        if ended and datetime.fromisoformat(ended) >= record.started_at:
            return None
        return record

    def tags(self) -> dict[str, str]:
        return {
            FREEZE_STARTED_TAG: _timestamp(self.started_at),
            FREEZE_DEADLINE_TAG: _timestamp(self.deadline),
        }


class TaggedClusters(Protocol):
    """What the ledger needs of a control plane (``control_plane.protocol.ClusterBackend`` has it)."""

    def describe(self, cluster_id: str) -> Any: ...
    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None: ...


@dataclass
class TagFreezeLedger:
    """``protocols.FreezeLedger`` as tags on ``cluster_id``, a cluster this tool made."""

    backend: TaggedClusters
    cluster_id: str

    def in_flight(self) -> FreezeRecord | None:
        return FreezeRecord.in_flight(self.backend.describe(self.cluster_id).tags)

    def start(self, record: FreezeRecord) -> None:
        self.backend.add_tags(self.cluster_id, record.tags())

    def end(self, at: datetime) -> None:
        self.backend.add_tags(self.cluster_id, {FREEZE_ENDED_TAG: _timestamp(at)})


def _timestamp(moment: datetime) -> str:
    """ISO 8601 to the millisecond: characters AWS allows in a tag value."""
    return moment.isoformat(timespec="milliseconds")
