"""Wait, in the triggerer, until green runs its target engine version, or the upgrade failed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class EngineUpgradeTrigger(BaseTrigger):
    def __init__(
        self,
        control_plane_conn_id: str,
        cluster_id: str,
        target: str,
        since: str,
        poll_interval: float,
        timeout: float,
    ) -> None:
        super().__init__()
        self.control_plane_conn_id = control_plane_conn_id
        self.cluster_id = cluster_id
        self.target = target
        self.since = since
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "control_plane_conn_id": self.control_plane_conn_id,
                "cluster_id": self.cluster_id,
                "target": self.target,
                "since": self.since,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        from aurora_bluegreen.control_plane.factory import backend_for_connection
        from aurora_bluegreen.green_upgrade import upgrade_progress

        # boto3 calls block: they run in a thread so the shared event loop stays free.
        conn = await BaseHook.aget_connection(self.control_plane_conn_id)
        backend = await asyncio.to_thread(backend_for_connection, conn)
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
