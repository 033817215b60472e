"""A fleet of blue clusters deployed in waves, each cluster as the deployment DAG would.

Flow: plan (the whole list checked, collisions refused, before anything changes) → hold every
blue of the fleet (no other run of any of this tool's DAGs may touch them until the end) → wave
1, 2, ... (each waits for every cutover of the one before) → summary → release the blues.

In a wave, every member is cloned, replicated and waited for in parallel (the waits are deferred:
they hold no worker slot); then one approval for the wave, or one per cluster (``approval``),
listing every cluster with its lag and replication state; then the cutovers, at most
``[aurora_bluegreen] fleet_max_parallel_cutovers`` (default 2) at once. A failed cutover stops the
waves after it; clusters already cut over stay cut over, with reverse replication to their old
blue (``aurora_bluegreen_rollback`` switches one back). The summary lists each cluster's state,
freeze in ms, missing binlog events and rollback, and fails the run if any cutover failed.

The tasks are the deployment DAG's operators (no schema changes, checks, snapshot or readers
here: deploy those clusters one at a time). Parse cost: the same operator imports as the
deployment DAG, and no task does work at parse time.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from aurora_bluegreen.fleet import MAX_WAVES
from aurora_bluegreen.operators.cluster_lock import hold_for_the_run
from aurora_bluegreen.operators.fleet import FleetSummaryOperator, PlanFleetOperator
from aurora_bluegreen.params import CLUSTER_ID_SCHEMA, REPOINT_SCHEMA, connection_params, freeze_params, param
from aurora_bluegreen.task_groups.fleet import FILTERS, fleet_waves

MEMBER_SCHEMA = {
    "type": "object",
    "properties": {
        "blue_cluster_id": CLUSTER_ID_SCHEMA,
        "green_cluster_id": CLUSTER_ID_SCHEMA,
        "writer_instance_id": CLUSTER_ID_SCHEMA,
        "repoint": REPOINT_SCHEMA,
    },
    "required": ["blue_cluster_id", "green_cluster_id", "repoint"],
    "additionalProperties": False,
}
SHARED = (
    "clusters",
    "wave_size",
    "binlog_retention_hours",
    "max_lag_seconds",
    "max_freeze_seconds",
    "freeze_method",
    "quiet_seconds",
    "control_plane_conn_id",
    "admin_conn_id",
    "replication_conn_id",
)

with DAG(
    dag_id="aurora_bluegreen_fleet",
    description="Deploy many blue clusters in waves: parallel clones and catch-up, capped cutovers",
    schedule=None,
    catchup=False,
    render_template_as_native_obj=True,
    user_defined_filters=FILTERS,
    tags=["aurora", "blue-green", "fleet"],
    doc_md=__doc__,
    params={
        "clusters": Param(
            [
                {"blue_cluster_id": "blue", "green_cluster_id": "green", "repoint": "sandbox:app"},
            ],
            type="array",
            minItems=1,
            maxItems=100,
            items=MEMBER_SCHEMA,
            title="Blue clusters, in deployment order",
            description="Each: blue_cluster_id, green_cluster_id (the clone to create), repoint (how its "
            "application moves), and optionally writer_instance_id (default: <green>-writer).",
        ),
        "wave_size": Param(
            2,
            type="integer",
            minimum=1,
            maximum=25,
            title="Clusters per wave",
            description=f"At most {MAX_WAVES} waves: the list is cut into waves of this size, in order.",
        ),
        "approval": Param(
            "wave",
            type="string",
            enum=["wave", "cluster"],
            title="Approval per wave or per cluster",
        ),
        "binlog_retention_hours": Param(
            24, type="integer", minimum=1, maximum=2160, title="Binlog retention on each blue (hours)"
        ),
        "max_lag_seconds": Param(
            5, type="number", exclusiveMinimum=0, maximum=3600, title="Lag threshold (seconds)"
        ),
        "max_freeze_seconds": Param(
            10,
            type="number",
            exclusiveMinimum=0,
            maximum=3600,
            title="Write-freeze budget per cutover (seconds)",
        ),
        **freeze_params(),
        **connection_params(),
    },
) as dag:
    shared = {name: param(name) for name in SHARED}
    plan = PlanFleetOperator(task_id="plan", clusters=shared["clusters"], wave_size=shared["wave_size"])
    summary = FleetSummaryOperator(
        task_id="summary", clusters=shared["clusters"], wave_size=shared["wave_size"], trigger_rule="all_done"
    )
    waves = fleet_waves(shared, "approval", after=plan)
    waves[-1] >> summary
    hold, _ = hold_for_the_run("{{ ti.xcom_pull(task_ids='plan')['blue_cluster_ids'] }}", [], summary)
    plan >> hold >> dag.get_task("wave_1_members")
