"""The fleet DAG's own tasks: the plan, one wave's members, the summary, and an approval that asks
only when the form chose its kind. Their wiring into waves is ``task_groups.fleet``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

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
