"""The harness itself: a throwaway DAG with a deferrable sensor and an approval runs to success.

If this fails, the Airflow set-up is broken, not the deployment DAG: the sensor proves the
triggerer runs deferred tasks, the approval proves HITL answers over REST reach the task.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient
from aurora_bluegreen.demo.airflow_stack import AirflowStack

SMOKE_DAG_ID = "e2e_stack_smoke"

SMOKE_DAG = f'''
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, task

with DAG("{SMOKE_DAG_ID}", schedule=None, catchup=False):

    @task
    def report():
        return {{"freeze_ms": 1.5, "steps": [{{"name": "freeze", "duration_ms": 1.5, "detail": "ok"}}]}}

    # Two seconds after the task starts, so it always defers to the triggerer.
    wait = DateTimeSensorAsync(
        task_id="wait", target_time="{{{{ macros.datetime.utcnow() + macros.timedelta(seconds=2) }}}}"
    )
    approve = ApprovalOperator(task_id="approve", subject="Proceed?")
    report() >> wait >> approve
'''


def test_deferred_sensor_and_rest_approval_run_to_success(
    airflow_stack: AirflowStack, airflow: AirflowRestClient, e2e_dags_dir: Path
) -> None:
    (e2e_dags_dir / "e2e_stack_smoke.py").write_text(SMOKE_DAG)
    airflow_stack.wait_for_dags([SMOKE_DAG_ID], timeout=60)
    airflow.unpause_dag(SMOKE_DAG_ID)
    run_id = f"e2e_{uuid.uuid4().hex[:8]}"
    airflow.trigger_dag_run(SMOKE_DAG_ID, run_id=run_id)

    request = airflow.wait_for_approval_request(SMOKE_DAG_ID, run_id, timeout=90)
    assert request["task_instance"]["task_id"] == "approve"
    airflow.answer_when_settled(request, ["Approve"])
    run = airflow.wait_for_dag_run(SMOKE_DAG_ID, run_id, timeout=90)

    states = airflow.task_states(SMOKE_DAG_ID, run_id)
    assert run["state"] == "success", states
    assert states == {"report": "success", "wait": "success", "approve": "success"}
    assert "DEFERRED" in airflow.task_log(SMOKE_DAG_ID, run_id, "wait")
    assert airflow.xcom_value(SMOKE_DAG_ID, run_id, "report")["freeze_ms"] == 1.5
    assert airflow_stack.running_pids()
