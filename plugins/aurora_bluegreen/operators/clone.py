"""Copy-on-write clone of blue into green, with its single writer, tagged as ours."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator

from aurora_bluegreen import validation
from aurora_bluegreen.control_plane.clone_progress import clone_progress
from aurora_bluegreen.errors import ClusterStateError, WaitTimedOut
from aurora_bluegreen.links import AuroraClusterLink
from aurora_bluegreen.models import CloneResult, CloneSpec
from aurora_bluegreen.ownership import ownership_tags
from aurora_bluegreen.timing import Stopwatch


class CloneClusterOperator(BaseOperator):
    """Clone ``source_cluster_id`` into ``cluster_id`` and wait until it is usable.

    Idempotent: a retry finds the clone this tool made earlier (by id and tags) and returns it.
    The wait is deferrable, so no worker slot is held while the control plane works.

    :return: ``CloneResult`` as a dict: ids, endpoint, port and the binlog coordinates of the clone.
    """

    template_fields: Sequence[str] = (
        "source_cluster_id",
        "cluster_id",
        "writer_instance_id",
        "cluster_parameter_group",
        "instance_parameter_group",
        "vpc_security_group_ids",
        "db_subnet_group",
        "tags",
        "control_plane_conn_id",
    )
    ui_color = "#d6f5d6"
    operator_extra_links = (AuroraClusterLink(),)

    def __init__(
        self,
        *,
        source_cluster_id: str,
        cluster_id: str,
        writer_instance_id: str,
        control_plane_conn_id: str,
        role: str = "green",
        cluster_parameter_group: str | None = None,
        instance_parameter_group: str | None = None,
        vpc_security_group_ids: Sequence[str] | None = None,
        db_subnet_group: str | None = None,
        tags: dict[str, str] | None = None,
        read_only: bool = True,
        deferrable: bool = True,
        poll_interval: float = 5,
        wait_timeout: float = 3600,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_cluster_id = source_cluster_id
        self.cluster_id = cluster_id
        self.writer_instance_id = writer_instance_id
        self.control_plane_conn_id = control_plane_conn_id
        self.role = role
        self.cluster_parameter_group = cluster_parameter_group
        self.instance_parameter_group = instance_parameter_group
        self.vpc_security_group_ids = vpc_security_group_ids
        self.db_subnet_group = db_subnet_group
        self.tags = tags
        self.read_only = read_only
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.control_plane.factory import get_backend

        spec = self._spec(context)
        backend = get_backend(self.control_plane_conn_id)
        watch = Stopwatch()
        existing = backend.find(spec.cluster_id)
        info = backend.clone(spec)
        self.log.info(
            "%s clone %s of %s (writer %s): %s after %.2fs",
            "Found earlier" if existing else "Started",
            spec.cluster_id,
            spec.source_cluster_id,
            spec.writer_instance_id,
            info.status,
            watch.seconds,
        )
        self._reused = existing is not None
        if clone_progress(backend, spec.cluster_id).ready:
            return self._result(context, backend)
        if not self.deferrable:
            return self._wait_here(context, backend)
        from aurora_bluegreen.triggers.clone_ready import CloneReadyTrigger

        self.defer(
            trigger=CloneReadyTrigger(
                self.control_plane_conn_id, spec.cluster_id, self.poll_interval, self.wait_timeout
            ),
            method_name="execute_complete",
            kwargs={"reused": self._reused},
            timeout=timedelta(seconds=self.wait_timeout + self.poll_interval * 2),
        )

    def execute_complete(self, context: Any, event: dict[str, Any], reused: bool = False) -> dict[str, Any]:
        from aurora_bluegreen.control_plane.factory import get_backend

        if event.get("status") != "ready":
            raise ClusterStateError(event.get("message", f"clone {self.cluster_id} did not become ready"))
        self._reused = reused
        return self._result(context, get_backend(self.control_plane_conn_id))

    def _wait_here(self, context: Any, backend: Any) -> dict[str, Any]:
        watch = Stopwatch()
        while True:
            progress = clone_progress(backend, self.cluster_id)
            if progress.ready:
                return self._result(context, backend)
            if progress.dead_end or watch.seconds > self.wait_timeout:
                raise WaitTimedOut(f"{progress.summary()} after {self.wait_timeout}s")
            time.sleep(self.poll_interval)

    def _result(self, context: Any, backend: Any) -> dict[str, Any]:
        from aurora_bluegreen.control_plane.aurora import AuroraBackend

        if isinstance(backend, AuroraBackend):  # the sandbox has no console to link to
            AuroraClusterLink.persist(
                context=context,
                operator=self,
                region_name=backend.rds.region,
                aws_partition=backend.rds.hook.conn_partition,
                cluster_id=self.cluster_id,
            )
        info = backend.describe(self.cluster_id)
        coordinates = backend.clone_coordinates(self.cluster_id)
        result = CloneResult(
            cluster_id=info.cluster_id,
            writer_instance_id=info.writer_instance_id,
            endpoint=info.endpoint,
            port=info.port,
            coordinates=coordinates,
            reused=self._reused,
        )
        self.log.info(
            "Clone %s is available at %s:%s; its data ends at blue's %s (%s)",
            info.cluster_id,
            info.endpoint,
            info.port,
            coordinates.position or coordinates.gtid_set,
            coordinates.evidence,
        )
        return result.to_dict()

    def _spec(self, context: Any) -> CloneSpec:
        validation.blue_and_green(self.source_cluster_id, self.cluster_id, "source_cluster_id", "cluster_id")
        validation.cluster_identifier("writer_instance_id", self.writer_instance_id)
        for field in ("cluster_parameter_group", "instance_parameter_group"):
            if getattr(self, field):
                validation.parameter_group_name(field, getattr(self, field))
        dag_run = context.get("dag_run")
        run_id = None if dag_run is None else str(dag_run.run_id)
        tags = {**(self.tags or {}), **ownership_tags(self.role, self.source_cluster_id, run_id)}
        return CloneSpec(
            source_cluster_id=self.source_cluster_id,
            cluster_id=self.cluster_id,
            writer_instance_id=self.writer_instance_id,
            cluster_parameter_group=self.cluster_parameter_group or None,
            instance_parameter_group=self.instance_parameter_group or None,
            vpc_security_group_ids=tuple(self.vpc_security_group_ids or ()),
            db_subnet_group=self.db_subnet_group or None,
            tags=tags,
            read_only=self.read_only,
        )
