"""Wait, in the triggerer, until green runs its target engine version, or the upgrade failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime

from airflow.triggers.base import TriggerEvent

from aurora_bluegreen.triggers.cluster_poll import ClusterPollTrigger


class EngineUpgradeTrigger(ClusterPollTrigger):
    extra_fields = ("target", "since")

    def __init__(
        self,
        control_plane_conn_id: str,
        cluster_id: str,
        target: str,
        since: str,
        poll_interval: float,
        timeout: float,
    ) -> None:
        super().__init__(control_plane_conn_id, cluster_id, poll_interval, timeout)
        self.target = target
        self.since = since

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from aurora_bluegreen.green_upgrade import upgrade_progress

        backend = await self.backend()
        since = datetime.fromisoformat(self.since)
        started = time.monotonic()
        while True:
            done, failure = await asyncio.to_thread(
                upgrade_progress, backend, self.cluster_id, self.target, since
            )
            waited = time.monotonic() - started
            self.log.info(
                "%s on %s: %s after %.0fs",
                self.cluster_id,
                self.target,
                "done" if done else failure or "upgrading",
                waited,
            )
            if done:
                yield TriggerEvent({"status": "upgraded", "cluster_id": self.cluster_id, "seconds": waited})
                return
            if failure or waited > self.timeout:
                message = failure or f"{self.cluster_id} is not on {self.target} after {self.timeout}s"
                yield TriggerEvent({"status": "error", "cluster_id": self.cluster_id, "message": message})
                return
            await asyncio.sleep(self.poll_interval)
