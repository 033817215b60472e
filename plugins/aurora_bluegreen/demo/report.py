"""What the demo prints at the end: the numbers that show the cutover lost nothing and was quick."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TaskTiming:
    task_id: str
    state: str | None
    seconds: float | None
    hostname: str | None
    """Where its last try ran: the Celery worker's name on the Celery stack."""


@dataclass
class DemoReport:
    engine: str
    """The sandbox's server and its version, e.g. ``MySQL 9.7.4-2``."""
    executor: str
    """Airflow's executor, e.g. ``CeleryExecutor``."""
    run_id: str
    run_state: str
    cutover: Mapping[str, Any] | None
    """XCom of the cutover task: ``freeze_ms`` and ``steps`` ``[{name, duration_ms, detail}]``."""
    upgrade: Mapping[str, Any] | None
    """XCom of the upgrade task: blue's and green's engine versions, ``seconds``, ``skipped``."""
    writes_acknowledged: int
    writes_missing: int
    longest_write_wait_ms: float
    """The application's longest wait between two acknowledged writes: the freeze as it felt it."""
    wall_seconds_without_approval: float | None
    approval_wait_seconds: float | None
    tasks: Sequence[TaskTiming]
    ui_url: str
    ui_user: str
    password_file: Path
    logs_dir: Path
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def _engines(self) -> list[str]:
        """Blue's and green's versions, as the upgrade task read them."""
        if not self.upgrade:
            return []
        how = (
            "not upgraded"
            if self.upgrade["skipped"]
            else f"upgraded in {self.upgrade['seconds']['total']:.1f} s"
        )
        return [
            f"  blue's engine:             {self.upgrade['blue_version']}",
            f"  green's engine:            {self.upgrade['green_version']} ({how})",
        ]

    def render(self) -> str:
        freeze = self.cutover.get("freeze_ms") if self.cutover else None
        lines = [
            "",
            f"Demo run {self.run_id}: {self.run_state}",
            f"  engine:                    {self.engine}",
            *self._engines(),
            f"  executor:                  {self.executor}",
            f"  write freeze (cutover):    {_ms(freeze)}",
            f"  longest wait (app's view): {_ms(self.longest_write_wait_ms)}",
            f"  writes acknowledged:       {self.writes_acknowledged}",
            f"  writes missing on green:   {self.writes_missing}",
            f"  trigger -> cutover done:   {_seconds(self.wall_seconds_without_approval)}"
            f" (not counting {_seconds(self.approval_wait_seconds)} waiting for the approval)",
            "",
            "  Tasks:",
            *_table(
                ("task", "state", "seconds", "worker"),
                [(t.task_id, t.state or "-", _number(t.seconds, 1), t.hostname or "-") for t in self.tasks],
            ),
        ]
        steps = (self.cutover or {}).get("steps") or []
        if steps:
            lines += [
                "",
                "  Cutover steps:",
                *_table(
                    ("step", "ms", "detail"),
                    [(s["name"], _number(s.get("duration_ms"), 1), s.get("detail", "")) for s in steps],
                ),
            ]
        lines += [
            "",
            f"  Airflow UI: {self.ui_url}  (user {self.ui_user}, password in {self.password_file})",
            f"  Logs:       {self.logs_dir}",
        ]
        if self.problems:
            lines += ["", "  FAILED:", *(f"    - {problem}" for problem in self.problems)]
        return "\n".join(lines)


def task_timings(task_instances: Sequence[Mapping[str, Any]]) -> list[TaskTiming]:
    """One row per task, in the order the tasks started."""
    ordered = sorted(task_instances, key=lambda ti: ti.get("start_date") or "~")
    return [
        TaskTiming(ti["task_id"], ti.get("state"), ti.get("duration"), ti.get("hostname") or None)
        for ti in ordered
    ]


def seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds between two API timestamps (ISO 8601, ``Z`` for UTC); None if either is missing."""
    if not start or not end:
        return None
    return (_parse(end) - _parse(start)).total_seconds()


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        cells = [f"{cell:<{width}}" for cell, width in zip(row, widths, strict=False)]
        return "    " + "  ".join([*cells, str(row[-1])])

    return [line(header), *(line(row) for row in rows)]


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"
