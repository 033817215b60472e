"""Binlog replication from blue to green, starting exactly where the clone's data ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from aurora_bluegreen import validation
from aurora_bluegreen.errors import CloneCoordinatesMissing
from aurora_bluegreen.models import SourceEndpoint
from aurora_bluegreen.operators.cluster_task import BlueGreenTask
from aurora_bluegreen.parameter_groups import EngineVersion


class StartBinlogReplicationOperator(BlueGreenTask):
    """Make green a read-only replica of blue, from the clone's exact binlog coordinates.

    Runs ``replication_setup.ReplicationSetup`` (its docstring states the guarantee): binlog
    retention on blue, a replication user with REPLICATION SLAVE only (name and password from
    ``replication_conn_id``), green read-only, the external source on green, start, both threads
    confirmed. Idempotent.

    Before any of that it refuses a green that writes no binlogs: the cutover makes old blue
    replicate from green inside its write freeze, so this is the last task before the approval
    that talks to green anyway and the first moment green's real settings can be read.

    :return: ``ReplicationSummary`` as a dict.
    """

    green_must_write_binlogs: ClassVar[bool] = True
    """Green is cut over to later; a subclass for a copy nobody replicates from turns this off."""

    template_fields: Sequence[str] = (
        *BlueGreenTask.template_fields,
        "binlog_retention_hours",
        "replication_conn_id",
    )
    ui_color = "#fff2cc"

    def __init__(
        self,
        *,
        replication_conn_id: str,
        binlog_retention_hours: int = 24,
        use_gtid: bool | None = None,
        ssl: bool | None = None,
        start_timeout: float = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.replication_conn_id = replication_conn_id
        self.binlog_retention_hours = binlog_retention_hours
        self.use_gtid = use_gtid
        self.ssl = ssl
        self.start_timeout = start_timeout

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.replication_setup import ReplicationSetup

        replication = self._check_inputs()
        access = self._access()
        blue_info = access.backend.describe(self.blue_cluster_id)
        engine = EngineVersion.reported(blue_info.engine, blue_info.engine_version)
        validation.retention_hours("binlog_retention_hours", self.binlog_retention_hours, engine)
        coordinates = access.backend.clone_coordinates(self.green_cluster_id)
        if coordinates is None:
            raise CloneCoordinatesMissing(
                f"{self.green_cluster_id} has no known clone coordinates; "
                "was it made by CloneClusterOperator?"
            )
        green = access.sql(self.green_cluster_id, "green")
        green_info = access.backend.describe(self.green_cluster_id)
        setup = ReplicationSetup(
            blue_cluster_id=self.blue_cluster_id,
            green_cluster_id=self.green_cluster_id,
            blue=access.sql(self.blue_cluster_id, "blue"),
            green=green,
            green_read_only=access.read_only_switch(self.green_cluster_id, green),
            source=SourceEndpoint(blue_info.endpoint, blue_info.port, replication.user, replication.password),
            coordinates=coordinates,
            retention_hours=int(self.binlog_retention_hours),
            use_gtid=self.use_gtid,
            ssl=self.ssl,
            start_timeout=self.start_timeout,
            require_green_binlogs=self.green_must_write_binlogs,
            green_parameter_group=green_info.cluster_parameter_group,
        )
        return setup.run().to_dict()

    def _check_inputs(self) -> validation.ReplicationCredentials:
        """Everything that can be refused before any change; returns the replication credentials."""
        self._check_pair()
        validation.retention_hours("binlog_retention_hours", self.binlog_retention_hours)
        return validation.replication_credentials(self.replication_conn_id)
