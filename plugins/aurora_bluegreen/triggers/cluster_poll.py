"""What the triggers that watch one cluster through its control plane share: their fields, how they
serialize, and a backend built off the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from airflow.triggers.base import BaseTrigger


class ClusterPollTrigger(BaseTrigger):
    extra_fields: tuple[str, ...] = ()
    """A subclass's own constructor arguments, serialized with the common ones."""

    def __init__(
        self, control_plane_conn_id: str, cluster_id: str, poll_interval: float, timeout: float
    ) -> None:
        super().__init__()
        self.control_plane_conn_id = control_plane_conn_id
        self.cluster_id = cluster_id
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        names = ("control_plane_conn_id", "cluster_id", *self.extra_fields, "poll_interval", "timeout")
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            name: getattr(self, name) for name in names
        }

    async def backend(self) -> Any:
        """The cluster's control plane. boto3 and subprocess calls block: they run in a thread, so
        the triggerer's shared event loop stays free."""
        from airflow.sdk import BaseHook

        from aurora_bluegreen.control_plane.factory import backend_for_connection

        conn = await BaseHook.aget_connection(self.control_plane_conn_id)
        return await asyncio.to_thread(backend_for_connection, conn)
