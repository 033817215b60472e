"""Nightly QA clones: how they are named and tagged, and which earlier ones are retired.

Pure rules, no I/O: the QA refresh DAG and its operators apply them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.models import ClusterInfo
from aurora_bluegreen.ownership import READY_TAG, STAMP_TAG, Role, clones_of
from aurora_bluegreen.validation import cluster_identifier

DEFAULT_SCHEDULE = "0 2 * * *"
SCHEDULE_SETTING = "[aurora_bluegreen] qa_refresh_schedule (AIRFLOW__AURORA_BLUEGREEN__QA_REFRESH_SCHEDULE)"
# "<prefix>-YYYYMMDD-HHMMSS-writer" must stay within the 63 characters of an RDS identifier.
MAX_PREFIX_LENGTH = 63 - len("-20250101-020000-writer")


def qa_tags(blue_id: str) -> dict[str, str]:
    """The tags that, together, mark a QA clone of ``blue_id`` as ours: all a retirement looks at."""
    return clones_of(blue_id, Role.QA)


def clone_names(prefix: str, due: datetime) -> dict[str, str]:
    """The date-stamped cluster and writer ids for a run due at ``due``, and its stamp tag."""
    if not isinstance(prefix, str) or len(prefix) > MAX_PREFIX_LENGTH:
        raise InvalidInput("qa_cluster_prefix", prefix, f"at most {MAX_PREFIX_LENGTH} characters")
    cluster_identifier("qa_cluster_prefix", prefix)
    due = due.astimezone(timezone.utc)
    cluster_id = f"{prefix}-{due:%Y%m%d-%H%M%S}"
    return {
        "cluster_id": cluster_id,
        "writer_instance_id": f"{cluster_id}-writer",
        "stamp": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def keep_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput("keep_previous", value, "a whole number of earlier QA clones to keep, 0 or more")
    return value


def clones_to_retire(clones: Sequence[ClusterInfo], current_id: str | None, keep: int) -> list[ClusterInfo]:
    """Earlier QA clones to delete: every one never made ready, and the ready ones beyond the newest ``keep``.

    ``current_id`` (this run's clone) is never retired. Clones are expected to carry ``qa_tags``;
    the caller lists them by those tags only.
    """
    earlier = [clone for clone in clones if clone.cluster_id != current_id]
    ready = sorted(
        (clone for clone in earlier if clone.tags.get(READY_TAG) == "true"),
        key=lambda clone: (clone.tags.get(STAMP_TAG, ""), clone.cluster_id),
        reverse=True,
    )
    kept = {clone.cluster_id for clone in ready[:keep]}
    return [clone for clone in earlier if clone.cluster_id not in kept]


def nightly_schedule(expression: object) -> str:
    """A cron expression (or a preset like ``@daily``) for the QA refresh; refused naming the setting."""
    from croniter import croniter

    rule = "a cron expression such as '0 2 * * *' (minute hour day month weekday) or a preset like @daily"
    if not isinstance(expression, str) or not expression.strip() or expression.strip() == "@once":
        raise InvalidInput(SCHEDULE_SETTING, expression, rule)
    expression = expression.strip()
    if not croniter.is_valid(expression):
        raise InvalidInput(SCHEDULE_SETTING, expression, rule)
    return expression
