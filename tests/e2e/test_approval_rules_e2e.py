"""The approval's rules in real Airflow, through the REST API: who may answer, and what no answer means.

A small DAG with the deployment DAG's approval wiring (``CutoverApprovalOperator`` from Params,
an empty stand-in for the cutover, ``RejectionNoticeOperator`` after it) keeps this fast: no
sandbox, two runs that wait for nothing but the approval.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import APPROVER

from aurora_bluegreen.errors import AirflowRestError

DAG_ID = "e2e_approval_rules"

APPROVAL_DAG = f'''
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from aurora_bluegreen.operators.approval import CutoverApprovalOperator, RejectionNoticeOperator
from aurora_bluegreen.params import approval_params, param

with DAG("{DAG_ID}", schedule=None, catchup=False, render_template_as_native_obj=True,
         params=approval_params()):
    approve = CutoverApprovalOperator(
        task_id="approve_cutover",
        subject="Cut over e2e-blue to e2e-green?",
        approvers=param("approvers"),
        approval_timeout_hours=param("approval_timeout_hours"),
    )
    cutover = EmptyOperator(task_id="cutover")
    approve >> cutover >> RejectionNoticeOperator(task_id="rejected", approval_task_id="approve_cutover")
'''


@pytest.fixture(scope="module")
def approval_dag(airflow_stack, airflow, e2e_dags_dir: Path) -> str:
    (e2e_dags_dir / f"{DAG_ID}.py").write_text(APPROVAL_DAG)
    airflow_stack.wait_for_dags([DAG_ID], timeout=90)
    airflow.unpause_dag(DAG_ID)
    return DAG_ID


def start_run(airflow, conf: dict) -> tuple[str, dict]:
    run_id = f"e2e_{uuid.uuid4().hex[:8]}"
    airflow.trigger_dag_run(DAG_ID, run_id=run_id, conf=conf)
    return run_id, airflow.wait_for_approval_request(DAG_ID, run_id, timeout=90)


def test_an_answer_from_a_user_who_is_not_assigned_is_refused(approval_dag, airflow, approver):
    run_id, request = start_run(airflow, {"approvers": [APPROVER], "approval_timeout_hours": 1})
    assert [user["id"] for user in request["assigned_users"]] == [APPROVER]

    # The admin may do anything else in Airflow, but is not one of this approval's approvers.
    with pytest.raises(AirflowRestError) as refused:
        airflow.answer_when_settled(request, ["Approve"])
    assert refused.value.status_code == 403, refused.value
    assert airflow.pending_approval(DAG_ID, run_id) is not None, "the refused answer was recorded"
    assert airflow.task_states(DAG_ID, run_id)["cutover"] is None

    approver.answer_when_settled(request, ["Approve"])
    run = airflow.wait_for_dag_run(DAG_ID, run_id, timeout=90)
    states = airflow.task_states(DAG_ID, run_id)
    assert run["state"] == "success", states
    assert states == {"approve_cutover": "success", "cutover": "success", "rejected": "skipped"}
    answer = airflow.xcom_value(DAG_ID, run_id, "approve_cutover")
    assert answer["chosen_options"] == ["Approve"] and answer["responded_by_user"]["id"] == APPROVER
    assert answer["outcome"] == f"Cut over e2e-blue to e2e-green?: approved by {APPROVER}."


def test_an_unanswered_approval_times_out_to_a_rejection_that_says_so(approval_dag, airflow):
    # 0.002 h is 7.2 s; the stack's scheduler looks for timed-out approvals every 5 s.
    run_id, request = start_run(airflow, {"approvers": [APPROVER], "approval_timeout_hours": 0.002})
    assert request["defaults"] == ["Reject"]

    run = airflow.wait_for_dag_run(DAG_ID, run_id, timeout=90)
    states = airflow.task_states(DAG_ID, run_id)
    assert states == {"approve_cutover": "success", "cutover": "skipped", "rejected": "success"}, run
    # A rejection returns nothing (Airflow ends the task by skipping); the outcome is kept apart.
    outcome = airflow.xcom_value(DAG_ID, run_id, "approve_cutover", key="outcome")
    assert outcome["timed_out"] is True and outcome["approved"] is False
    notice = airflow.xcom_value(DAG_ID, run_id, "rejected")
    assert (
        notice
        == outcome["outcome"]
        == (
            "Cut over e2e-blue to e2e-green?: rejected, because nobody answered within 0.002 h. "
            "Nothing changed: blue is untouched and green keeps replicating."
        )
    )
    assert notice in airflow.task_log(DAG_ID, run_id, "rejected")
