"""The approval notice as the approver gets it: an e-mail from real Airflow whose link answers it.

The test runs its own SMTP server (aiosmtpd on 127.0.0.1) and a small DAG whose approval carries
``approval_email`` in its ``notifiers``. The mail must arrive while the task waits, and its link,
opened in a browser, must lead to that approval, where Approve finishes the run. The link uses
the api-server's own address because the stack sets no ``[api] base_url``: the fallback is tested
as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_smtp import Inbox, smtp_server
from ui_browser import browser_missing, ui_session, wait_until_settled

from aurora_bluegreen.demo.airflow_stack import ADMIN_USER

DAG_ID = "e2e_approval_email"
RECIPIENT = "dba-oncall@example.com"

NOTIFY_DAG = f'''
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG

from aurora_bluegreen.notifications import approval_email

BODY = """\\
Green has caught up with blue.

| | |
|---|---|
| Replication lag | 0 s (threshold 5 s) |
| Green has executed up to | `mysql-bin-changelog.000003:{{{{ 4000 + 711 }}}}` |
"""

with DAG("{DAG_ID}", schedule=None, catchup=False):
    ApprovalOperator(
        task_id="approve_cutover",
        subject="Cut over e2e-blue to e2e-green? ({{{{ run_id }}}})",
        body=BODY,
        notifiers=[approval_email(to="{RECIPIENT}", smtp_conn_id="e2e_smtp", fail_on_error=True)],
    )
'''


@pytest.fixture
def inbox(airflow) -> Iterator[Inbox]:
    with smtp_server(timeout=10) as (received, connection):
        airflow.upsert_connections({"e2e_smtp": connection})
        yield received


@pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
def test_approval_email_arrives_and_its_link_answers_the_approval(
    airflow_stack, airflow, e2e_dags_dir: Path, inbox: Inbox
):
    (e2e_dags_dir / f"{DAG_ID}.py").write_text(NOTIFY_DAG)
    airflow_stack.wait_for_dags([DAG_ID], timeout=90)
    airflow.unpause_dag(DAG_ID)
    # A generated run id: "manual__<timestamp>+00:00", whose ':' and '+' the link must escape.
    run_id = airflow.trigger_dag_run(DAG_ID)["dag_run_id"]

    request = airflow.wait_for_approval_request(DAG_ID, run_id, timeout=90)
    assert inbox.arrived.wait(30), (
        f"no mail arrived; task log:\n{airflow.task_log(DAG_ID, run_id, 'approve_cutover')}"
    )
    (message,) = inbox.messages
    assert message["To"] == RECIPIENT
    assert message["Subject"] == f"Cut over e2e-blue to e2e-green? ({run_id})" == request["subject"]
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Replication lag" in html and "0 s (threshold 5 s)" in html
    assert "mysql-bin-changelog.000003:4711" in html
    (link,) = set(re.findall(r'href="([^"]+)"', html))
    assert link.startswith(f"{airflow_stack.url}/dags/{DAG_ID}/runs/manual__"), link
    assert "%2B00%3A00/tasks/approve_cutover/required_actions" in link, link

    with ui_session(airflow_stack.url, "approval_email_link") as ui:
        ui.log_in(ADMIN_USER, airflow_stack.admin_password())
        ui.page.goto(link.replace("&amp;", "&"))
        ui.page.get_by_text("Green has caught up with blue.").wait_for()
        ui.page.get_by_text("mysql-bin-changelog.000003:4711").wait_for()
        ui.screenshot("approval-from-the-mail")
        wait_until_settled(request["created_at"])
        ui.page.get_by_role("button", name="Approve", exact=True).click()
        ui.page.get_by_text("Response received at").wait_for()
        ui.screenshot("approved-from-the-mail")

    run = airflow.wait_for_dag_run(DAG_ID, run_id, timeout=60)
    assert run["state"] == "success", airflow.task_states(DAG_ID, run_id)
    assert airflow.xcom_value(DAG_ID, run_id, "approve_cutover")["chosen_options"] == ["Approve"]
    assert "Sent the approval notice through SmtpNotifier" in airflow.task_log(
        DAG_ID, run_id, "approve_cutover"
    )
