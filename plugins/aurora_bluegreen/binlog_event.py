"""Read a clone's binlog coordinates out of the RDS event Aurora writes when the clone's writer starts.

The writer of a copy-on-write clone runs crash recovery on the volume it shares with blue, and
reports where blue's binary log stood at that moment as an instance event:
``Binlog position from crash recovery is mysql-bin-changelog.000003 4278``. Replication to green
starts exactly there, so a wrong reading would silently skip or repeat transactions. The message
is text meant for people: the parser accepts how the console, the CLI, EventBridge and the error log
present it (case, punctuation, a log prefix, a label before the offset, a GTID set after it) and
returns None for anything it cannot read exactly, rather than guessing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from aurora_bluegreen.models import BinlogPosition

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_GTID_SET = rf"{_UUID}(?::\d+(?:-\d+)?)+(?:\s*,\s*{_UUID}(?::\d+(?:-\d+)?)+)*"

_CRASH_RECOVERY = re.compile(
    r"binlog\s+position\s+from\s+crash\s+recovery\s+is\s*[:=]?\s*"
    r"(?:file\s*[:=]?\s*)?['\"]?(?P<file>[A-Za-z0-9_-][A-Za-z0-9_.-]*\.\d+)['\"]?"
    r"[\s,;:]+(?:(?:pos(?:ition)?|offset)\s*[:=]?\s*)?(?P<position>\d+)(?!\d|\.\d)"
    rf"(?:.*?\bgtid\w*(?:\s+set)?(?:\s+is)?\s*[:=]?\s*['\"]?(?P<gtid>{_GTID_SET}))?",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class CrashRecoveryPosition:
    """What one crash-recovery event says: blue's binlog position, and GTID set where it names one."""

    position: BinlogPosition
    gtid_set: str | None
    date: datetime | None
    message: str


def parse_crash_recovery_message(message: str, date: datetime | None = None) -> CrashRecoveryPosition | None:
    """The coordinates in one event message, or None when it is not a crash-recovery position."""
    match = _CRASH_RECOVERY.search(message or "")
    if match is None:
        return None
    gtid = match.group("gtid")
    return CrashRecoveryPosition(
        position=BinlogPosition(match.group("file"), int(match.group("position"))),
        gtid_set="".join(gtid.split()) if gtid else None,
        date=date,
        message=" ".join(message.split()),
    )


def clone_point(events: Iterable[tuple[datetime | None, str]]) -> CrashRecoveryPosition | None:
    """The first crash-recovery position among ``(date, message)`` events of a clone's writer.

    Only the first one is the clone point: a later reboot of green recovers green's own binary log
    and reports a position in it, which means nothing on blue.
    """
    found = [parsed for date, message in events if (parsed := parse_crash_recovery_message(message, date))]
    if not found:
        return None
    dated = [event for event in found if event.date is not None]
    return min(dated, key=lambda event: event.date) if dated else found[0]
