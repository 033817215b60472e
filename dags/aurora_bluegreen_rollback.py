"""Switch back from green to the old blue after a cutover, with its own approval.

The deployment's cutover leaves old blue replicating from green (reverse replication), so the
switch back is the same critical section in the other direction: green frozen, old blue catches
up exactly, old blue becomes the writer. Nothing that green acknowledged is lost.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param

from aurora_bluegreen.notifications import approval_notifiers_from_env
from aurora_bluegreen.operators.cluster_lock import hold_for_the_run
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.params import (
    CLUSTER_ID_SCHEMA,
    REPOINT_SCHEMA,
    connection_params,
    freeze_params,
    param,
)
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

APPROVAL_BODY = """\
{%- set lag = ti.xcom_pull(task_ids='wait_for_old_blue') -%}
Old blue has caught up with green over reverse replication. **Approve** freezes writes on green,
waits until old blue has executed green's last binlog event, makes old blue the writer again and
repoints the application. **Reject** leaves green as the writer.

| | |
|---|---|
| Writer now (green) | `{{ params.green_cluster_id }}` |
| Switch back to (old blue) | `{{ params.blue_cluster_id }}` |
| Old blue's lag | {{ lag.seconds_behind }} s (threshold {{ params.max_lag_seconds }} s) |
| Old blue has executed up to | `{{ lag.exec_position.file }}:{{ lag.exec_position.position }}` |
| Freeze budget | {{ params.max_freeze_seconds }} s, rolled back if exceeded |
| How green is frozen | `{{ params.freeze_method }}` |
| Application endpoint | `{{ params.repoint }}` |
"""

with DAG(
    dag_id="aurora_bluegreen_rollback",
    description="Switch the application back from green to old blue, over reverse replication",
    schedule=None,
    catchup=False,
    render_template_as_native_obj=True,
    tags=["aurora", "blue-green"],
    doc_md=__doc__,
    params={
        "blue_cluster_id": Param("blue", **CLUSTER_ID_SCHEMA, title="Old blue (to switch back to)"),
        "green_cluster_id": Param("green", **CLUSTER_ID_SCHEMA, title="Green (the writer now)"),
        "max_lag_seconds": Param(5, type="number", exclusiveMinimum=0, title="Lag threshold (seconds)"),
        "max_freeze_seconds": Param(
            10, type="number", exclusiveMinimum=0, title="Write-freeze budget for the switch back (seconds)"
        ),
        "repoint": Param("sandbox:app", **REPOINT_SCHEMA, title="How the application is moved back"),
        **freeze_params(),
        **connection_params(),
    },
) as dag:
    planes = {
        "control_plane_conn_id": param("control_plane_conn_id"),
        "admin_conn_id": param("admin_conn_id"),
    }
    wait_for_old_blue = ReplicaLagSensor(
        task_id="wait_for_old_blue",
        green_cluster_id=param("blue_cluster_id"),
        max_lag_seconds=param("max_lag_seconds"),
        poke_interval=2,
        **planes,
    )
    approve = ApprovalOperator(
        task_id="approve_switch_back",
        subject="Switch {{ params.green_cluster_id }} back to {{ params.blue_cluster_id }}?",
        body=APPROVAL_BODY,
        notifiers=approval_notifiers_from_env(),
    )
    switch_back = CutoverOperator(
        task_id="switch_back",
        blue_cluster_id=param("green_cluster_id"),
        green_cluster_id=param("blue_cluster_id"),
        max_freeze_seconds=param("max_freeze_seconds"),
        max_lag_seconds=param("max_lag_seconds"),
        repoint=param("repoint"),
        replication_conn_id=param("replication_conn_id"),
        approval_task_id="approve_switch_back",
        freeze_method=param("freeze_method"),
        quiet_seconds=param("quiet_seconds"),
        # A worker that dies mid-freeze leaves the writer read-only until the retry: not 5 minutes.
        retries=1,
        retry_delay=timedelta(seconds=2),
        **planes,
    )
    verify = VerifyCutoverOperator(
        task_id="verify",
        blue_cluster_id=param("green_cluster_id"),
        green_cluster_id=param("blue_cluster_id"),
        freeze_method=param("freeze_method"),
        **planes,
    )

    wait_for_old_blue >> approve >> switch_back >> verify
    hold_for_the_run(param("blue_cluster_id"), wait_for_old_blue, verify)
