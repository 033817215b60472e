"""Poll green's replication status from the triggerer until it has caught up or broken."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class ReplicaLagTrigger(BaseTrigger):
    def __init__(
        self,
        admin_conn_id: str,
        host: str,
        port: int,
        max_lag_seconds: float,
        poll_interval: float,
        timeout: float,
        dialect: str | None = None,
        control_plane_conn_id: str | None = None,
        cluster: str | None = None,
        lag_log_seconds: float = 60.0,
    ) -> None:
        super().__init__()
        self.cluster = cluster
        """The replica's role and id (``green green-1``), named in its errors."""
        self.admin_conn_id = admin_conn_id
        self.host = host
        self.port = port
        self.max_lag_seconds = max_lag_seconds
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.dialect = dialect
        self.control_plane_conn_id = control_plane_conn_id
        self.lag_log_seconds = lag_log_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "admin_conn_id": self.admin_conn_id,
                "host": self.host,
                "port": self.port,
                "max_lag_seconds": self.max_lag_seconds,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
                "dialect": self.dialect,
                "control_plane_conn_id": self.control_plane_conn_id,
                "cluster": self.cluster,
                "lag_log_seconds": self.lag_log_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from airflow.sdk import BaseHook

        from aurora_bluegreen.catchup import LagLog, lag_verdict, observed
        from aurora_bluegreen.control_plane.factory import backend_for_connection
        from aurora_bluegreen.control_plane.master_user import with_master_user_secret
        from aurora_bluegreen.hooks.cluster_sql import ClusterSqlHook

        conn = await BaseHook.aget_connection(self.admin_conn_id)
        if self.control_plane_conn_id is not None:
            # The password may be one RDS manages in Secrets Manager: read it as the operators do.
            plane = await BaseHook.aget_connection(self.control_plane_conn_id)
            conn = await asyncio.to_thread(
                with_master_user_secret, conn, lambda: backend_for_connection(plane)
            )
        hook = ClusterSqlHook(
            self.admin_conn_id,
            host=self.host,
            port=self.port,
            dialect=self.dialect,
            connection=conn,
            cluster=self.cluster,
        )
        deadline = time.monotonic() + self.timeout
        lag_log = LagLog(self.lag_log_seconds)
        while True:
            # The driver blocks; a thread keeps the triggerer's shared event loop free.
            status = await asyncio.to_thread(hook.replica_status)
            verdict = lag_verdict(status, self.max_lag_seconds)
            if lag_log.wanted(verdict, time.monotonic()):
                self.log.info("Green %s:%s: %s", self.host, self.port, verdict.message)
            if verdict.is_final:
                yield TriggerEvent(
                    {
                        "status": verdict.state.value,
                        "message": verdict.message,
                        "replica": observed(status, datetime.now(timezone.utc)),
                    }
                )
                return
            if time.monotonic() > deadline:
                yield TriggerEvent(
                    {
                        "status": "timeout",
                        "message": f"still lagging after {self.timeout}s: {verdict.message}",
                        "replica": observed(status, datetime.now(timezone.utc)),
                    }
                )
                return
            await asyncio.sleep(self.poll_interval)
