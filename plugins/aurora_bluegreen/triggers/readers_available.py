"""Wait, in the triggerer, until green's reader instances are available, one fails, or time is up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.triggers.base import BaseTrigger, TriggerEvent

from aurora_bluegreen.control_plane.aws_calls import aws_call
from aurora_bluegreen.readers import readers_verdict


class ReadersAvailableTrigger(BaseTrigger):
    """Poll the readers' states from the triggerer until all are available, one fails, or time is up.

    boto3 blocks, so each poll runs in a thread and the triggerer's shared event loop stays free
    (the amazon provider's own waiter triggers would need aiobotocore).
    """

    def __init__(
        self,
        instance_ids: list[str],
        waiter_delay: int,
        waiter_max_attempts: int,
        aws_conn_id: str | None,
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__()
        self.instance_ids = list(instance_ids)
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self._hook: RdsHook | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "instance_ids": self.instance_ids,
                "waiter_delay": self.waiter_delay,
                "waiter_max_attempts": self.waiter_max_attempts,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        message = "no poll made"
        for attempt in range(1, self.waiter_max_attempts + 1):
            verdict, message = readers_verdict(await asyncio.to_thread(self.statuses))
            self.log.info("Attempt %d/%d: %s", attempt, self.waiter_max_attempts, message)
            if verdict != "waiting":
                yield TriggerEvent(
                    {"status": "success" if verdict == "ready" else "error", "message": message}
                )
                return
            await asyncio.sleep(self.waiter_delay)
        yield TriggerEvent(
            {"status": "error", "message": f"not ready after {self.waiter_max_attempts} polls: {message}"}
        )

    def statuses(self) -> dict[str, str]:
        """Each reader's RDS state; ``missing`` for one that no longer exists."""
        if self._hook is None:
            self._hook = RdsHook(
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                config=self.botocore_config,
            )
        found = {
            instance["DBInstanceIdentifier"]: instance["DBInstanceStatus"]
            for instance in aws_call(
                self._hook.conn,
                "describe_db_instances",
                Filters=[{"Name": "db-instance-id", "Values": self.instance_ids}],
            )["DBInstances"]
        }
        return {instance_id: found.get(instance_id, "missing") for instance_id in self.instance_ids}
