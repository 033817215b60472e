"""Wait until green has caught up with blue, and fail at once if replication breaks."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from aurora_bluegreen import validation
from aurora_bluegreen.errors import ClusterUnreachable
from aurora_bluegreen.operators.cluster_task import ClusterSensor


class ReplicaLagSensor(ClusterSensor):
    """Succeed when both replication threads run and ``Seconds_Behind`` <= ``max_lag_seconds``.

    The lag is logged on the first poll, on every change of state and once a minute between
    (``catchup.LagLog``), here and in the trigger. A stopped thread fails the task at once with the server's
    ``Last_*_Error`` text, without waiting out the timeout. The lag in seconds is what people read;
    the cutover itself checks exact binlog positions, never this number.

    :return: the last ``ReplicaStatus`` as a dict.
    """

    template_fields: Sequence[str] = (*ClusterSensor.template_fields, "green_cluster_id", "max_lag_seconds")
    ui_color = "#fce5cd"

    def __init__(
        self,
        *,
        green_cluster_id: str,
        max_lag_seconds: float = 5,
        deferrable: bool = True,
        lag_log_seconds: float = 60.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poke_interval", 2)
        kwargs.setdefault("timeout", 6 * 3600)
        super().__init__(**kwargs)
        self.lag_log_seconds = lag_log_seconds
        self.green_cluster_id = green_cluster_id
        self.max_lag_seconds = max_lag_seconds
        self.deferrable = deferrable

    def execute(self, context: Any) -> Any:
        validation.positive_number("max_lag_seconds", self.max_lag_seconds)
        done = self.poke(context)
        if done:
            return self._last_status
        if not self.deferrable:
            return super().execute(context)
        from aurora_bluegreen.triggers.replica_lag import ReplicaLagTrigger

        green = self._access().backend.describe(self.green_cluster_id)
        self.defer(
            trigger=ReplicaLagTrigger(
                admin_conn_id=self.admin_conn_id,
                host=green.endpoint,
                port=green.port,
                max_lag_seconds=self.max_lag_seconds,
                poll_interval=self.poke_interval,
                timeout=self.timeout,
                dialect=self.dialect,
                control_plane_conn_id=self.control_plane_conn_id,
                cluster=f"green {self.green_cluster_id}",
                lag_log_seconds=self.lag_log_seconds,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + 60),
        )

    def poke(self, context: Any) -> bool:
        from aurora_bluegreen.catchup import LagLog, LagState, lag_verdict, observed

        try:
            status = self._hook().replica_status()
        except Exception as error:
            raise ClusterUnreachable(
                f"cannot read replication status on green {self.green_cluster_id}: {error}"
            ) from None
        verdict = lag_verdict(status, self.max_lag_seconds)
        if not hasattr(self, "_lag_log"):
            self._lag_log = LagLog(self.lag_log_seconds)
        if self._lag_log.wanted(verdict, time.monotonic()):
            self.log.info("Green %s: %s", self.green_cluster_id, verdict.message)
        self._last_status = observed(status, datetime.now(timezone.utc))
        if verdict.state in (LagState.BROKEN, LagState.NOT_CONFIGURED):
            raise AirflowFailException(f"replication on {self.green_cluster_id} is broken: {verdict.message}")
        return verdict.state == LagState.CAUGHT_UP

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any] | None:
        if event["status"] != "caught_up":
            raise AirflowFailException(
                f"replication on {self.green_cluster_id} {event['status']}: {event['message']}"
            )
        self.log.info("Green %s caught up: %s", self.green_cluster_id, event["message"])
        return event["replica"]

    def _hook(self) -> Any:
        if not hasattr(self, "_green_hook"):
            self._green_hook = self._access().sql(self.green_cluster_id, "green")
        return self._green_hook
