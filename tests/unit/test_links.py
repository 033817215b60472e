from airflow.models.taskinstancekey import TaskInstanceKey

from aurora_bluegreen.links import CutoverReportLink
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator


def test_cutover_report_link_points_at_the_runs_cutover_task(monkeypatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080/")
    key = TaskInstanceKey(
        dag_id="aurora_bluegreen_deployment", task_id="verify", run_id="manual__2026-11-27T08:00:00+00:00"
    )
    link = CutoverReportLink().get_link(None, ti_key=key)
    assert link == (
        "http://airflow.example:8080/dags/aurora_bluegreen_deployment/runs/"
        "manual__2026-11-27T08%3A00%3A00%2B00%3A00/tasks/cutover"
    )
    assert any(isinstance(link, CutoverReportLink) for link in CutoverOperator.operator_extra_links)
    assert any(isinstance(link, CutoverReportLink) for link in VerifyCutoverOperator.operator_extra_links)
