"""Binlog replication from blue to green, starting exactly where the clone's data ends."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from aurora_bluegreen import validation
from aurora_bluegreen.cluster_access import ClusterAccess
from aurora_bluegreen.errors import CloneCoordinatesMissing, ReplicationBroken, WaitTimedOut
from aurora_bluegreen.models import ReplicationSummary


class StartBinlogReplicationOperator(BaseOperator):
    """Make green a read-only replica of blue, from the clone's exact binlog coordinates.

    Steps, each logged: binlog retention on blue; a replication user on blue with REPLICATION SLAVE
    only (its name and password come from ``replication_conn_id``); green read-only; the external
    source on green; start; both replication threads confirmed running.

    Idempotent: a retry that finds green already replicating from blue leaves it alone, and an
    existing replication user is reused only if it holds nothing but REPLICATION SLAVE.

    :return: ``ReplicationSummary`` as a dict.
    """

    template_fields: Sequence[str] = (
        "blue_cluster_id",
        "green_cluster_id",
        "binlog_retention_hours",
        "control_plane_conn_id",
        "admin_conn_id",
        "replication_conn_id",
    )
    ui_color = "#fff2cc"

    def __init__(
        self,
        *,
        blue_cluster_id: str,
        green_cluster_id: str,
        control_plane_conn_id: str,
        admin_conn_id: str,
        replication_conn_id: str,
        binlog_retention_hours: int = 24,
        use_gtid: bool | None = None,
        ssl: bool = False,
        start_timeout: float = 60,
        dialect: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.blue_cluster_id = blue_cluster_id
        self.green_cluster_id = green_cluster_id
        self.control_plane_conn_id = control_plane_conn_id
        self.admin_conn_id = admin_conn_id
        self.replication_conn_id = replication_conn_id
        self.binlog_retention_hours = binlog_retention_hours
        self.use_gtid = use_gtid
        self.ssl = ssl
        self.start_timeout = start_timeout
        self.dialect = dialect

    def execute(self, context: Any) -> dict[str, Any]:
        replication = self._check_inputs()
        user = replication.user

        access = ClusterAccess(self.control_plane_conn_id, self.admin_conn_id, self.dialect)
        blue_info = access.backend.describe(self.blue_cluster_id)
        coordinates = access.backend.clone_coordinates(self.green_cluster_id)
        if coordinates is None:
            raise CloneCoordinatesMissing(
                f"{self.green_cluster_id} has no known clone coordinates; "
                "was it made by CloneClusterOperator?"
            )
        blue = access.sql(self.blue_cluster_id)
        green = access.sql(self.green_cluster_id)

        started = time.monotonic()
        previous_retention = blue.binlog_retention_hours()
        blue.set_binlog_retention_hours(self.binlog_retention_hours)
        self._step(
            started,
            "Set binlog retention on %s to %sh (was %s)",
            self.blue_cluster_id,
            self.binlog_retention_hours,
            previous_retention,
        )

        started = time.monotonic()
        created = blue.ensure_replication_user(user, replication.password)
        self._step(
            started,
            "%s replication user %s on %s with REPLICATION SLAVE only",
            "Created" if created else "Reused",
            user,
            self.blue_cluster_id,
        )

        started = time.monotonic()
        access.read_only_switch(self.green_cluster_id, green).set_read_only(True)
        self._step(started, "Green %s is read-only", self.green_cluster_id)

        use_gtid = self._decide_gtid(blue, coordinates)
        status = green.replica_status()
        if (
            status is not None
            and status.replicates_from(blue_info.endpoint, blue_info.port)
            and status.is_running
        ):
            self.log.info(
                "Green %s already replicates from %s:%s (%s); leaving it as it is",
                self.green_cluster_id,
                status.source_host,
                status.source_port,
                status.summary(),
            )
        else:
            started = time.monotonic()
            if status is not None:
                green.stop_replication()
                green.reset_external_source()
            green.set_external_source(
                blue_info.endpoint,
                blue_info.port,
                user,
                replication.password,
                None if use_gtid else coordinates.position,
                gtid=use_gtid,
                ssl=self.ssl,
            )
            green.start_replication()
            self._step(
                started,
                "Started replication on %s from %s:%s at %s",
                self.green_cluster_id,
                blue_info.endpoint,
                blue_info.port,
                "GTID auto-position" if use_gtid else coordinates.position,
            )
        self._confirm_running(green)
        return ReplicationSummary(
            green_cluster_id=self.green_cluster_id,
            source_host=blue_info.endpoint,
            source_port=blue_info.port,
            start_position=None if use_gtid else coordinates.position,
            start_gtid_set=coordinates.gtid_set if use_gtid else None,
            replication_user=user,
            binlog_retention_hours=self.binlog_retention_hours,
            previous_binlog_retention_hours=previous_retention,
            dialect=green.dialect.value,
        ).to_dict()

    def _decide_gtid(self, blue: Any, coordinates: Any) -> bool:
        if self.use_gtid is not None:
            if self.use_gtid and not coordinates.gtid_set:
                raise ValueError("use_gtid=True but the clone has no GTID set")
            return self.use_gtid
        # File/position is exact for every clone; GTID is only used where blue runs gtid_mode=ON.
        return bool(blue.binlog_settings().gtid_mode and coordinates.gtid_set) or coordinates.position is None

    def _confirm_running(self, green: Any) -> None:
        started = time.monotonic()
        deadline = started + self.start_timeout
        while True:
            status = green.replica_status()
            if status is not None and status.error:
                raise ReplicationBroken(f"replication on {self.green_cluster_id} failed: {status.error}")
            if status is not None and status.is_running:
                self._step(
                    started, "Both replication threads run on %s: %s", self.green_cluster_id, status.summary()
                )
                return
            if time.monotonic() > deadline:
                raise WaitTimedOut(
                    f"replication threads on {self.green_cluster_id} not running after "
                    f"{self.start_timeout}s: {status.summary() if status else 'not configured'}"
                )
            time.sleep(0.2)

    def _check_inputs(self) -> validation.ReplicationCredentials:
        """Everything that can be refused before any change; returns the replication credentials."""
        validation.blue_and_green(self.blue_cluster_id, self.green_cluster_id)
        validation.retention_hours("binlog_retention_hours", self.binlog_retention_hours)
        return validation.replication_credentials(self.replication_conn_id)

    def _step(self, started: float, message: str, *args: Any) -> None:
        self.log.info(message + " in %.2fs", *args, time.monotonic() - started)
