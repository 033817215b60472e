"""Switch back from green to the old blue after a cutover, with its own approval.

The deployment's cutover leaves old blue replicating from green (reverse replication), so the
switch back is the same critical section in the other direction: green frozen, old blue catches
up exactly, old blue becomes the writer. Nothing that green acknowledged is lost, as long as old
blue's replication from green runs without error: ``wait_for_old_blue`` fails at once, with the
replication error, if it does not.

After an engine upgrade of green (``target_engine_version``), reverse replication runs from the
newer engine to the older one, which neither MariaDB nor MySQL promises. What this DAG can still
promise then: no acknowledged write lost while old blue replicates without error, which the sensor
checks; not that old blue applies every statement of the newer engine as green did. Measured on
the sandbox (MariaDB 11.8 -> 10.11): application writes, ADD COLUMN, CREATE INDEX and UPDATE
replicate; a table created with a bare ``CHARACTER SET utf8mb4`` gets another collation on old blue
without an error; a ``VECTOR`` column stops replication, and then the switch back is refused. The
deployment's cutover report says this in its ``reverse_replication`` line.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from aurora_bluegreen.notifications import approval_notifiers_from_env
from aurora_bluegreen.operators.approval import CutoverApprovalOperator, RejectionNoticeOperator
from aurora_bluegreen.operators.cluster_lock import hold_for_the_run
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.params import (
    LONGEST_FREEZE_SECONDS,
    LONGEST_LAG_SECONDS,
    approval_params,
    cluster_id_param,
    connection_params,
    freeze_params,
    param,
    repoint_param,
    seconds_param,
)
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

APPROVAL_BODY = """\
{%- set lag = ti.xcom_pull(task_ids='wait_for_old_blue') -%}
Old blue has caught up with green over reverse replication. **Approve** freezes writes on green,
waits until old blue has executed green's last binlog event, makes old blue the writer again and
repoints the application. **Reject**, or no answer by the deadline, leaves green as the writer;
until then, leaving this open postpones the switch back while old blue keeps replicating.

The lag and position are as old blue reported them at **{{ lag.observed_at }}**; the switch back
measures everything again, exactly, before it freezes green.

| | |
|---|---|
| Writer now (green) | `{{ params.green_cluster_id }}` |
| Switch back to (old blue) | `{{ params.blue_cluster_id }}` |
| Figures taken at | {{ lag.observed_at }} |
| Old blue's lag | {{ lag.seconds_behind }} s (threshold {{ params.max_lag_seconds }} s) |
| Old blue has executed up to | `{{ lag.exec_position.file }}:{{ lag.exec_position.position }}` |
| Freeze budget | {{ params.max_freeze_seconds }} s, rolled back if exceeded |
| How green is frozen | `{{ params.freeze_method }}` |
| Application endpoint | `{{ params.repoint }}` |

If green's engine was upgraded during the deployment, old blue runs the older engine: reverse
replication from the newer one is promised only while it runs without error (checked just now),
and a statement the older engine applies differently (a collation default) is not reported by it.
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
        "blue_cluster_id": cluster_id_param("blue", "Old blue (to switch back to)"),
        "green_cluster_id": cluster_id_param("green", "Green (the writer now)"),
        **connection_params(),
        "max_lag_seconds": seconds_param(5, "Lag threshold (seconds)", maximum=LONGEST_LAG_SECONDS),
        "max_freeze_seconds": seconds_param(
            10, "Write-freeze budget for the switch back (seconds)", maximum=LONGEST_FREEZE_SECONDS
        ),
        "repoint": repoint_param("sandbox:app", "How the application is moved back"),
        **freeze_params(),
        **approval_params(),
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
    approve = CutoverApprovalOperator(
        task_id="approve_switch_back",
        subject="Switch {{ params.green_cluster_id }} back to {{ params.blue_cluster_id }}?",
        body=APPROVAL_BODY,
        notifiers=approval_notifiers_from_env(),
        approvers=param("approvers"),
        approval_timeout_hours=param("approval_timeout_hours"),
    )
    rejected = RejectionNoticeOperator(
        task_id="rejected",
        task_display_name="Rejected: nothing changed",
        approval_task_id="approve_switch_back",
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
    switch_back >> rejected  # runs only when the approval skipped the switch back
    hold_for_the_run(param("blue_cluster_id"), wait_for_old_blue, verify)
