"""Prove green equals blue at the cutover point, without adding to the write freeze.

During the freeze, once green has executed blue's final position, a consistent snapshot is opened
on green (a fraction of a millisecond); blue's is opened right after the freeze, before reverse
replication can change it. The tables are compared inside those snapshots after the
freeze, while the application already writes to green. Tables over the size bound are skipped
and named, so a large database costs a bounded, reported amount of time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from aurora_bluegreen.timing import Stopwatch


class SnapshotReader(Protocol):
    session_id: int

    def connect(self) -> None: ...
    def start_snapshot(self) -> None: ...
    def user_tables(self) -> dict[tuple[str, str], TableShape]: ...
    def table_checksum(self, schema: str, table: str, columns: list[str]) -> tuple[int, int]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class TableShape:
    columns: tuple[str, ...]
    estimated_rows: int


@dataclass
class ConsistencyReport:
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def consistent(self) -> bool:
        return not self.mismatched

    def summary(self) -> str:
        verdict = "equal" if self.consistent else f"DIFFERENT: {'; '.join(self.mismatched)}"
        skipped = f", {len(self.skipped)} skipped ({'; '.join(self.skipped)})" if self.skipped else ""
        return f"{len(self.checked)} tables checked in {self.seconds:.2f}s{skipped}: {verdict}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "consistent": self.consistent}


def tables_to_compare(
    blue: dict[tuple[str, str], TableShape], green: dict[tuple[str, str], TableShape], max_rows: int
) -> tuple[list[tuple[str, str, list[str]]], list[str]]:
    """Which tables to checksum, over which columns, and which are skipped and why.

    Only columns both sides have are compared: a migration tested on green may have added some.
    """
    compare, skipped = [], []
    for key in sorted(set(blue) | set(green)):
        name = ".".join(key)
        if key not in blue or key not in green:
            skipped.append(f"{name} exists only on {'green' if key in green else 'blue'}")
            continue
        columns = [column for column in blue[key].columns if column in green[key].columns]
        rows = max(blue[key].estimated_rows, green[key].estimated_rows)
        if rows > max_rows:
            skipped.append(f"{name} has about {rows} rows, over the {max_rows} bound")
        elif not columns:
            skipped.append(f"{name} has no column in common")
        else:
            compare.append((*key, columns))
    return compare, skipped


@dataclass
class ConsistencyCheck:
    """Snapshots on both clusters, opened in the freeze and compared after it."""

    blue: SnapshotReader
    green: SnapshotReader
    max_rows: int

    def connect(self) -> None:
        """Before the freeze: connecting costs milliseconds the freeze should not pay."""
        self.blue.connect()
        self.green.connect()

    def session_ids(self) -> set[int]:
        """Blue's session of this check: the cutover must not end it with the master user's others."""
        return {self.blue.session_id}

    def open_green_snapshot(self) -> None:
        """In the freeze: green holds blue's final state only until it becomes writable."""
        self.green.start_snapshot()

    def open_blue_snapshot(self) -> None:
        """After the freeze: blue stays at its final state until reverse replication starts."""
        self.blue.start_snapshot()

    def compare(self) -> ConsistencyReport:
        watch = Stopwatch()
        report = ConsistencyReport()
        try:
            tables, report.skipped = tables_to_compare(
                self.blue.user_tables(), self.green.user_tables(), self.max_rows
            )
            for schema, table, columns in tables:
                blue_sum = self.blue.table_checksum(schema, table, columns)
                green_sum = self.green.table_checksum(schema, table, columns)
                report.checked.append(f"{schema}.{table}")
                if blue_sum != green_sum:
                    report.mismatched.append(
                        f"{schema}.{table}: blue {blue_sum[0]} rows, green {green_sum[0]} rows"
                        + (", same count but different contents" if blue_sum[0] == green_sum[0] else "")
                    )
        finally:
            self.blue.close()
            self.green.close()
        report.seconds = watch.seconds
        return report
