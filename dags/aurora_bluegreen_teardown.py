"""Tear a deployment down: green, the replication user, blue's binlog retention, the lag dashboard.

For when testing is over or a deployment was rejected; safe on a half-built deployment, and a
second run changes nothing. Green must be ours (tags ``managed-by``, ``role=green``,
``source-cluster=<blue>``), or nothing is changed. After an approved cutover green is the writer:
it is kept, and only the way back (reverse replication, the replication user) is closed.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from aurora_bluegreen.operators.cluster_lock import hold_for_the_run
from aurora_bluegreen.operators.dashboard import DeleteBinlogLagDashboardOperator
from aurora_bluegreen.operators.teardown import TeardownDeploymentOperator
from aurora_bluegreen.params import CLUSTER_ID_SCHEMA, connection_params, param

with DAG(
    dag_id="aurora_bluegreen_teardown",
    description="Delete green (ours only), drop the replication user, restore blue's binlog retention",
    schedule=None,
    catchup=False,
    render_template_as_native_obj=True,
    tags=["aurora", "blue-green"],
    doc_md=__doc__,
    params={
        "blue_cluster_id": Param("blue", **CLUSTER_ID_SCHEMA, title="Blue cluster id"),
        "green_cluster_id": Param("green", **CLUSTER_ID_SCHEMA, title="Green cluster id (to remove)"),
        "writer_instance_id": Param(
            "green-writer", **CLUSTER_ID_SCHEMA, title="Green writer instance id (names its lag dashboard)"
        ),
        **connection_params("Replication user connection (its login is dropped)"),
    },
) as dag:
    teardown = TeardownDeploymentOperator(
        task_id="teardown",
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        writer_instance_id=param("writer_instance_id"),
        replication_conn_id=param("replication_conn_id"),
        control_plane_conn_id=param("control_plane_conn_id"),
        admin_conn_id=param("admin_conn_id"),
    )
    # Skipped on the sandbox, which has no CloudWatch; after the teardown, so a refused teardown
    # (green not ours) deletes nothing at all.
    delete_dashboard = DeleteBinlogLagDashboardOperator(
        task_id="delete_lag_dashboard",
        writer_instance_id=param("writer_instance_id"),
        aws_conn_id=param("control_plane_conn_id"),
    )

    teardown >> delete_dashboard
    hold_for_the_run(param("blue_cluster_id"), teardown, delete_dashboard)
