"""The fleet DAG's waves, wired from the deployment DAG's operators and sensor.

A wave is a mapped task group over its members: clone, record what teardown restores, replicate
and wait for catch-up run for every member at once (the waits are deferred, so they hold no worker
slot), then the approval (one for the wave, or one per member), then the cutovers, at most
``[aurora_bluegreen] fleet_max_parallel_cutovers`` at a time, then the checks of the end state.
Every task is one of the package's operators; only the wiring is new. It sits above operators and
sensors, which never import it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aurora_bluegreen.fleet import MAX_WAVES, approval_table
from aurora_bluegreen.operators.fleet import (
    CLUSTER_APPROVAL,
    MEMBERS,
    WAVE_APPROVAL,
    AskedApprovalOperator,
    FleetWaveOperator,
)


def max_parallel_cutovers() -> int:
    """``[aurora_bluegreen] fleet_max_parallel_cutovers``: Airflow fixes a mapped task's concurrency
    when the DAG is parsed, so this is configuration, not a trigger-form field."""
    from airflow.configuration import conf

    value = conf.getint("aurora_bluegreen", "fleet_max_parallel_cutovers", fallback=2)
    if value < 1:
        raise ValueError(f"[aurora_bluegreen] fleet_max_parallel_cutovers={value} must be at least 1")
    return value


# The Jinja filters the approvals' bodies use: the fleet DAG passes them as user_defined_filters.
FILTERS = {"fleet_approval_table": approval_table}

WAVE_BODY = """\
{%- set members = ti.xcom_pull(task_ids='wave_WAVE_members') -%}
{%- set lags = ti.xcom_pull(task_ids='wave_WAVE.wait_for_catch_up') -%}
Every green of wave WAVE has caught up with its blue. **Approve** cuts them over, at most
MAX_PARALLEL at a time, each with its own write freeze (budget {{ params.max_freeze_seconds }} s,
rolled back if exceeded). **Reject** leaves every blue of this wave untouched, its greens
replicating, and starts no later wave.

{{ members | fleet_approval_table(lags, params.max_lag_seconds) }}
"""

CLUSTER_BODY = """\
{%- set member = ti.xcom_pull(task_ids='wave_WAVE_members')[ti.map_index] -%}
{%- set lag = ti.xcom_pull(task_ids='wave_WAVE.wait_for_catch_up', map_indexes=ti.map_index) -%}
Green `{{ member.green_cluster_id }}` has caught up with blue `{{ member.blue_cluster_id }}` (wave
WAVE). **Approve** cuts it over (write freeze budget {{ params.max_freeze_seconds }} s, rolled back
if exceeded). **Reject** leaves this blue untouched and its green replicating.

