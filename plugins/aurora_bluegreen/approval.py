"""Who may answer a cutover's approval, how long it waits, and what its answer means.

Pure rules, no Airflow: the approval operator resolves them when the request opens (not when the
DAG file is parsed), from the run's Params first and the ``[aurora_bluegreen]`` configuration
second. An approval nobody answers is a rejection once ``approval_timeout_hours`` have passed, so
no request waits forever; leaving it unanswered until then is how a cutover is postponed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aurora_bluegreen.errors import InvalidInput

DEFAULT_TIMEOUT_HOURS = 72.0
LONGEST_TIMEOUT_HOURS = 720.0
"""30 days: past that, blue's binlogs (at most 90 days of retention) and green's relevance age."""
APPROVE = "Approve"
REJECT = "Reject"


@dataclass(frozen=True)
class ApprovalRule:
    approvers: tuple[str, ...]
    """Airflow user ids allowed to answer; empty means anyone who may edit the DAG's runs."""
    timeout_hours: float

    def describe(self) -> str:
        who = (
            ", ".join(self.approvers)
            if self.approvers
            else "anyone with access to this DAG (no approvers set)"
        )
        return f"answerable by {who}; rejected by itself after {self.timeout_hours:g} h without an answer"


def approval_rule(
    approvers: object,
    timeout_hours: object,
    configured_approvers: str = "",
    configured_timeout_hours: str = "",
) -> ApprovalRule:
    """The rule for one request: the run's values where given, else the configured ones.

    ``approvers`` is a list of user ids or one comma-separated string; None or empty means "as
    configured". Bad values of either source are refused by name, before the request opens.
    """
    named = _user_ids("approvers", approvers) or _user_ids(
        "[aurora_bluegreen] approvers", configured_approvers
    )
    if timeout_hours is not None and timeout_hours != "":
        return ApprovalRule(named, _hours("approval_timeout_hours", timeout_hours))
    field = "[aurora_bluegreen] approval_timeout_hours"
    if not configured_timeout_hours:
        return ApprovalRule(named, DEFAULT_TIMEOUT_HOURS)
    try:
        configured = float(configured_timeout_hours)
    except ValueError:
        raise InvalidInput(field, configured_timeout_hours, "a number of hours") from None
    return ApprovalRule(named, _hours(field, configured))


def _user_ids(field: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(item, str) for item in items):
        raise InvalidInput(
            field, value, "a list of Airflow user ids, or one string of them separated by commas"
        )
    return tuple(item.strip() for item in items if item.strip())


def _hours(field: str, value: object) -> float:
    # NaN passes every comparison's "not", so it is named on its own.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or math.isnan(value)
        or not 0 < value <= LONGEST_TIMEOUT_HOURS
    ):
        raise InvalidInput(field, value, f"a number of hours above 0 and at most {LONGEST_TIMEOUT_HOURS:g}")
    return float(value)


@dataclass(frozen=True)
class ApprovalOutcome:
    approved: bool
    timed_out: bool
    message: str


def approval_outcome(
    chosen_options: Sequence[str],
    responded_by: Mapping[str, str] | None,
    timed_out: bool,
    rule: ApprovalRule,
    subject: str,
) -> ApprovalOutcome:
    """What an answer means, in the words the task log and the rejection notice use."""
    who = (responded_by or {}).get("name") or (responded_by or {}).get("id") or "an unknown user"
    if timed_out:
        return ApprovalOutcome(
            False,
            True,
            f"{subject}: rejected, because nobody answered within {rule.timeout_hours:g} h. "
            "Nothing changed: blue is untouched and green keeps replicating.",
        )
    if list(chosen_options) == [APPROVE]:
        return ApprovalOutcome(True, False, f"{subject}: approved by {who}.")
    return ApprovalOutcome(
        False,
        False,
        f"{subject}: rejected by {who}. Nothing changed: blue is untouched and green keeps replicating.",
    )
