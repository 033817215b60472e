"""Reader instances for green before the cutover, spread across the subnet group's Availability Zones.

The blog's best practice for production traffic: green starts with a single writer, which is enough
for testing, and gets readers in other zones before it takes over from blue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.rds import RdsHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.triggers.base import BaseTrigger, TriggerEvent

from aurora_bluegreen import validation
from aurora_bluegreen.control_plane.aurora import AuroraBackend
from aurora_bluegreen.control_plane.aws_calls import aws_call, skip_unless_aws
from aurora_bluegreen.errors import ClusterStateError, NotManagedByUs
from aurora_bluegreen.links import AuroraClusterLink
from aurora_bluegreen.models import InstanceInfo
from aurora_bluegreen.ownership import MANAGED_BY_TAG, MANAGED_BY_VALUE, SOURCE_CLUSTER_TAG

MAX_READERS = 15
"""Aurora's limit of replicas per cluster."""
_BROKEN_STATUSES = ("failed", "incompatible-", "inaccessible-encryption-credentials", "deleting", "missing")


@dataclass(frozen=True)
class ReaderPlacement:
    instance_id: str
    zone: str | None
    exists: bool


def reader_ids(cluster_id: str, count: int) -> list[str]:
    """``<cluster>-reader-<n>``, with the cluster id shortened where needed to fit RDS's 63 characters."""
    ids = []
    for n in range(1, count + 1):
        suffix = f"-reader-{n}"
        ids.append(cluster_id[: 63 - len(suffix)].rstrip("-") + suffix)
    return ids


def place_readers(
    cluster_id: str,
    ids: Sequence[str],
    zones: Sequence[str],
    instances: Sequence[InstanceInfo],
    existing: Mapping[str, InstanceInfo],
) -> list[ReaderPlacement]:
    """Where each reader goes: an existing one of ours stays; a new one goes to the zone that holds
    the fewest of the cluster's instances, the writer included, so the first reader never shares
    the writer's zone while another zone is free.

    ``instances`` are the cluster's instances now; ``existing`` holds those of ``ids`` that exist
    anywhere in the region.
    """
    if not zones:
        raise ValueError(f"the DB subnet group of {cluster_id} covers no Availability Zone")
    load = {zone: 0 for zone in zones}
    for instance in instances:
        if instance.zone in load:
            load[instance.zone] += 1
    placements = []
    for instance_id in ids:
        found = existing.get(instance_id)
        if found is not None:
            if found.cluster_id != cluster_id or not found.is_managed:
                raise NotManagedByUs(
                    f"instance {instance_id} exists and is not a reader aurora-bluegreen added to "
                    f"{cluster_id}; delete or rename it, or ask for fewer readers"
                )
            placements.append(ReaderPlacement(instance_id, found.zone, exists=True))
            continue
        zone = min(zones, key=lambda candidate: (load[candidate], zones.index(candidate)))
        load[zone] += 1
        placements.append(ReaderPlacement(instance_id, zone, exists=False))
    return placements


def readers_verdict(statuses: Mapping[str, str]) -> tuple[str, str]:
    """``("ready"|"waiting"|"failed", message)`` for reader instances in the given states."""
    broken = {i: s for i, s in statuses.items() if s.startswith(_BROKEN_STATUSES)}
    if broken:
        return "failed", "readers that will not become available: " + ", ".join(
            f"{i} is {s}" for i, s in sorted(broken.items())
        )
    waiting = {i: s for i, s in statuses.items() if s != "available"}
    if waiting:
        return "waiting", "waiting for " + ", ".join(f"{i} ({s})" for i, s in sorted(waiting.items()))
    return "ready", f"{len(statuses)} reader(s) available: {', '.join(sorted(statuses))}"


