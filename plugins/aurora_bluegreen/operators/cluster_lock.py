"""The first and last task of every DAG that changes a blue cluster: hold it, then let it go.

See ``aurora_bluegreen.cluster_lock`` for the guarantee and why claims live in Airflow Variables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from aurora_bluegreen import validation
from aurora_bluegreen.cluster_lock import ClusterLock, RunRef
from aurora_bluegreen.errors import ClusterBusy
from aurora_bluegreen.timing import logged_step


class _VariableClaims:
    """Claims as Airflow Variables, reached through the API server from any worker."""

    def keys(self, prefix: str) -> Sequence[str]:
        from airflow.sdk import Variable

        return list(Variable.keys(prefix=prefix))

    def get(self, key: str) -> str | None:
        from airflow.sdk import Variable

        return Variable.get(key, default=None)

    def set(self, key: str, value: str) -> None:
        from airflow.sdk import Variable

        Variable.set(key, value, description="aurora-bluegreen: this run holds this blue cluster")

    def delete(self, key: str) -> None:
        from airflow.sdk import Variable

        Variable.delete(key)


class _BlueClustersTask(BaseOperator):
    template_fields: Sequence[str] = ("cluster_ids",)

    def __init__(self, *, cluster_ids: str | Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster_ids = cluster_ids

    def _ids(self) -> list[str]:
        ids = [self.cluster_ids] if isinstance(self.cluster_ids, str) else list(self.cluster_ids)
        for cluster_id in ids:
            validation.cluster_identifier("cluster_ids", cluster_id)
        return ids

    @staticmethod
    def _lock(context: Any) -> tuple[ClusterLock, RunRef]:
        ti = context["ti"]

        def is_active(run: RunRef) -> bool:
            from airflow.sdk.exceptions import AirflowRuntimeError

            from aurora_bluegreen.cluster_lock import ACTIVE_RUN_STATES

            try:
                return ti.get_dagrun_state(run.dag_id, run.run_id) in ACTIVE_RUN_STATES
            except AirflowRuntimeError as error:
                # A run deleted from Airflow holds nothing; any other error must not free a blue.
                if (error.error.detail or {}).get("status_code") == 404:
                    return False
                raise

        return ClusterLock(_VariableClaims(), is_active), RunRef(ti.dag_id, ti.run_id)


class HoldBlueClustersOperator(_BlueClustersTask):
    """Hold blue cluster(s) for this run, or fail at once naming the run that holds them.

    :param cluster_ids: one blue cluster id or a list (a fleet holds all of its blues, or none).
    """

    ui_color = "#fff2cc"

    def execute(self, context: Any) -> list[str]:
        ids = self._ids()
        lock, me = self._lock(context)
        try:
            with logged_step(self.log, "Held blue cluster(s) %s for %s", ", ".join(ids), me):
                lock.acquire(ids, me)
        except ClusterBusy as busy:
            raise AirflowFailException(str(busy)) from busy
        return ids


class ReleaseBlueClustersOperator(_BlueClustersTask):
    """Let blue cluster(s) go: the run's teardown task, so it runs whatever happened upstream."""

    ui_color = "#fff2cc"

    def execute(self, context: Any) -> None:
        ids = self._ids()
        lock, me = self._lock(context)
        with logged_step(self.log, "Released blue cluster(s) %s held by %s", ", ".join(ids), me):
            lock.release(ids, me)


def hold_for_the_run(cluster_ids: str | Sequence[str], first: Any, last: Any) -> tuple[Any, Any]:
    """Wire a DAG so its blue cluster(s) are held before ``first`` and released after ``last``.

    The release is an Airflow teardown of the hold (a setup): it runs however ``last`` ended, does
    not decide the run's state, and clearing any task in between clears the hold too, so a
    re-run holds the clusters again before it changes anything.
    """
    hold = HoldBlueClustersOperator(
        task_id="hold_blue",
        task_display_name="Hold blue (one run per blue)",
        cluster_ids=cluster_ids,
        retries=0,
    )
    release = ReleaseBlueClustersOperator(
        task_id="release_blue", task_display_name="Release blue", cluster_ids=cluster_ids
    )
    hold >> first
    last >> release
    release.as_teardown(setups=hold)
    return hold, release
