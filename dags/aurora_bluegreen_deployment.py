"""Blue/green deployment of an Aurora MySQL cluster (or the local sandbox), with an approved cutover.

Kept cheap to parse: only operator classes are imported here; hooks, drivers and boto3 load
inside the tasks.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param

from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

CLUSTER_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]$|^[A-Za-z]$",
}
OPTIONAL_NAME_SCHEMA = {"type": ["null", "string"], "maxLength": 255, "pattern": "^[A-Za-z0-9._-]*$"}
CONN_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[A-Za-z0-9_.-]+$"}


def param(name: str) -> str:
    """A template for one trigger-form value, rendered as its native type."""
    return "{{ params." + name + " }}"


APPROVAL_BODY = """\
{%- set clone = ti.xcom_pull(task_ids='clone_green') -%}
{%- set lag = ti.xcom_pull(task_ids='wait_for_catch_up') -%}
Green has caught up with blue. **Approve** freezes writes on blue (read-only), waits until green
has executed blue's last binlog event, makes green the writer and repoints the application.
**Reject** leaves blue untouched and green replicating.

| | |
|---|---|
| Blue (production) | `{{ params.blue_cluster_id }}` |
| Green | `{{ params.green_cluster_id }}` at `{{ clone.endpoint }}:{{ clone.port }}` |
| Clone taken at blue's | `{{ clone.coordinates.position.file }}:{{ clone.coordinates.position.position }}` |
| Replication lag | {{ lag.seconds_behind }} s (threshold {{ params.max_lag_seconds }} s) |
| Green has read up to | `{{ lag.read_position.file }}:{{ lag.read_position.position }}` |
| Green has executed up to | `{{ lag.exec_position.file }}:{{ lag.exec_position.position }}` |
| Freeze budget | {{ params.max_freeze_seconds }} s, rolled back if exceeded |
| Application endpoint | `{{ params.repoint }}` |
"""

with DAG(
    dag_id="aurora_bluegreen_deployment",
    description="Clone blue into green, replicate, approve, cut over with a bounded write freeze",
    schedule=None,
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,
    tags=["aurora", "blue-green"],
    doc_md=__doc__,
    params={
        "blue_cluster_id": Param(
            "blue", **CLUSTER_ID_SCHEMA, title="Blue cluster id", description="The production cluster (blue)."
        ),
        "green_cluster_id": Param(
            "green",
            **CLUSTER_ID_SCHEMA,
            title="Green cluster id",
            description="The clone to create; must differ from blue.",
        ),
        "writer_instance_id": Param("green-writer", **CLUSTER_ID_SCHEMA, title="Green writer instance id"),
        "cluster_parameter_group": Param(None, **OPTIONAL_NAME_SCHEMA, title="Green cluster parameter group"),
        "instance_parameter_group": Param(
            None, **OPTIONAL_NAME_SCHEMA, title="Green instance parameter group"
        ),
        "vpc_security_group_ids": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^sg-[0-9a-f]+$"},
            title="Green VPC security groups",
        ),
        "db_subnet_group": Param(None, **OPTIONAL_NAME_SCHEMA, title="Green DB subnet group"),
        "binlog_retention_hours": Param(
            24, type="integer", minimum=1, maximum=2160, title="Binlog retention on blue (hours)"
        ),
        "max_lag_seconds": Param(
            5, type="number", exclusiveMinimum=0, title="Lag threshold (seconds) before approval and cutover"
        ),
        "max_freeze_seconds": Param(
            10, type="number", exclusiveMinimum=0, title="Write-freeze budget for the cutover (seconds)"
        ),
        "repoint": Param(
            "sandbox:app",
            type="string",
            pattern="^(none|sandbox:[A-Za-z_][A-Za-z0-9_]*)$",
            title="How the application is moved to green",
        ),
        "control_plane_conn_id": Param(
            "aurora_sandbox", **CONN_ID_SCHEMA, title="Control-plane connection (aws or aurora_sandbox)"
        ),
        "admin_conn_id": Param(
            "aurora_blue_admin", **CONN_ID_SCHEMA, title="Blue master-user connection (MySQL)"
        ),
        "replication_conn_id": Param(
            "aurora_replication", **CONN_ID_SCHEMA, title="Replication user connection (login + password)"
        ),
    },
) as dag:
    planes = {
        "control_plane_conn_id": param("control_plane_conn_id"),
        "admin_conn_id": param("admin_conn_id"),
    }

    preflight = PreflightOperator(
        task_id="preflight",
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        writer_instance_id=param("writer_instance_id"),
        binlog_retention_hours=param("binlog_retention_hours"),
        max_lag_seconds=param("max_lag_seconds"),
        max_freeze_seconds=param("max_freeze_seconds"),
        replication_conn_id=param("replication_conn_id"),
        **planes,
    )
    clone = CloneClusterOperator(
        task_id="clone_green",
        source_cluster_id=param("blue_cluster_id"),
        cluster_id=param("green_cluster_id"),
        writer_instance_id=param("writer_instance_id"),
        cluster_parameter_group=param("cluster_parameter_group"),
        instance_parameter_group=param("instance_parameter_group"),
        vpc_security_group_ids=param("vpc_security_group_ids"),
        db_subnet_group=param("db_subnet_group"),
        control_plane_conn_id=param("control_plane_conn_id"),
        poll_interval=2,
        retries=2,
        retry_delay=timedelta(seconds=5),
    )
    replicate = StartBinlogReplicationOperator(
        task_id="start_replication",
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        binlog_retention_hours=param("binlog_retention_hours"),
        replication_conn_id=param("replication_conn_id"),
        retries=2,
        retry_delay=timedelta(seconds=5),
        **planes,
    )
    wait_for_catch_up = ReplicaLagSensor(
        task_id="wait_for_catch_up",
        green_cluster_id=param("green_cluster_id"),
        max_lag_seconds=param("max_lag_seconds"),
        poke_interval=2,
        **planes,
    )
    approve = ApprovalOperator(
        task_id="approve_cutover",
        subject="Cut over {{ params.blue_cluster_id }} to {{ params.green_cluster_id }}?",
        body=APPROVAL_BODY,
    )
    cutover = CutoverOperator(
        task_id="cutover",
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        max_freeze_seconds=param("max_freeze_seconds"),
        max_lag_seconds=param("max_lag_seconds"),
        repoint=param("repoint"),
        replication_conn_id=param("replication_conn_id"),
        **planes,
    )
    verify = VerifyCutoverOperator(
        task_id="verify",
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        **planes,
    )

    preflight >> clone >> replicate >> wait_for_catch_up >> approve >> cutover >> verify