{{ [member] | fleet_approval_table([lag], params.max_lag_seconds) }}
"""


def approval_body(template: str, wave: int) -> str:
    return template.replace("WAVE", str(wave)).replace("MAX_PARALLEL", str(max_parallel_cutovers()))


def fleet_waves(shared: dict[str, Any], approval: str, after: Any) -> list[Any]:
    """Wire up to ``MAX_WAVES`` waves, one after the other, after ``after``; returns each wave.

    :param shared: what every member's tasks take from the form (templates: connections, limits).
    :param approval: the name of the form's Param that says ``wave`` or ``cluster``: who is asked.
    """

    from aurora_bluegreen.notifications import approval_notifiers_from_env

    waves, previous = [], after
    for wave in range(1, MAX_WAVES + 1):
        members = FleetWaveOperator(
            task_id=MEMBERS.format(wave=wave),
            clusters=shared["clusters"],
            wave_size=shared["wave_size"],
            wave=wave,
        )
        approve_wave = AskedApprovalOperator(
            task_id=WAVE_APPROVAL.format(wave=wave),
            asked=_when(approval, "wave"),
            subject=f"Cut over wave {wave} of the fleet?",
            body=approval_body(WAVE_BODY, wave),
            notifiers=approval_notifiers_from_env(),
        )
        deployed = _wave_group(wave, shared, approval, approve_wave).expand_kwargs(members.output)
        previous >> members >> approve_wave
        waves.append(deployed)
        previous = deployed
    return waves


# Tasks before the cutover are idempotent: a retry on another worker picks up where one stopped.
_RETRIED = {"retries": 2, "retry_delay": timedelta(seconds=5)}


def _wave_group(wave: int, shared: dict[str, Any], approval: str, approve_wave: Any) -> Any:
    """The mapped task group of one wave: one member's deployment, from clone to verify."""
    from airflow.sdk import task_group

    from aurora_bluegreen.notifications import approval_notifiers_from_env
    from aurora_bluegreen.operators.clone import CloneClusterOperator
    from aurora_bluegreen.operators.cutover import VerifyCutoverOperator
    from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
    from aurora_bluegreen.operators.teardown import RecordTeardownFactsOperator
    from aurora_bluegreen.ownership import REPLICATES_TAG
    from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor

    planes = {key: shared[key] for key in ("control_plane_conn_id", "admin_conn_id")}

    @task_group(group_id=f"wave_{wave}")
    def deploy(blue_cluster_id: str, green_cluster_id: str, writer_instance_id: str, repoint: str) -> Any:
        pair = {"blue_cluster_id": blue_cluster_id, "green_cluster_id": green_cluster_id}
        clone = CloneClusterOperator(
            task_id="clone_green",
            source_cluster_id=blue_cluster_id,
            cluster_id=green_cluster_id,
            writer_instance_id=writer_instance_id,
            control_plane_conn_id=shared["control_plane_conn_id"],
            tags={REPLICATES_TAG: "true"},
            poll_interval=2,
            **_RETRIED,
        )
        facts = RecordTeardownFactsOperator(task_id="record_teardown_facts", **pair, **planes, **_RETRIED)
        replicate = StartBinlogReplicationOperator(
            task_id="start_replication",
            binlog_retention_hours=shared["binlog_retention_hours"],
            replication_conn_id=shared["replication_conn_id"],
            **pair,
            **planes,
            **_RETRIED,
        )
        caught_up = ReplicaLagSensor(
            task_id="wait_for_catch_up",
            green_cluster_id=green_cluster_id,
            max_lag_seconds=shared["max_lag_seconds"],
            poke_interval=2,
            **planes,
        )
        approve_cluster = AskedApprovalOperator(
            task_id="approve_cluster",
            asked=_when(approval, "cluster"),
            subject=f"Cut over a cluster of wave {wave} of the fleet?",
            body=approval_body(CLUSTER_BODY, wave),
            notifiers=approval_notifiers_from_env(),
        )
        cutover = _cutover(wave, shared, repoint, {**pair, **planes})
        verify = VerifyCutoverOperator(
            task_id="verify", freeze_method=shared["freeze_method"], **pair, **planes
        )
        clone >> facts >> replicate >> caught_up >> [approve_wave, approve_cluster]
        approve_cluster >> cutover
        approve_wave >> cutover >> verify
        return verify

    return deploy


def _cutover(wave: int, shared: dict[str, Any], repoint: str, clusters: dict[str, Any]) -> Any:
    """One member's cutover: after whichever approval was asked, at most a few at once per run."""
    from aurora_bluegreen.operators.cutover import CutoverOperator

    return CutoverOperator(
        task_id="cutover",
        max_freeze_seconds=shared["max_freeze_seconds"],
        max_lag_seconds=shared["max_lag_seconds"],
        repoint=repoint,
        replication_conn_id=shared["replication_conn_id"],
        approval_task_id=[WAVE_APPROVAL.format(wave=wave), CLUSTER_APPROVAL.format(wave=wave)],
        freeze_method=shared["freeze_method"],
        quiet_seconds=shared["quiet_seconds"],
        # One approval was asked and the other skipped; a Reject skips the cutover itself.
        trigger_rule="none_failed_min_one_success",
        max_active_tis_per_dagrun=max_parallel_cutovers(),
        # A retry converges: it finishes or repeats the critical section, never runs it twice.
        retries=1,
        retry_delay=timedelta(seconds=2),
        **clusters,
    )


def _when(approval: str, kind: str) -> str:
    """A template rendering to whether the form's ``approval`` Param chose ``kind``."""
    return "{{ params." + approval + f" == '{kind}' }}}}"
