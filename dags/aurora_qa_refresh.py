"""Nightly QA clone of blue: a fresh, date-stamped copy every night, optionally masked, never blue touched.

Flow: plan (every input checked) → clone (tagged ``role=qa`` from the first moment) → mask
(optional SQL from ``sql/masking/``) → replicate (optional; refused together with masking) →
publish (tagged ready, the stable QA name moved to it, endpoint in XCom) → retire earlier QA
clones of the same blue, found only by our tags, keeping the newest ``keep_previous`` ready ones.

The fresh clone is published before older ones are retired, so QA is never left without a
database and the stable name never points at a deleted cluster. A run that dies halfway leaves a
clone tagged as ours but not ready; the next run that gets to its end retires it. A failed
masking deletes its clone at once, since it may hold unmasked data.

Blue's data is only read. With ``replicate`` on, blue gets what replication needs: the
replication user (REPLICATION SLAVE only, reused if present) and its binlog retention.

The schedule is ``[aurora_bluegreen] qa_refresh_schedule`` in Airflow's configuration (environment
variable ``AIRFLOW__AURORA_BLUEGREEN__QA_REFRESH_SCHEDULE``), ``0 2 * * *`` by default; an invalid
expression is an import error naming that setting, so no run can start with it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.configuration import conf
from airflow.sdk import DAG, Param

from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cluster_lock import hold_for_the_run
from aurora_bluegreen.operators.qa import (
    MaskQaCloneOperator,
    PlanQaRefreshOperator,
    PublishQaCloneOperator,
    RetireQaClonesOperator,
    StartQaReplicationOperator,
)
from aurora_bluegreen.ownership import REPLICATES_TAG
from aurora_bluegreen.params import (
    CLUSTER_ID_SCHEMA,
    REPOINT_SCHEMA,
    connection_params,
    param,
)
from aurora_bluegreen.qa_clones import DEFAULT_SCHEDULE, MAX_PREFIX_LENGTH, STAMP_TAG, nightly_schedule
from aurora_bluegreen.sql_files import FILE_NAME_PATTERN

MASKING_DIR = Path(__file__).resolve().parent / "sql" / "masking"
SCHEDULE = nightly_schedule(conf.get("aurora_bluegreen", "qa_refresh_schedule", fallback=DEFAULT_SCHEDULE))


def planned(key: str) -> str:
    """A template for one value the plan task chose (tonight's clone id, its stamp)."""
    return "{{ ti.xcom_pull(task_ids='plan')['" + key + "'] }}"


with DAG(
    dag_id="aurora_qa_refresh",
    description="A fresh QA clone of blue every night, optionally masked; earlier ones retired by tag",
    schedule=SCHEDULE,
    catchup=False,
    render_template_as_native_obj=True,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=5)},
    tags=["aurora", "qa"],
    doc_md=__doc__,
    params={
        "blue_cluster_id": Param("blue", **CLUSTER_ID_SCHEMA, title="Blue cluster id (only read)"),
        "qa_cluster_prefix": Param(
            "blue-qa",
            **{**CLUSTER_ID_SCHEMA, "maxLength": MAX_PREFIX_LENGTH},
            title="QA clone id prefix",
            description="Tonight's clone is <prefix>-YYYYMMDD-HHMMSS (UTC).",
        ),
        "keep_previous": Param(
            1,
            type="integer",
            minimum=0,
            title="Earlier QA clones to keep",
            description="The newest complete ones are kept besides tonight's; 0 retires all earlier ones.",
        ),
        "masking_files": Param(
            [],
            type="array",
            items={"type": "string", "pattern": FILE_NAME_PATTERN},
            title="Masking SQL to run on the clone",
            description=f"Files in {MASKING_DIR}, run in this order. Not together with replicate.",
        ),
        "replicate": Param(
            False,
            type="boolean",
            title="Keep replicating from blue",
            description="The clone follows blue read-only. Not together with masking.",
        ),
        "binlog_retention_hours": Param(
            24, type="integer", minimum=1, maximum=2160, title="Binlog retention on blue when replicating"
        ),
        "qa_endpoint": Param("none", **REPOINT_SCHEMA, title="Stable QA name moved to tonight's clone"),
        **connection_params("Replication user connection (when replicating)"),
    },
) as dag:
    planes = {
        "control_plane_conn_id": param("control_plane_conn_id"),
        "admin_conn_id": param("admin_conn_id"),
    }

    plan = PlanQaRefreshOperator(
        task_id="plan",
        retries=0,  # it only checks inputs: a retry would refuse them again
        blue_cluster_id=param("blue_cluster_id"),
        qa_cluster_prefix=param("qa_cluster_prefix"),
        keep_previous=param("keep_previous"),
        masking_files=param("masking_files"),
        sql_folder=MASKING_DIR,
        replicate=param("replicate"),
        qa_endpoint=param("qa_endpoint"),
        replication_conn_id=param("replication_conn_id"),
        **planes,
    )
    clone = CloneClusterOperator(
        task_id="clone_qa",
        source_cluster_id=param("blue_cluster_id"),
        cluster_id=planned("cluster_id"),
        writer_instance_id=planned("writer_instance_id"),
        control_plane_conn_id=param("control_plane_conn_id"),
        role="qa",
        tags={STAMP_TAG: planned("stamp"), REPLICATES_TAG: "{{ 'true' if params.replicate else 'false' }}"},
        # Read-only until masked and published: nobody reads unmasked data through a write path.
        read_only=True,
        poll_interval=2,
    )
    mask = MaskQaCloneOperator(
        task_id="mask_qa",
        cluster_id=planned("cluster_id"),
        masking_files=param("masking_files"),
        sql_folder=MASKING_DIR,
        retries=0,  # a failed masking deleted its clone; the next night makes a new one
        **planes,
    )
    replicate = StartQaReplicationOperator(
        task_id="replicate_qa",
        replicate=param("replicate"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=planned("cluster_id"),
        binlog_retention_hours=param("binlog_retention_hours"),
        replication_conn_id=param("replication_conn_id"),
        **planes,
    )
    publish = PublishQaCloneOperator(
        task_id="publish_qa",
        cluster_id=planned("cluster_id"),
        qa_endpoint=param("qa_endpoint"),
        replicate=param("replicate"),
        # Runs when replication was skipped (replicate off), never after a failure.
        trigger_rule="none_failed",
        **planes,
    )
    retire = RetireQaClonesOperator(
        task_id="retire_earlier_qa",
        blue_cluster_id=param("blue_cluster_id"),
        current_cluster_id=planned("cluster_id"),
        keep_previous=param("keep_previous"),
        control_plane_conn_id=param("control_plane_conn_id"),
        admin_conn_id=param("admin_conn_id"),
        replication_conn_id=param("replication_conn_id"),
    )

    plan >> clone >> mask >> replicate >> publish >> retire
    hold_for_the_run(param("blue_cluster_id"), plan, retire)
