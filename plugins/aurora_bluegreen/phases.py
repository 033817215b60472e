"""Named, timed phases for a critical section that must cost as little as possible.

Each phase becomes a ``CutoverStep`` of the report and one log line: what it did and how long it
took. Inside a time-critical section (``quiet``) the log lines are held, the clusters' own too, and
written once it is over; and Python's garbage collector is paused, since a full collection in a
process that imported Airflow took 34-80 ms here: more than a whole freeze.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from typing import Any

from aurora_bluegreen.models import CutoverStep

HeldLine = tuple[logging.Logger, str, tuple]


class PhaseRecorder:
    def __init__(
        self, steps: list[CutoverStep], log: logging.Logger, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.steps = steps
        self.log = log
        self.clock = clock
        self._held: list[HeldLine] | None = None

    @contextmanager
    def phase(self, name: str) -> Iterator[Callable[[str], None]]:
        """Time the block as phase ``name``; the yielded ``note`` adds to its detail."""
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
            self.steps.append(step)
            self._write(self.log, "cutover %-22s %8.1f ms  %s", (name, step.duration_ms, step.detail))

    @contextmanager
    def quiet(self, *clusters: Any) -> Iterator[None]:
        """Hold every log line (the phases' and ``clusters``' own, through their ``logs_held``) and
        pause garbage collection until the block ends; then write the lines, on time that costs nobody."""
        held: list[HeldLine] = []
        self._held = held
        collecting = gc.isenabled()
        gc.disable()
        try:
            with ExitStack() as stack:
                for cluster in clusters:
                    stack.enter_context(cluster.logs_held(held))
                yield
        finally:
            if collecting:
                gc.enable()
            self._held = None
            for logger, message, args in held:
                logger.info(message, *args)

    def _write(self, logger: logging.Logger, message: str, args: tuple) -> None:
        if self._held is None:
            logger.info(message, *args)
        else:
            self._held.append((logger, message, args))
