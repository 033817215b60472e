"""How long each step took: the one timer behind every step a task logs.

Logs are the user's window: every step logs one line that says what it did, on what, and how long
it took. ``logged_step`` writes that line when the step ends (or says that it failed, and after how
long); ``Stopwatch`` is the clock underneath, for the few places that keep the figure themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class Stopwatch:
    """Started when made; ``seconds`` and ``ms`` read the time since then."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()

    @property
    def seconds(self) -> float:
        return self.clock() - self.started

    @property
    def ms(self) -> float:
        return self.seconds * 1000


@contextmanager
def logged_step(log: Any, message: str, *args: Any) -> Iterator[Callable[[str], None]]:
    """Log ``message % args`` once the block ends, with what it noted and how long it took.

    The block may call the yielded function to add details (``note("was 12h")``). A block that
    raises is logged as failed, with its duration and the error, and the error goes on.
    """
    notes: list[str] = []
    watch = Stopwatch()
    try:
        yield notes.append
    except Exception as error:
        log.warning(message + " failed after %.2fs: %s", *args, watch.seconds, error)
        raise
    detail = f": {'; '.join(notes)}" if notes else ""
    log.info(message + "%s (%.2fs)", *args, detail, watch.seconds)


def run_step(log: Any, what: str, action: Callable[[], str]) -> str:
    """Run one step whose outcome is a sentence, log it as ``what: outcome (seconds)``, return it."""
    with logged_step(log, "%s", what) as note:
        outcome = action()
        note(outcome)
    return outcome
