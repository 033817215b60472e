"""How blue stops taking writes in the cutover: the user's choice, ``freeze_method``.

- ``rds_set_read_only`` (the default): ``CALL mysql.rds_set_read_only(1)``, which Aurora MySQL has
  from 3.06 on, or a bare ``SET GLOBAL read_only`` where the server allows it. Milliseconds.
- ``parameter_group``: the blog's way, for Aurora MySQL 2 and 3 before 3.06, which lack that
  procedure. ``read_only=1`` goes into the parameter group that holds it for blue (its writer's DB
  group on version 2, its cluster group on version 3), only if that group is a custom one no other
  cluster uses: choosing this method is the user's consent that this tool writes ``read_only``
  there, and nothing else. RDS applies the change in seconds to minutes, so the budget must allow
  for it; a rollback writes ``read_only=0`` back (blue was writable, which the guardrails check).
- ``application_stops``: nothing on blue is switched. The application stops writing (maintenance
  mode), and the cutover proves blue's binlog stood still for ``quiet_seconds`` before it reads the
  final position. Nothing stops a write that comes later: the cutover catches one before green is
  made writable (and rolls back), but not one made after that to old blue.

Whatever the method, the cutover checks blue's position once more after green caught up, and rolls
back if it moved: a write that got through the freeze is never left behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from aurora_bluegreen import validation
from aurora_bluegreen.errors import BlueNotQuiet
from aurora_bluegreen.protocols import ClusterSql, ReadOnlySwitch

RDS_SET_READ_ONLY = "rds_set_read_only"
PARAMETER_GROUP = "parameter_group"
APPLICATION_STOPS = "application_stops"
FREEZE_METHODS = (RDS_SET_READ_ONLY, PARAMETER_GROUP, APPLICATION_STOPS)

PARAMETER_GROUP_SWITCH_SECONDS = 60
"""The budget one read_only switch through a parameter group needs. AWS gives no figure for how
soon an ``immediate`` change reaches the instances; RDS reports it "applying" until "in-sync"."""
DEFAULT_QUIET_SECONDS = 5

WAYS_TO_FREEZE = (
    "on Aurora MySQL 3.06 and later the cutover freezes blue with mysql.rds_set_read_only; before "
    "that, choose freeze_method=parameter_group (blue's read_only parameter group must be a custom "
    "one that no other cluster uses) or freeze_method=application_stops (docs/aws.md)"
)


def minimum_freeze_seconds(method: str, *, green_switch_by_sql: bool, quiet_seconds: float) -> float:
    """The least ``max_freeze_seconds`` that can succeed: each read_only switch made through a
    parameter group inside the freeze (blue's freeze, green's release) needs a minute, and
    ``application_stops`` waits ``quiet_seconds`` first."""
    group_switches = (method == PARAMETER_GROUP) + (not green_switch_by_sql)
    waits = quiet_seconds if method == APPLICATION_STOPS else 0
    return group_switches * PARAMETER_GROUP_SWITCH_SECONDS + waits


def freeze_refusal(
    method: str,
    *,
    blue_id: str,
    blue_version: str | None,
    has_rds_set_read_only: bool,
    group_refusal: str | None,
    max_freeze_seconds: float,
    minimum_seconds: float,
) -> str | None:
    """Why ``method`` cannot freeze this blue within this budget, naming the ways out; None if it can.

    :param group_refusal: why blue's read_only parameter group may not hold the freeze, or None.
    """
    validation.one_of("freeze_method", method, FREEZE_METHODS)
    runs = f"blue {blue_id}" + (f" runs {blue_version}, which" if blue_version else "")
    if method == RDS_SET_READ_ONLY and not has_rds_set_read_only:
        other = (
            f"freeze_method=parameter_group cannot be used either: {group_refusal}"
            if group_refusal
            else "its parameter group could hold the freeze: freeze_method=parameter_group"
        )
        return (
            f"{runs} has no mysql.rds_set_read_only (Aurora MySQL 3.06 added it), so the cutover "
            f"could not freeze it. Ways out: upgrade blue to 3.06 or later; or {other}; or "
            "freeze_method=application_stops, with the application stopped before the cutover"
        )
    if method == PARAMETER_GROUP and group_refusal:
        return (
            f"freeze_method=parameter_group cannot freeze blue {blue_id}: {group_refusal}. Give blue a "
            "custom parameter group of its own, or choose freeze_method=application_stops"
            + ("" if not has_rds_set_read_only else " or rds_set_read_only")
        )
    if max_freeze_seconds < minimum_seconds:
        return (
            f"max_freeze_seconds={max_freeze_seconds:g} is too short for freeze_method={method} here: "
            f"read_only switches through parameter groups take up to {PARAMETER_GROUP_SWITCH_SECONDS}s "
            f"each to apply; allow at least {minimum_seconds:g}s"
        )
    return None


@dataclass
class ReadOnlyFreeze:
    """``rds_set_read_only`` and ``parameter_group``: blue's read_only, through ``switch``."""

    method: str
    blue: ClusterSql
    switch: ReadOnlySwitch

    def freeze(self, deadline: float) -> str:
        self.switch.set_read_only(True)
        return f"read_only=1 ({self.method})"

    def thaw(self) -> str:
        self.switch.set_read_only(False)
        return f"read_only=0 ({self.method})"

    def holds(self) -> bool:
        return self.blue.read_only()


@dataclass
class QuietFreeze:
    """``application_stops``: nothing is switched; blue's binlog must stand still."""

    blue: ClusterSql
    quiet_seconds: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    method: str = APPLICATION_STOPS

    def freeze(self, deadline: float) -> str:
        state, since = self.blue.source_state(), self.clock()
        while (still := self.clock() - since) < self.quiet_seconds:
            if self.clock() > deadline:
                raise BlueNotQuiet(
                    f"blue's binlog did not stand still for {self.quiet_seconds:g}s within the freeze "
                    f"budget (last at {state}): the application has not stopped writing"
                )
            self.sleep(min(0.2, max(0.01, self.quiet_seconds - still)))
            now = self.blue.source_state()
            if now != state:
                state, since = now, self.clock()
        return f"blue's binlog stood still at {state} for {self.quiet_seconds:g}s: the application stopped"

    def thaw(self) -> str:
        return "nothing to undo: blue was never switched (application_stops)"

    def holds(self) -> bool:
        """Whether blue is frozen as far as a retry can tell: the application promised to stop."""
        return True
