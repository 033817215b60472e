"""How long the freeze has lasted and how long it has left, over every attempt of one cutover.

An attempt that freezes blue itself times the freeze on its monotonic clock: wall clocks step. A
retry that finds blue frozen by an attempt whose worker died inherits that attempt's record from the
ledger (``freeze_ledger``): the only clock both share is the wall clock, so the inherited freeze is
measured from the record's start, and the record's deadline stays the deadline.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from aurora_bluegreen.freeze_ledger import FreezeRecord
from aurora_bluegreen.protocols import FreezeLedger

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class FreezeClock:
    budget_seconds: float
    ledger: FreezeLedger | None = None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], datetime] = _utc_now
    record: FreezeRecord | None = None
    """This freeze's record: an earlier attempt's (inherited), or this attempt's once it starts."""
    inherited: bool = False
    _started: float = field(default=0.0, init=False)

    def resume(self, blue_frozen: bool) -> None:
        """Take over the freeze an earlier attempt left in the ledger, if blue is still frozen: an
        attempt that died before blue was frozen froze nothing."""
        self.record = self.ledger.in_flight() if self.ledger and blue_frozen else None
        self.inherited = self.record is not None

    def start(self) -> float:
        """Record the freeze before it starts (unless inherited); its deadline, on ``clock``."""
        if self.record is None and self.ledger is not None:
            now = self.wall_clock()
            self.record = FreezeRecord(now, now + timedelta(seconds=self.budget_seconds))
            self.ledger.start(self.record)
        self._started = self.clock()
        return self._started + self.seconds_left()

    def seconds_left(self) -> float:
        """Of the budget: a retry keeps the deadline of the attempt that started the freeze."""
        if self.record is None:
            return self.budget_seconds
        return (self.record.deadline - self.wall_clock()).total_seconds()

    def frozen_ms(self) -> float:
        """How long blue has refused writes so far, over every attempt."""
        if not self.inherited:
            return (self.clock() - self._started) * 1000
        return (self.wall_clock() - self.record.started_at).total_seconds() * 1000

    def end(self) -> None:
        """The freeze is over (handed over or rolled back): a later run must not take it for its own."""
        if self.ledger is None or self.record is None:
            return
        try:
            self.ledger.end(self.wall_clock())
        except Exception as error:
            log.warning("Could not record the end of the freeze: %s", error)

    @staticmethod
    def moment(at: datetime) -> str:
        return at.isoformat(timespec="milliseconds")