class AuroraReadersOperator(AwsBaseOperator[RdsHook]):
    """Give green ``reader_count`` Aurora readers across its subnet group's zones, and wait for them.

    Idempotent: readers this tool added earlier are kept and counted; an instance with a reader's
    id that is not ours stops the task before anything is created. Readers carry green's tags.
    ``reader_count=0`` does nothing, and the task is skipped when the control plane is not AWS.

    :param cluster_id: green.
    :param reader_count: how many readers green should have (at most 15).
    :param instance_class: defaults to the class of green's writer.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param waiter_delay: seconds between polls.
    :param waiter_max_attempts: polls before giving up.
    :return: ``{"cluster_id": ..., "readers": [{"instance_id", "zone", "created"}]}``
    """

    aws_hook_class = RdsHook
    template_fields: Sequence[str] = aws_template_fields("cluster_id", "reader_count", "instance_class")
    operator_extra_links = (AuroraClusterLink(),)
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        cluster_id: str,
        reader_count: int,
        instance_class: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 30,
        waiter_max_attempts: int = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cluster_id = cluster_id
        self.reader_count = reader_count
        self.instance_class = instance_class
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Any) -> dict[str, Any]:
        count = self.reader_count
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_READERS:
            raise validation.InvalidInput("reader_count", count, f"a whole number from 0 to {MAX_READERS}")
        if count == 0:
            self.log.info("No readers asked for green %s", self.cluster_id)
            return {"cluster_id": self.cluster_id, "readers": []}
        skip_unless_aws(self.aws_conn_id, "Aurora reader instances")
        validation.cluster_identifier("cluster_id", self.cluster_id)

        backend = AuroraBackend(self.hook)
        green = backend.describe(self.cluster_id)
        if not green.is_managed:
            raise NotManagedByUs(f"{self.cluster_id} was not created by aurora-bluegreen; no readers added")
        instances = backend.instances(self.cluster_id)
        writer = next((instance for instance in instances if instance.is_writer), None)
        if writer is None:
            raise ClusterStateError(
                f"{self.cluster_id} has no writer yet; readers are added after the clone is ready"
            )
        ids = reader_ids(self.cluster_id, count)
        in_cluster = {instance.instance_id: instance for instance in instances}
        found = {
            instance_id: in_cluster.get(instance_id) or backend.find_instance(instance_id)
            for instance_id in ids
        }
        placements = place_readers(
            self.cluster_id,
            ids,
            backend.subnet_zones(self.cluster_id),
            instances,
            {instance_id: info for instance_id, info in found.items() if info is not None},
        )
        tags = self._tags(green.tags, context)
        instance_class = self.instance_class or writer.instance_class
        for placement in placements:
            if placement.exists:
                self.log.info("Reader %s exists already in %s", placement.instance_id, placement.zone)
                continue
            backend.add_reader(self.cluster_id, placement.instance_id, instance_class, placement.zone, tags)
            self.log.info(
                "Adding reader %s (%s) in %s", placement.instance_id, instance_class, placement.zone
            )
        AuroraClusterLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            cluster_id=self.cluster_id,
        )
        result = {
            "cluster_id": self.cluster_id,
            "readers": [
                {"instance_id": p.instance_id, "zone": p.zone, "created": not p.exists} for p in placements
            ],
        }
        if self.deferrable:
            self.defer(
                trigger=ReadersAvailableTrigger(
                    instance_ids=ids,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                kwargs={"result": result},
                timeout=timedelta(seconds=self.waiter_delay * (self.waiter_max_attempts + 1)),
            )
        for instance_id in ids:
            self.hook.wait_for_db_instance_state(
                instance_id,
                "available",
                check_interval=self.waiter_delay,
                max_attempts=self.waiter_max_attempts,
            )
        self.log.info("Green %s has %d reader(s) available", self.cluster_id, len(ids))
        return result

    def execute_complete(self, context: Any, event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") != "success":
            raise ClusterStateError(f"readers of {self.cluster_id}: {event.get('message')}")
        self.log.info("Green %s: %s", self.cluster_id, event["message"])
        return result

    def _tags(self, green_tags: Mapping[str, str], context: Any) -> dict[str, str]:
        tags = {key: green_tags[key] for key in ("role", SOURCE_CLUSTER_TAG, "dag-run") if key in green_tags}
        dag_run = context.get("dag_run")
        if dag_run is not None:
            tags["dag-run"] = str(dag_run.run_id)[:256]
        return {**tags, MANAGED_BY_TAG: MANAGED_BY_VALUE}


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
