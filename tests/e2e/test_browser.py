"""A person deploys blue to green in the Airflow UI, in headless Chromium, start to finish.

Signs in, opens the deployment DAG, fills the trigger form, finds the approval under Browse >
Required Actions, reads the figures in its body, clicks Approve, sees the run succeed and reads
the cutover table in the cutover task's log. Every step leaves a screenshot in
``test-artifacts/browser/deployment_in_the_ui/``.

REST is used only where a person would simply look again later: to wait for the approval
request and for the end of the run, and to check what the UI showed against the task results.
"""

from __future__ import annotations

import uuid

import pytest
from helpers import sandbox_connections
from ui_browser import browser_missing, ui_session, wait_until_settled

from aurora_bluegreen.demo.airflow_stack import ADMIN_USER

DAG_ID = "aurora_bluegreen_deployment"
BLUE, GREEN, ENDPOINT = "ui-blue", "ui-green", "ui_app"

pytestmark = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture(scope="module")
def ui_connections(sandbox, airflow) -> dict[str, str]:
    """The connections a person would have created under Admin > Connections."""
    airflow.upsert_connections(
        sandbox_connections(
            sandbox,
            control_plane="ui_sandbox",
            admin="ui_blue_admin",
            replication=("ui_replication", "repl_ui", uuid.uuid4().hex),
        )
    )
    return {
        "control_plane_conn_id": "ui_sandbox",
        "admin_conn_id": "ui_blue_admin",
        "replication_conn_id": "ui_replication",
    }


def test_deployment_in_the_ui(
    first_engine_only, sandbox, airflow_stack, airflow, ui_connections, deployment_dag
):
    # What a person sees and clicks does not depend on the engine.
    sandbox.create_blue(BLUE)
    sandbox.point_endpoint(ENDPOINT, BLUE)
    run_id = f"ui_{uuid.uuid4().hex[:8]}"
    form = {
        "blue_cluster_id": BLUE,
        "green_cluster_id": GREEN,
        "writer_instance_id": f"{GREEN}-writer",
        "max_lag_seconds": "5",
        "max_freeze_seconds": "5",
        "repoint": f"sandbox:{ENDPOINT}",
        **ui_connections,
    }

    with ui_session(airflow_stack.url, "deployment_in_the_ui") as ui:
        page = ui.page
        ui.log_in(ADMIN_USER, airflow_stack.admin_password())

        # The DAG, from the list of DAGs.
        page.get_by_role("link", name="Dags", exact=True).first.click()
        # By address, not by text: the DAG and its tasks may carry display names.
        page.locator(f'a[href$="/dags/{DAG_ID}"]').first.click()
        page.wait_for_url(f"**/dags/{DAG_ID}")
        page.get_by_text("Overview", exact=True).wait_for()
        ui.screenshot("dag")

        # The trigger form: every value typed in, the run named so it can be found again.
        page.get_by_role("button", name="Trigger Dag").click()
        dialog = page.get_by_role("dialog")
        # The form groups its fields in sections, one open at a time: a person opens a field's first.
        for name, value in form.items():
            field = dialog.locator(f"[name=element_{name}]")
            if not field.is_visible():
                section = deployment_dag.params.get_param(name).schema["section"]
                dialog.get_by_role("button", name=section, exact=True).click()
            field.fill(value)
        dialog.get_by_role("button", name="Advanced Options").click()
        dialog.locator("input[name=dagRunId]").fill(run_id)
        ui.screenshot("trigger-form", full_page=True)
        dialog.get_by_role("button", name="Trigger", exact=True).click()
        page.wait_for_url(f"**/dags/{DAG_ID}/runs/{run_id}")
        ui.screenshot("run-started")

        # A person comes back when the approval is waiting; the test asks REST when that is.
        request = airflow.wait_for_approval_request(DAG_ID, run_id, timeout=180)
        page.get_by_role("button", name="Browse").click()
        page.get_by_role("menuitem", name="Required Actions").click()
        row = page.get_by_role("row").filter(has_text=run_id)
        row.get_by_text(request["subject"]).click()
        page.wait_for_url(f"**/runs/{run_id}/tasks/approve_cutover/required_actions**")
        figures = page.locator("table").filter(has_text="Replication lag")
        figures.wait_for()
        shown = figures.inner_text()
        ui.screenshot("approval")

        # The body shows what the tasks found: green's endpoint, the positions, the lag.
        clone = airflow.xcom_value(DAG_ID, run_id, "clone_green")
        lag = airflow.xcom_value(DAG_ID, run_id, "wait_after_migrations")
        executed = lag["exec_position"]
        clone_position = clone["coordinates"]["position"]
        assert f"{clone['endpoint']}:{clone['port']}" in shown, shown
        assert f"{executed['file']}:{executed['position']}" in shown, shown
        assert f"{clone_position['file']}:{clone_position['position']}" in shown, shown
        assert f"{lag['seconds_behind']} s (threshold 5 s)" in shown, shown
        assert f"sandbox:{ENDPOINT}" in shown, shown
        assert lag["observed_at"] in shown, shown  # the time the figures were read

        # Answering within a second or so races the 3.3.2 scheduler (README, troubleshooting 13).
        wait_until_settled(request["created_at"])
        page.get_by_role("button", name="Approve", exact=True).click()
        page.get_by_text("Response received at").wait_for()
        ui.screenshot("approved")

        run = airflow.wait_for_dag_run(DAG_ID, run_id, timeout=120)
        states = airflow.task_states(DAG_ID, run_id)
        assert run["state"] == "success", states
        # Tasks for AWS only (snapshot, dashboard, readers) are skipped on the sandbox.
        assert set(states.values()) <= {"success", "skipped"}, states
        assert states["cutover"] == states["verify"] == "success", states

        # The run page says so, and the cutover task's log holds the cutover table.
        page.locator(f'a[href$="/dags/{DAG_ID}/runs/{run_id}"]').first.click()
        run_header = page.get_by_role("heading", name=run_id, exact=True).locator("xpath=..")
        expect(run_header.get_by_test_id("state-badge")).to_have_text("Success")
        badges = page.get_by_role("table").get_by_test_id("state-badge")
        expect(badges).to_have_count(len(states))
        assert sorted(text.strip().lower() for text in badges.all_inner_texts()) == sorted(states.values())
        ui.screenshot("run-succeeded")
        # The task instance in the run's table (the grid's task names lead to the task overview).
        page.get_by_role("table").locator(f'a[href$="/runs/{run_id}/tasks/cutover"]').click()
        page.wait_for_url(f"**/runs/{run_id}/tasks/cutover")
        page.get_by_text("write freeze:").wait_for()
        log_text = page.locator("body").inner_text()
        ui.screenshot("cutover-log", full_page=True)

    assert f"Cutover from {BLUE} to {GREEN} done" in log_text
    for step in ("freeze_blue", "wait_for_green", "green_writable", "repoint"):
        assert step in log_text, step
    report = airflow.xcom_value(DAG_ID, run_id, "cutover")
    assert report["rolled_back"] is False
    assert sandbox.describe(GREEN).port and read_endpoint_cluster(sandbox) == GREEN


def read_endpoint_cluster(sandbox) -> str | None:
    from aurora_bluegreen.sandbox import read_endpoint

    endpoint = read_endpoint(sandbox.endpoint_file(ENDPOINT))
    return endpoint.cluster_id if endpoint else None
