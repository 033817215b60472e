"""The freeze's clock across attempts: pure, with clocks and a ledger the test drives."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aurora_bluegreen.freeze_clock import FreezeClock
from aurora_bluegreen.freeze_ledger import FreezeRecord

T0 = datetime(2026, 12, 2, 4, 0, tzinfo=timezone.utc)


class Clocks:
    def __init__(self):
        self.monotonic, self.wall = 1000.0, T0

    def advance(self, seconds, wall_seconds=None):
        self.monotonic += seconds
        self.wall += timedelta(seconds=seconds if wall_seconds is None else wall_seconds)


class Ledger:
    def __init__(self, record=None, fail_end=False):
        self.record, self.ended, self.fail_end = record, None, fail_end

    def in_flight(self):
        return self.record

    def start(self, record):
        self.record = record

    def end(self, at):
        if self.fail_end:
            raise OSError("tagging API down")
        self.ended = at


def clock_for(clocks, ledger, budget=10.0):
    return FreezeClock(budget, ledger, lambda: clocks.monotonic, lambda: clocks.wall)


def test_a_freeze_begun_here_is_recorded_first_and_timed_on_the_monotonic_clock():
    clocks, ledger = Clocks(), Ledger()
    freeze = clock_for(clocks, ledger)
    freeze.resume(blue_frozen=False)
    deadline = freeze.start()
    assert ledger.record == FreezeRecord(T0, T0 + timedelta(seconds=10))
    assert deadline == 1010.0
    clocks.advance(0.25, wall_seconds=-3600)  # the wall clock stepped back an hour
    assert freeze.frozen_ms() == 250.0
    freeze.end()
    assert ledger.ended == clocks.wall


def test_a_retry_inherits_the_dead_attempts_start_and_deadline():
    clocks = Clocks()
    ledger = Ledger(FreezeRecord(T0 - timedelta(seconds=4), T0 + timedelta(seconds=6)))
    freeze = clock_for(clocks, ledger)
    freeze.resume(blue_frozen=True)
    assert freeze.inherited and freeze.seconds_left() == 6.0
    assert freeze.start() == 1006.0  # the original deadline, not a new budget
    clocks.advance(1)
    assert freeze.frozen_ms() == 5000.0  # both attempts
    assert ledger.record.started_at == T0 - timedelta(seconds=4)


def test_a_record_left_by_an_attempt_that_never_froze_blue_is_not_inherited():
    clocks = Clocks()
    ledger = Ledger(FreezeRecord(T0 - timedelta(seconds=60), T0 - timedelta(seconds=50)))
    freeze = clock_for(clocks, ledger)
    freeze.resume(blue_frozen=False)
    assert not freeze.inherited
    assert freeze.start() == 1010.0
    assert ledger.record.started_at == T0


def test_without_a_ledger_the_budget_is_the_deadline_and_end_is_a_no_op():
    clocks = Clocks()
    freeze = FreezeClock(5.0, None, lambda: clocks.monotonic, lambda: clocks.wall)
    freeze.resume(blue_frozen=True)
    assert freeze.start() == 1005.0
    freeze.end()


def test_a_ledger_that_cannot_record_the_end_does_not_fail_the_cutover(caplog):
    clocks, ledger = Clocks(), Ledger(fail_end=True)
    freeze = clock_for(clocks, ledger)
    freeze.start()
    freeze.end()
    assert "Could not record the end of the freeze: tagging API down" in caplog.text
