"""Wait, in the triggerer, until a clone is available and its binlog coordinates are known."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from airflow.triggers.base import TriggerEvent

from aurora_bluegreen.triggers.cluster_poll import ClusterPollTrigger


class CloneReadyTrigger(ClusterPollTrigger):
    async def run(self) -> AsyncIterator[TriggerEvent]:
        from aurora_bluegreen.control_plane.clone_progress import clone_progress

        backend = await self.backend()
        deadline = time.monotonic() + self.timeout
        while True:
            progress = await asyncio.to_thread(clone_progress, backend, self.cluster_id)
            self.log.info("%s", progress.summary())
            if progress.ready:
                yield TriggerEvent({"status": "ready", "cluster_id": self.cluster_id})
                return
            if progress.dead_end or time.monotonic() > deadline:
                yield TriggerEvent(
                    {
                        "status": "error",
                        "cluster_id": self.cluster_id,
                        "message": f"{progress.summary()} after {self.timeout}s",
                    }
                )
                return
            await asyncio.sleep(self.poll_interval)
