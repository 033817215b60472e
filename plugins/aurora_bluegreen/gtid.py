"""GTID sets in both flavours, parsed from server text and compared without a server.

MySQL (and Aurora) identify a transaction by the UUID of the server that first committed it plus a
sequence number, so a set is a list of number intervals per UUID (optionally per tag, MySQL 8.3+).
MariaDB identifies it by replication domain, server id and sequence number, and a position holds one
GTID per domain: everything in that domain up to its sequence number has been applied.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TAG = re.compile(r"^[a-z_][a-z0-9_]{0,31}$")
_INTERVAL = re.compile(r"^(\d+)(?:-(\d+))?$")
_MARIADB_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")

Interval = tuple[int, int]


def parse_gtid_set(text: str | None) -> GtidSet:
    """Read either flavour; the syntax tells them apart. Empty text (or None) is the empty set."""
    compact = _without_whitespace(text or "")
    if _MARIADB_GTID.match(compact.split(",", 1)[0]):
        return MariadbGtidSet.parse(compact)
    return MysqlGtidSet.parse(compact)


class GtidSet(ABC):
    """A set of transactions a server has executed; ``a.contains(b)`` when a has applied all of b."""

    flavour: str

    @classmethod
    @abstractmethod
    def parse(cls, text: str | None) -> GtidSet:
        """Read this flavour's text; raise ValueError when it is malformed."""

    @property
    @abstractmethod
    def is_empty(self) -> bool: ...

    @abstractmethod
    def _contains_same_flavour(self, other: GtidSet) -> bool: ...

    @abstractmethod
    def _identity(self) -> tuple: ...

    def contains(self, other: GtidSet) -> bool:
        """True when every transaction of ``other`` is in this set (a superset, or equal)."""
        if other.is_empty:
            return True
        if self.is_empty:
            return False
        if type(other) is not type(self):
            raise ValueError(f"cannot compare a {self.flavour} GTID set with a {other.flavour} one")
        return self._contains_same_flavour(other)

    # An empty set has no flavour: a fresh MySQL server and a fresh MariaDB server have executed the same.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GtidSet):
            return NotImplemented
        if self.is_empty or other.is_empty:
            return self.is_empty and other.is_empty
        return type(self) is type(other) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(()) if self.is_empty else hash((type(self), self._identity()))


@dataclass(frozen=True, eq=False)
class MysqlGtidSet(GtidSet):
    """``uuid:1-5:7,uuid2:tag:1-3``, kept as sorted, merged intervals per (uuid, tag)."""

    intervals: tuple[tuple[tuple[str, str], tuple[Interval, ...]], ...] = ()
    flavour = "MySQL"

    @classmethod
    def parse(cls, text: str | None) -> MysqlGtidSet:
        compact = _without_whitespace(text or "")
        collected: dict[tuple[str, str], list[Interval]] = {}
        for element in _elements(compact):
            uuid, *parts = element.split(":")
            uuid = uuid.lower()
            if not _UUID.match(uuid):
                raise ValueError(f"malformed MySQL GTID set {text!r}: {uuid!r} is not a server UUID")
            tag, tag_pending, found_interval = "", False, False
            for part in parts:
                if _TAG.match(part.lower()):
                    if tag_pending:
                        break
                    tag, tag_pending = part.lower(), True
                    continue
                collected.setdefault((uuid, tag), []).append(_parse_interval(part, text))
                tag_pending, found_interval = False, True
            if tag_pending or not found_interval:
                raise ValueError(f"malformed MySQL GTID set {text!r}: {element!r} lacks an interval")
        return cls(tuple((key, _merged(found)) for key, found in sorted(collected.items())))

    @property
    def is_empty(self) -> bool:
        return not self.intervals

    def _contains_same_flavour(self, other: GtidSet) -> bool:
        assert isinstance(other, MysqlGtidSet)
        mine = dict(self.intervals)
        return all(
            any(start >= have_start and end <= have_end for have_start, have_end in mine.get(key, ()))
            for key, wanted in other.intervals
            for start, end in wanted
        )

    def _identity(self) -> tuple:
        return self.intervals

    def __str__(self) -> str:
        by_uuid: dict[str, list[str]] = {}
        for (uuid, tag), intervals in self.intervals:
            texts = [str(start) if start == end else f"{start}-{end}" for start, end in intervals]
            by_uuid.setdefault(uuid, []).extend([tag, *texts] if tag else texts)
        return ",".join(":".join([uuid, *parts]) for uuid, parts in by_uuid.items())


@dataclass(frozen=True, eq=False)
class MariadbGtidSet(GtidSet):
    """``0-1-42,1-2-5``: per replication domain, the last applied (server id, sequence number)."""

    positions: tuple[tuple[int, int, int], ...] = ()
    flavour = "MariaDB"

    @classmethod
    def parse(cls, text: str | None) -> MariadbGtidSet:
        compact = _without_whitespace(text or "")
        by_domain: dict[int, tuple[int, int, int]] = {}
        for element in _elements(compact):
            match = _MARIADB_GTID.match(element)
            if not match:
                raise ValueError(
                    f"malformed MariaDB GTID position {text!r}: {element!r} is not domain-server-sequence"
                )
            domain, server, sequence = (int(number) for number in match.groups())
            if domain in by_domain:
                raise ValueError(f"malformed MariaDB GTID position {text!r}: domain {domain} appears twice")
            by_domain[domain] = (domain, server, sequence)
        return cls(tuple(by_domain[domain] for domain in sorted(by_domain)))

    @property
    def is_empty(self) -> bool:
        return not self.positions

    # Within a domain, sequence numbers only grow, so a higher one implies every lower one was applied.
    def _contains_same_flavour(self, other: GtidSet) -> bool:
        assert isinstance(other, MariadbGtidSet)
        mine = {domain: sequence for domain, _, sequence in self.positions}
        return all(domain in mine and mine[domain] >= sequence for domain, _, sequence in other.positions)

    def _identity(self) -> tuple:
        return self.positions

    def __str__(self) -> str:
        return ",".join(f"{domain}-{server}-{sequence}" for domain, server, sequence in self.positions)


def _without_whitespace(text: str) -> str:
    return "".join(text.split())


def _elements(compact: str) -> list[str]:
    return compact.split(",") if compact else []


def _parse_interval(text: str, whole: str | None) -> Interval:
    match = _INTERVAL.match(text)
    if not match:
        raise ValueError(f"malformed MySQL GTID set {whole!r}: {text!r} is neither an interval nor a tag")
    start = int(match.group(1))
    end = int(match.group(2) or start)
    if start < 1 or end < start:
        raise ValueError(f"malformed MySQL GTID set {whole!r}: interval {text!r} is empty or starts at 0")
    return (start, end)


def _merged(intervals: list[Interval]) -> tuple[Interval, ...]:
    """Sorted, with overlapping and adjacent intervals joined (``1-3:4-6`` is ``1-6``)."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)
