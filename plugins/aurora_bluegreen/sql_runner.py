"""Running the user's SQL files statement by statement: each one timed and logged, a failure named.

Used for schema changes on green and for masking a QA clone; what must hold between statements
(replication still healthy, for example) is the caller's ``after_each``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aurora_bluegreen.errors import SqlFileFailed
from aurora_bluegreen.sql_files import SqlFile, hide_passwords, one_line


class RunsSql(Protocol):
    """What running a file needs of a cluster (``ClusterSqlHook.run_sql``)."""

    def run_sql(self, sql: str) -> Any: ...


@dataclass(frozen=True)
class AppliedStatement:
    file: str
    number: int
    """1-based position of the statement in its file."""
    sql: str
    """The statement on one line, shortened for logs and the approval's body."""
    ms: float
    affected_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_sql_files(
    hook: RunsSql,
    files: Sequence[SqlFile],
    where: str,
    log: logging.Logger | Any,
    after_each: Callable[[AppliedStatement, str], None] | None = None,
) -> list[AppliedStatement]:
    """Run every statement of ``files`` in order on ``hook``'s server, stopping at the first failure.

    ``after_each(applied, full_sql)`` runs after every statement; whatever it raises stops the run.
    """
    applied: list[AppliedStatement] = []
    for sql_file in files:
        for number, statement in enumerate(sql_file.statements, start=1):
            applied.append(_run_one(hook, sql_file, number, statement, where, log))
            if after_each is not None:
                after_each(applied[-1], statement)
    return applied


def _run_one(
    hook: RunsSql, sql_file: SqlFile, number: int, statement: str, where: str, log: Any
) -> AppliedStatement:
    from aurora_bluegreen.errors import StatementFailed

    try:
        result = hook.run_sql(statement)
    except StatementFailed as error:
        raise SqlFileFailed(
            f"{sql_file.name} statement {number} failed on {where}: {one_line(statement)} -- "
            f"server error {hide_passwords(error.server_error or str(error))}"
        ) from error
    done = AppliedStatement(
        sql_file.name, number, one_line(statement), round(result.seconds * 1000, 1), result.affected_rows
    )
    rows = f", {done.affected_rows} rows changed" if done.affected_rows > 0 else ""
    log.info("Ran %s #%d on %s in %.1f ms%s: %s", done.file, number, where, done.ms, rows, done.sql)
    return done
