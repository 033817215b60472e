"""Wait, in the triggerer, until a clone is available and its binlog coordinates are known."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class CloneReadyTrigger(BaseTrigger):
    def __init__(
        self,
        control_plane_conn_id: str,
        cluster_id: str,
        poll_interval: float,
        timeout: float,
    ) -> None:
        super().__init__()
        self.control_plane_conn_id = control_plane_conn_id
        self.cluster_id = cluster_id
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "control_plane_conn_id": self.control_plane_conn_id,
                "cluster_id": self.cluster_id,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        from aurora_bluegreen.control_plane.clone_progress import clone_progress
        from aurora_bluegreen.control_plane.factory import backend_for_connection

        # boto3 and subprocess calls block: they run in a thread so the shared event loop stays free.
        conn = await BaseHook.aget_connection(self.control_plane_conn_id)
        backend = await asyncio.to_thread(backend_for_connection, conn)
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
