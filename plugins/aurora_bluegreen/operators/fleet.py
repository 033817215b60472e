"""The fleet DAG's own tasks (plan, one wave's members, summary) and the wiring of one wave.

A wave is a mapped task group over its members: clone, record what teardown restores, replicate
and wait for catch-up run for every member at once (the waits are deferred, so they hold no worker
slot), then the approval (one for the wave, or one per member), then the cutovers, at most
``[aurora_bluegreen] fleet_max_parallel_cutovers`` at a time, then the checks of the end state.
Every task is one of the deployment DAG's operators; only the wiring is new.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from aurora_bluegreen.fleet import MAX_WAVES, approval_table

WAVE_APPROVAL = "approve_wave_{wave}"
CLUSTER_APPROVAL = "wave_{wave}.approve_cluster"
CUTOVER = "wave_{wave}.cutover"
MEMBERS = "wave_{wave}_members"


class _FleetTask(BaseOperator):
    template_fields: Sequence[str] = ("clusters", "wave_size")

    def __init__(self, *, clusters: Any, wave_size: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clusters = clusters
        self.wave_size = wave_size


class PlanFleetOperator(_FleetTask):
    """Check the whole fleet before anything changes; return its blues (for the hold) and waves."""

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.fleet import plan_waves

        waves = plan_waves(self.clusters, self.wave_size)
        for number, wave in enumerate(waves, start=1):
            self.log.info(
                "Wave %d: %s", number, ", ".join(f"{m.blue_cluster_id} -> {m.green_cluster_id}" for m in wave)
            )
        return {
            "blue_cluster_ids": [member.blue_cluster_id for wave in waves for member in wave],
            "waves": len(waves),
        }


class FleetWaveOperator(_FleetTask):
    """One wave's members, as the keywords its mapped task group expands over (empty: no wave)."""

    def __init__(self, *, wave: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wave = wave

    def execute(self, context: Any) -> list[dict[str, str]]:
        from aurora_bluegreen.fleet import wave_members

        members = wave_members(self.clusters, self.wave_size, self.wave)
        self.log.info("Wave %d deploys %d cluster(s)", self.wave, len(members))
        return members


class FleetSummaryOperator(_FleetTask):
    """Each cluster's state, freeze, missing events and rollback; fails if any cutover failed."""

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from aurora_bluegreen.fleet import fleet_problem, outcome, plan_waves, summary_table

        ti = context["ti"]
        outcomes = []
        for number, wave in enumerate(plan_waves(self.clusters, self.wave_size), start=1):
            wave_answer = ti.xcom_pull(task_ids=WAVE_APPROVAL.format(wave=number)) or {}
            for index, member in enumerate(wave):
                cluster_answer = self._one(ti, CLUSTER_APPROVAL.format(wave=number), index) or {}
                rejected = "Reject" in (wave_answer.get("chosen_options") or []) + (
                    cluster_answer.get("chosen_options") or []
                )
                report = self._one(ti, CUTOVER.format(wave=number), index)
                failure = self._one(ti, CUTOVER.format(wave=number), index, key="failure")
                outcomes.append(outcome(number, member, report, failure, rejected))
        self.log.info("Fleet of %d cluster(s):\n%s", len(outcomes), summary_table(outcomes))
        result = [item.to_dict() for item in outcomes]
        problem = fleet_problem(outcomes)
        if problem:
            ti.xcom_push(key="return_value", value=result)
            raise AirflowFailException(problem)
        return result

    @staticmethod
    def _one(ti: Any, task_id: str, map_index: int, key: str = "return_value") -> Any:
        return ti.xcom_pull(task_ids=task_id, map_indexes=map_index, key=key)


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


class AskedApprovalOperator(ApprovalOperator):
    """An approval that asks only when ``asked`` renders true, and skips itself otherwise.

    Skipping itself rather than being skipped by a short-circuit upstream: inside a mapped task
    group a short-circuit does not skip the mapped tasks after it (seen on Airflow 3.3: the
    per-cluster approvals were asked anyway).
    """

    template_fields: Sequence[str] = (*ApprovalOperator.template_fields, "asked")

    def __init__(self, *, asked: str | bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked = asked

    def execute(self, context: Any) -> Any:
        if not self.asked:
            raise AirflowSkipException(
                "this fleet's approval is asked the other way (per wave or per cluster)"
            )
        return super().execute(context)
