"""The cutover's approval: only the approvers may answer, and no answer in time is a rejection.

Airflow's ``ApprovalOperator`` with three things decided when the request opens, not when the DAG
file is parsed: who may answer (``assigned_users``, from the ``approvers`` Param or the
``[aurora_bluegreen] approvers`` option), how long it waits (``response_timeout``, from the
``approval_timeout_hours`` Param or option), and ``defaults=Reject``, which is what Airflow 3.3's
scheduler applies when the timeout passes. The answer's XCom says in words what it meant
(``outcome``), and ``RejectionNoticeOperator`` puts that sentence on a task of its own, so a
rejected run reads as "rejected, nothing changed" and not as a plain success.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator, conf

from aurora_bluegreen.approval import REJECT, ApprovalRule, approval_outcome, approval_rule
from aurora_bluegreen.params import require_native_rendering

OUTCOME_KEY = "outcome"
"""The XCom key of what the answer meant, pushed for Approve and Reject alike."""


class CutoverApprovalOperator(ApprovalOperator):
    """Approve or Reject, answerable only by ``approvers``; unanswered for ``approval_timeout_hours``: Reject.

    :param approvers: Airflow user ids (a list, or one comma-separated string); None or empty
        means ``[aurora_bluegreen] approvers``, and if that is empty too anyone who may answer
        the DAG's approvals can (logged as such).
    :param approval_timeout_hours: None means ``[aurora_bluegreen] approval_timeout_hours``.
    :return: Airflow's answer (``chosen_options``, ``responded_by_user``, ...) plus ``approved``,
        ``timed_out`` and ``outcome``, the sentence that says what the answer meant. Those three
        are also the XCom ``outcome``, which a rejection leaves too (Airflow returns nothing then).
    """

    template_fields: Sequence[str] = (
        *ApprovalOperator.template_fields,
        "approvers",
        "approval_timeout_hours",
    )

    def __init__(
        self,
        *,
        approvers: list[str] | str | None = None,
        approval_timeout_hours: float | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(defaults=REJECT, **kwargs)
        self.approvers = approvers
        self.approval_timeout_hours = approval_timeout_hours

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        require_native_rendering(self)
        super().render_template_fields(context, jinja_env)

    def _rule(self) -> ApprovalRule:
        return approval_rule(
            self.approvers,
            self.approval_timeout_hours,
            configured_approvers=conf.get("aurora_bluegreen", "approvers", fallback=""),
            configured_timeout_hours=conf.get("aurora_bluegreen", "approval_timeout_hours", fallback=""),
        )

    def execute(self, context: Any) -> Any:
        rule = self._rule()
        self.assigned_users = [{"id": user, "name": user} for user in rule.approvers] or None
        self.response_timeout = timedelta(hours=rule.timeout_hours)
        self.log.info("Approval opened for %r: %s", self.subject, rule.describe())
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        if "error" in event:  # not an answer: Airflow's own handling raises
            return super().execute_complete(context, event)
        outcome = approval_outcome(
            event["chosen_options"],
            event.get("responded_by_user"),
            bool(event.get("timedout")),
            self._rule(),
            self.subject,
        )
        opened, answered = context["ti"].start_date, event.get("responded_at")
        waited = f" after {answered - opened}" if opened and answered else ""
        self.log.info("%s (answered%s)", outcome.message, waited)
        # Pushed first: on Reject, Airflow's ApprovalOperator ends the task by skipping the
        # downstream tasks, so nothing after super().execute_complete runs or is returned.
        record = {"approved": outcome.approved, "timed_out": outcome.timed_out, "outcome": outcome.message}
        context["ti"].xcom_push(key=OUTCOME_KEY, value=record)
        return {**super().execute_complete(context, event), **record}


class RejectionNoticeOperator(BaseOperator):
    """Runs only when the cutover was skipped, and says why: who rejected, or that time ran out.

    Put it downstream of the cutover task: ``trigger_rule="all_skipped"`` makes it run after a
    rejection and be skipped after an approved (or failed) cutover.
    """

    ui_color = "#eeeeee"

    def __init__(self, *, approval_task_id: str, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "all_skipped")
        super().__init__(**kwargs)
        self.approval_task_id = approval_task_id

    def execute(self, context: Any) -> str:
        record = context["ti"].xcom_pull(task_ids=self.approval_task_id, key=OUTCOME_KEY) or {}
        message = record.get("outcome") or (
            f"The cutover was skipped and {self.approval_task_id} holds no answer: nothing changed."
        )
        self.log.info("%s", message)
        return message
