"""Schema changes on green while it replicates from blue: the reason green exists."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.errors import MigrationBrokeReplication, ReplicationBroken
from aurora_bluegreen.guardrail_facts import green_local_writes
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.operators.cluster_task import BlueGreenTask
from aurora_bluegreen.timing import Stopwatch

# Replication errors name the table they failed on: "Column 5 of table 'shop.orders' cannot be
# converted ...", "Table 'shop.orders' doesn't exist".
_TABLE_IN_ERROR = re.compile(r"table '([^']+)'", re.IGNORECASE)


VERIFY_SETTLE_SECONDS = 1.0


class ApplyMigrationsOperator(BlueGreenTask):
    """Apply migration SQL files to green, statement by statement, while green keeps replicating.

    Steps: the files are checked (``sql_files`` rules) and green's replication must be healthy,
    before anything changes. Green's read_only is lifted; each statement runs and is
    logged with its duration; after each one green must still apply blue's binlog (it is waited
    for up to blue's position read just after the statement). read_only is put back
    whatever happened.

    A statement the server refuses fails the task naming the file, the statement and the server's
    error. A change that breaks replication, such as dropping or retyping a column blue still
    writes, fails it naming the statement and the replication error. (Renaming a column does not
    break row-based replication: row events carry column positions, not names.) Blue is only read.

    Not idempotent: a DDL that ran cannot be told apart from one that did not, so the DAG gives
    this task no retries. After a failure, tear green down and deploy again.

    :param sql_folder: the only folder files may come from; fixed by the DAG author, never a Param.
    :param verify_seconds: how long to wait, after each statement, for green to apply what blue
        wrote meanwhile. A green that is still catching up after that is left to the lag sensor
        that follows; a green that broke fails the task.
    :return: ``{"statements": [...], "green_local_writes": [...], "seconds": ...}``. The statements
        feed the approval's body; ``green_local_writes`` are the GTIDs green now holds that blue
        does not (the migration's own), which the cutover's local-write guardrail must expect.
    """

    template_fields: Sequence[str] = (*BlueGreenTask.template_fields, "migration_files")
    ui_color = "#d0e0e3"

    def __init__(
        self,
        *,
        migration_files: Sequence[str] | None,
        sql_folder: str | Path,
        verify_seconds: float = 30,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)
        self.migration_files = migration_files
        self.sql_folder = sql_folder
        self.verify_seconds = verify_seconds

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.sql_files import sql_files

        self._check_pair()
        validation.positive_number("verify_seconds", self.verify_seconds)
        files = sql_files("migration_files", self.sql_folder, self.migration_files)
        if not files:
            self.log.info("No migration files given: green %s is left as it is", self.green_cluster_id)
            return {"green_cluster_id": self.green_cluster_id, "statements": [], "green_local_writes": []}

        watch = Stopwatch()
        access = self._access()
        blue, green = access.sql(self.blue_cluster_id, "blue"), access.sql(self.green_cluster_id, "green")
        status = green.replica_status()
        if status is None or not status.is_running or status.error:
            raise ReplicationBroken(
                f"replication on green {self.green_cluster_id} is not healthy before the migration "
                f"({status.error or status.summary() if status else 'not configured'}); nothing was applied"
            )
        applied = self._apply(access, blue, green, files)
        local_writes = green_local_writes(blue, green)
        self.log.info(
            "Applied %d statements from %d files to green %s in %.2fs; replication still runs (%s)",
            len(applied),
            len(files),
            self.green_cluster_id,
            watch.seconds,
            green.replica_status().summary(),
        )
        return {
            "green_cluster_id": self.green_cluster_id,
            "statements": [statement.to_dict() for statement in applied],
            "green_local_writes": local_writes or [],
            "seconds": round(watch.seconds, 3),
        }

    def _apply(self, access: ClusterAccess, blue: Any, green: Any, files: list[Any]) -> list[Any]:
        from aurora_bluegreen.sql_runner import run_sql_files

        switch = access.read_only_switch(self.green_cluster_id, green)
        applied_sql: list[tuple[Any, str]] = []

        def replication_still_runs(statement: Any, full_sql: str) -> None:
            applied_sql.append((statement, full_sql))
            self._verify_replication(blue, green, applied_sql)

        watch = Stopwatch()
        switch.set_read_only(False)
        self.log.info("Green %s is writable for the migration", self.green_cluster_id)
        try:
            return run_sql_files(
                green, files, f"green {self.green_cluster_id}", self.log, after_each=replication_still_runs
            )
        finally:
            # Put back even after a failure: a writable green would take stray writes.
            switch.set_read_only(True)
            self.log.info(
                "Green %s is read-only again; it was writable for %.2fs",
                self.green_cluster_id,
                watch.seconds,
            )

    def _verify_replication(self, blue: Any, green: Any, applied: list[tuple[Any, str]]) -> None:
        """Green must apply what blue wrote after the statement; a stopped SQL thread fails at once."""
        from aurora_bluegreen.errors import ReplicationNotRunning

        watch = Stopwatch()
        # Blue's writes after the statement are what can break on it; give them a moment to arrive,
        # rather than passing as soon as green reaches a position blue had before writing any.
        settle = min(VERIFY_SETTLE_SECONDS, float(self.verify_seconds))
        target = blue.source_position()
        while True:
            try:
                # One-second waits, so a thread that stops during the wait is seen within a second.
                reached = green.wait_for_position(target, 1)
            except ReplicationNotRunning:
                reached = False
            status = green.replica_status()
            if status is None or status.error or not status.is_running:
                reason = status.error or status.summary() if status else "replication is not configured"
                raise MigrationBrokeReplication(_breakage_message(self.green_cluster_id, applied, reason))
            if reached and watch.seconds >= settle:
                return
            if reached:
                time.sleep(0.05)
                target = blue.source_position()
                continue
            if watch.seconds >= float(self.verify_seconds):
                self.log.info(
                    "Green %s has not yet applied blue's %s after %ss (%s); the lag sensor waits for it",
                    self.green_cluster_id,
                    target,
                    self.verify_seconds,
                    status.summary(),
                )
                return


def _breakage_message(green_id: str, applied: list[tuple[Any, str]], reason: str) -> str:
    """Name the statement that most likely broke replication: the last one touching the failing table."""
    culprit = applied[-1][0]
    match = _TABLE_IN_ERROR.search(reason)
    if match:
        table = match.group(1).split(".")[-1].lower()
        touching = [s for s, sql in applied if re.search(rf"\b{re.escape(table)}\b", sql, re.IGNORECASE)]
        culprit = touching[-1] if touching else culprit
    return (
        f"the migration broke replication on green {green_id}: after {culprit.file} statement "
        f"{culprit.number} ({culprit.sql}) green stopped applying blue's changes: {reason}. "
        "Blue is untouched; tear green down (aurora_bluegreen_teardown) and deploy again with a "
        "change blue's writes can still be applied to."
    )


def migrations_markdown(result: dict[str, Any] | None) -> str:
    """The approval body's table of what the migration ran on green (a Jinja filter in the DAG)."""
    from aurora_bluegreen import markdown

    statements = (result or {}).get("statements") or []
    if not statements:
        return "No schema changes were applied to green."
    return markdown.table(
        ("File", "#", "Statement", "ms"),
        (
            (markdown.code(s["file"]), s["number"], markdown.code(s["sql"]), f"{s['ms']:.1f}")
            for s in statements
        ),
    )
