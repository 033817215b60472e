import pytest
from airflow.models.taskinstancekey import TaskInstanceKey
from airflow.serialization.serialized_objects import DagSerialization
from helpers import DAGS_DIR, load_dag

from aurora_bluegreen.links import AuroraClusterLink, CutoverReportLink, report_task_id
from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator

RUN_ID = "manual__2026-11-27T08:00:00+00:00"


def report_link(dag, task_id: str) -> str:
    key = TaskInstanceKey(dag_id=dag.dag_id, task_id=task_id, run_id=RUN_ID)
    return CutoverReportLink().get_link(dag.get_task(task_id), ti_key=key)


@pytest.mark.parametrize(
    ("dag_file", "task_id", "report"),
    [
        ("aurora_bluegreen_deployment.py", "cutover", "cutover"),
        ("aurora_bluegreen_deployment.py", "verify", "cutover"),
        ("aurora_bluegreen_rollback.py", "switch_back", "switch_back"),
        ("aurora_bluegreen_rollback.py", "verify", "switch_back"),
    ],
)
def test_cutover_report_link_points_at_the_runs_cutover_task(monkeypatch, dag_file, task_id, report):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080/")
    dag = load_dag(DAGS_DIR / dag_file, f"links_{dag_file[:-3]}")
    expected = (
        f"http://airflow.example:8080/dags/{dag.dag_id}/runs/"
        f"manual__2026-11-27T08%3A00%3A00%2B00%3A00/tasks/{report}"
    )
    assert report_link(dag, task_id) == expected
    # The api-server sees the serialized task: type and neighbours survive serialization.
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task(task_id)
    assert (
        report_task_id(serialized.task_id, serialized.task_type, set(serialized.upstream_task_ids)) == report
    )


def test_report_task_id_rules():
    assert report_task_id("switch_back", "CutoverOperator", {"approve_switch_back"}) == "switch_back"
    assert report_task_id("verify", "VerifyCutoverOperator", {"switch_back"}) == "switch_back"
    # A check with no single upstream cutover links to itself rather than to a guess.
    assert report_task_id("verify", "VerifyCutoverOperator", set()) == "verify"


def test_operators_carry_their_links():
    assert any(isinstance(link, CutoverReportLink) for link in CutoverOperator.operator_extra_links)
    assert any(isinstance(link, CutoverReportLink) for link in VerifyCutoverOperator.operator_extra_links)
    # docs/aws.md: "the clone and reader tasks link to green's page in the RDS console".
    assert any(isinstance(link, AuroraClusterLink) for link in CloneClusterOperator.operator_extra_links)
