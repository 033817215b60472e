"""Reader instances for green before the cutover, spread across the subnet group's Availability Zones.

The blog's best practice for production traffic: green starts with a single writer, which is enough
for testing, and gets readers in other zones before it takes over from blue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import conf

from aurora_bluegreen import validation
from aurora_bluegreen.errors import ClusterStateError
from aurora_bluegreen.links import AuroraClusterLink
from aurora_bluegreen.models import InstanceInfo
from aurora_bluegreen.operators.aws_base import LazyAwsOperator, aws_template_fields
from aurora_bluegreen.ownership import DAG_RUN_TAG, reader_tags, require_ours
from aurora_bluegreen.readers import MAX_READERS, ReaderPlacement, place_readers, reader_ids
from aurora_bluegreen.timing import logged_step


class AuroraReadersOperator(LazyAwsOperator):
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

    aws_hook_class_path = "airflow.providers.amazon.aws.hooks.rds.RdsHook"
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
        from aurora_bluegreen.control_plane.aurora import AuroraBackend
        from aurora_bluegreen.control_plane.aws_calls import skip_unless_aws

        skip_unless_aws(self.aws_conn_id, "Aurora reader instances")
        validation.cluster_identifier("cluster_id", self.cluster_id)

        backend = AuroraBackend(self.hook)
        green = backend.describe(self.cluster_id)
        require_ours(self.cluster_id, green.tags, "no readers are added to it")
        placements, writer = self._plan(backend, reader_ids(self.cluster_id, count))
        tags = {**reader_tags(green.tags), **self._run_tag(context)}
        instance_class = self.instance_class or writer.instance_class
        for placement in placements:
            if placement.exists:
                self.log.info("Reader %s exists already in %s", placement.instance_id, placement.zone)
                continue
            with logged_step(
                self.log, "Adding reader %s (%s) in %s", placement.instance_id, instance_class, placement.zone
            ):
                backend.add_reader(
                    self.cluster_id, placement.instance_id, instance_class, placement.zone, tags
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
        return self._wait([p.instance_id for p in placements], result)

    def _plan(self, backend: Any, ids: list[str]) -> tuple[list[ReaderPlacement], InstanceInfo]:
        """Where each reader goes, and green's writer (whose class new readers take by default)."""
        instances = backend.instances(self.cluster_id)
        writer = next((instance for instance in instances if instance.is_writer), None)
        if writer is None:
            raise ClusterStateError(
                f"{self.cluster_id} has no writer yet; readers are added after the clone is ready"
            )
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
        return placements, writer

    def _wait(self, ids: list[str], result: dict[str, Any]) -> dict[str, Any]:
        if self.deferrable:
            from aurora_bluegreen.triggers.readers_available import ReadersAvailableTrigger

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

    @staticmethod
    def _run_tag(context: Any) -> dict[str, str]:
        dag_run = context.get("dag_run")
        return {} if dag_run is None else {DAG_RUN_TAG: str(dag_run.run_id)[:256]}
