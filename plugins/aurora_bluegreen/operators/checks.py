"""The user's checks on green: queries whose rows must all say "true", shown to the approver."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.operators.cluster_task import ClusterTask
from aurora_bluegreen.timing import Stopwatch


class RunChecksOperator(ClusterTask):
    """Run each check file on green; a check passes when its query returns rows, all with a true first column.

    Each query runs alone in a read-only transaction (``START TRANSACTION READ ONLY``), so a check
    cannot change data even where the master user bypasses read_only (Aurora), and within
    ``max_check_seconds`` (the server stops it after that). An error counts as a failure.

    When a check fails, the task fails with every failing check's reason and the approval is never
    asked, unless ``warn_only``: then the failures are only reported, and the approver sees them.
    The results also go to XCom (key ``checks``) when the task fails, for the UI.

    :param sql_folder: the only folder check files may come from; fixed by the DAG author.
    :return: ``{"checks": [{"name", "file", "passed", "seconds", "detail"}], "passed", "failed",
        "warn_only"}``
    """

    template_fields: Sequence[str] = (
        *ClusterTask.template_fields,
        "green_cluster_id",
        "check_files",
        "warn_only",
    )
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        green_cluster_id: str,
        check_files: Sequence[str] | None,
        sql_folder: str | Path,
        warn_only: bool = False,
        max_check_seconds: float = 300,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.green_cluster_id = green_cluster_id
        self.check_files = check_files
        self.sql_folder = sql_folder
        self.warn_only = warn_only
        self.max_check_seconds = max_check_seconds

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from aurora_bluegreen.sql_files import sql_files

        validation.cluster_identifier("green_cluster_id", self.green_cluster_id)
        validation.positive_number("max_check_seconds", self.max_check_seconds)
        if not isinstance(self.warn_only, bool):
            raise validation.InvalidInput("checks_warn_only", self.warn_only, "true or false")
        files = sql_files("check_files", self.sql_folder, self.check_files, one_query=True)
        if not files:
            self.log.info("No check files given: nothing to check on green %s", self.green_cluster_id)
            return _summary([], self.warn_only)

        green = self._access().sql(self.green_cluster_id, "green")
        green.run_sql(_statement_timeout(green.server_version.engine.value, float(self.max_check_seconds)))
        results = [self._run_check(green, check) for check in files]
        summary = _summary(results, self.warn_only)
        failed = [r for r in results if not r["passed"]]
        if failed and not self.warn_only:
            context["ti"].xcom_push(key="checks", value=summary)
            reasons = "; ".join(f"{r['name']}: {r['detail']}" for r in failed)
            raise AirflowFailException(
                f"{len(failed)} of {len(results)} checks failed on green {self.green_cluster_id}, so the "
                f"cutover is not offered for approval: {reasons}. Fix green or the checks, or run with "
                "checks_warn_only=true to let the approver decide."
            )
        if failed:
            self.log.warning(
                "%d of %d checks failed on green %s; warn only, so the approver decides",
                len(failed),
                len(results),
                self.green_cluster_id,
            )
        return summary

    def _run_check(self, green: Any, check: Any) -> dict[str, Any]:
        from aurora_bluegreen.errors import StatementFailed

        name = Path(check.name).stem
        watch = Stopwatch()
        try:
            green.run_sql("START TRANSACTION READ ONLY")
            try:
                result = green.run_sql(check.statements[0])
            finally:
                green.run_sql("ROLLBACK")
            passed, detail = check_verdict(result.columns, result.rows)
        except StatementFailed as error:
            passed, detail = False, f"error {error.server_error or error}"
        seconds = watch.seconds
        self.log.info(
            "Check %s on green %s: %s in %.3fs (%s)",
            name,
            self.green_cluster_id,
            "PASS" if passed else "FAIL",
            seconds,
            detail,
        )
        return {
            "name": name,
            "file": check.name,
            "passed": passed,
            "seconds": round(seconds, 3),
            "detail": detail,
        }


def check_verdict(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> tuple[bool, str]:
    """Whether a check's result passes, and why, in words for the approver."""
    if not columns:
        return False, "the statement returned no result set; a check must be a query"
    if not rows:
        return False, "returned no rows; a check must return at least one"
    false_rows = [number for number, row in enumerate(rows, start=1) if not is_true(row[0])]
    if false_rows:
        first = rows[false_rows[0] - 1]
        shown = ", ".join(repr(value) for value in first[:4])
        return False, f"{len(false_rows)} of {len(rows)} rows are not true (row {false_rows[0]}: {shown})"
    return True, f"{len(rows)} {'row' if len(rows) == 1 else 'rows'}, all true"


def is_true(value: Any) -> bool:
    """SQL truth of a first column: non-zero numbers and bits, 'true'/'yes'; NULL is not true."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, Decimal)):
        return value != 0
    if isinstance(value, (bytes, bytearray)):  # BIT(n) columns
        return any(value)
    text = str(value).strip().lower()
    try:
        return float(text) != 0
    except ValueError:
        return text in ("true", "yes")


def checks_markdown(summary: dict[str, Any] | None) -> str:
    """The approval body's table of check results (a Jinja filter in the DAG)."""
    from aurora_bluegreen import markdown

    checks = (summary or {}).get("checks") or []
    if not checks:
        return "No checks were given."
    table = markdown.table(
        ("Check", "Result", "Time", "Detail"),
        (
            (
                markdown.code(c["name"]),
                "✅ pass" if c["passed"] else "❌ **FAIL**",
                f"{c['seconds']:.3f} s",
                markdown.text(c["detail"]),
            )
            for c in checks
        ),
    )
    failed = summary.get("failed", 0)
    if not failed:
        return f"{table}\n\nAll {len(checks)} checks passed."
    return (
        f"{table}\n\n⚠️ **{failed} of {len(checks)} checks failed.** They were run as warn-only, "
        "so the decision is yours: approve only if the failures are understood."
    )


def _summary(results: list[dict[str, Any]], warn_only: bool) -> dict[str, Any]:
    failed = sum(1 for r in results if not r["passed"])
    return {"checks": results, "passed": len(results) - failed, "failed": failed, "warn_only": warn_only}


def _statement_timeout(engine: str, seconds: float) -> str:
    """A session limit the server enforces on each query; both variables need no privilege."""
    if engine == "mariadb":
        return f"SET SESSION max_statement_time = {seconds:.3f}"
    return f"SET SESSION max_execution_time = {int(seconds * 1000)}"
