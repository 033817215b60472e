"""Upgrade green's engine between replication start and the approval; see ``green_upgrade``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.errors import ClusterStateError
from aurora_bluegreen.green_upgrade import (
    GreenUpgrade,
    UpgradeResult,
    UpgradeStart,
    engine_label,
    upgrade_failed,
    upgrade_progress,
)
from aurora_bluegreen.operators.cluster_task import BlueGreenTask
from aurora_bluegreen.timing import Stopwatch


class UpgradeGreenOperator(BlueGreenTask):
    """Upgrade green to ``target_engine_version`` while it replicates; empty: skipped, and said so.

    Refuses, before any change, a target the control plane does not list for green (and names the
    ones it does), and a green that is not replicating. The wait is deferrable: on AWS the task
    hands it to ``EngineUpgradeTrigger``; the sandbox's upgrade is done when it returns. Then
    replication is checked again from the exact position it had reached (``green_upgrade``).

    :return: ``UpgradeResult`` as a dict: blue's and green's engine versions, the seconds of each
        phase, green's replication position before and after.
    """

    template_fields: Sequence[str] = (*BlueGreenTask.template_fields, "target_engine_version")
    ui_color = "#f3e5f5"

    def __init__(
        self,
        *,
        target_engine_version: str | None,
        deferrable: bool = True,
        poll_interval: float = 30,
        wait_timeout: float = 4 * 3600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_engine_version = target_engine_version
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def execute(self, context: Any) -> dict[str, Any] | None:
        self._check_pair()
        if not self.target_engine_version:
            return self._skipped()
        target = validation.engine_version("target_engine_version", self.target_engine_version)
        watch = Stopwatch()
        upgrade = self._upgrade()
        start = upgrade.begin(target)
        if not self.deferrable:
            upgrade.wait_here(start, self.poll_interval, self.wait_timeout)
            return self._finish(upgrade, start, watch.seconds)
        done, _ = upgrade_progress(
            upgrade.backend, self.green_cluster_id, target, datetime.fromisoformat(start.started_at)
        )
        if done:
            return self._finish(upgrade, start, watch.seconds)
        from aurora_bluegreen.triggers.engine_upgrade import EngineUpgradeTrigger

        self.log.info("Green %s is upgrading to %s; waiting in the triggerer", self.green_cluster_id, target)
        self.defer(
            trigger=EngineUpgradeTrigger(
                self.control_plane_conn_id,
                self.green_cluster_id,
                target,
                start.started_at,
                self.poll_interval,
                self.wait_timeout,
            ),
            method_name="execute_complete",
            kwargs={"start": start.to_dict(), "seconds_before": watch.seconds},
            timeout=timedelta(seconds=self.wait_timeout + self.poll_interval * 2),
        )

    def execute_complete(
        self, context: Any, event: dict[str, Any], start: dict[str, Any], seconds_before: float
    ) -> dict[str, Any]:
        started = UpgradeStart.from_dict(start)
        if event.get("status") != "upgraded":
            raise ClusterStateError(
                upgrade_failed(self.green_cluster_id, started.target, event.get("message", "no reason given"))
            )
        started.seconds["wait"] = round(float(event.get("seconds", 0)), 3)
        return self._finish(self._upgrade(), started, seconds_before + started.seconds["wait"])

    def _finish(self, upgrade: GreenUpgrade, start: UpgradeStart, seconds: float) -> dict[str, Any]:
        result = upgrade.finish(start, seconds)
        self.log.info(
            "Upgraded green %s to %s in %.1fs (%s); blue %s stays on %s; replication resumed at %s, now %s",
            self.green_cluster_id,
            result.green_version,
            result.seconds["total"],
            ", ".join(f"{name} {took:.2f}s" for name, took in result.seconds.items() if name != "total"),
            self.blue_cluster_id,
            result.blue_version,
            result.position_before,
            result.position_after,
        )
        return result.to_dict()

    def _skipped(self) -> dict[str, Any]:
        blue, green = self._engine("blue", self.blue_cluster_id), self._engine("green", self.green_cluster_id)
        self.log.info(
            "No target_engine_version: green %s keeps its engine, %s (blue %s: %s)",
            self.green_cluster_id,
            green,
            self.blue_cluster_id,
            blue,
        )
        return UpgradeResult(
            self.green_cluster_id, self.blue_cluster_id, None, blue, green, green, skipped=True
        ).to_dict()

    def _engine(self, role: str, cluster_id: str) -> str:
        access = self._access()
        return engine_label(access.backend.describe(cluster_id), access.sql(cluster_id, role).server_version)

    def _upgrade(self) -> GreenUpgrade:
        from aurora_bluegreen.control_plane.protocol import EngineUpgrades

        access = self._access()
        if not isinstance(access.backend, EngineUpgrades):
            raise ClusterStateError(
                f"the control plane of {self.control_plane_conn_id!r} cannot upgrade engines"
            )
        return GreenUpgrade(
            self.blue_cluster_id,
            self.green_cluster_id,
            access.backend,
            green_sql=lambda: access.sql(self.green_cluster_id, "green"),
            blue_sql=lambda: access.sql(self.blue_cluster_id, "blue"),
        )
