"""The clean way out of a deployment: what teardown needs recorded, and the teardown itself.

The domain (what is removed, in which order, and what is kept) is ``aurora_bluegreen.teardown``;
these operators check their inputs, assemble it and return what it did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.operators.cluster_task import BlueGreenTask
from aurora_bluegreen.ownership import RETENTION_TAG


class RecordTeardownFactsOperator(BlueGreenTask):
    """Before replication changes blue, note on green what teardown must put back (blue's binlog retention).

    Idempotent: a retry keeps the value recorded first.
    """

    ui_color = "#efefef"

    def execute(self, context: Any) -> dict[str, str]:
        from aurora_bluegreen.teardown import record_source_retention

        self._check_pair()
        value = record_source_retention(self._access(), self.blue_cluster_id, self.green_cluster_id)
        return {RETENTION_TAG: value}


class TeardownDeploymentOperator(BlueGreenTask):
    """Undo a deployment: green, the replication user, blue's binlog retention. Safe at any stage.

    What it does depends on what it finds (``aurora_bluegreen.teardown`` says what, for each case),
    and each step logs one line. Green must be ours (tags ``managed-by``, ``role=green``,
    ``source-cluster=<blue>``), else nothing is changed. After an approved cutover green is the
    writer: it is kept, and only the way back is closed. While another clone of ours still
    replicates from blue, blue's replication user and retention stay.

    :param writer_instance_id: green's writer as the user names it (the lag dashboard is named
        after it); refused if green exists with another writer.
    :return: what was done, step by step, as a dict.
    """

    template_fields: Sequence[str] = (
        *BlueGreenTask.template_fields,
        "writer_instance_id",
        "replication_conn_id",
    )
    ui_color = "#f4cccc"

    def __init__(
        self, *, replication_conn_id: str, writer_instance_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.replication_conn_id = replication_conn_id
        self.writer_instance_id = writer_instance_id

    def execute(self, context: Any) -> dict[str, Any]:
        from aurora_bluegreen.teardown import DeploymentTeardown

        teardown = DeploymentTeardown(
            access=self._access(),
            blue_cluster_id=self.blue_cluster_id,
            green_cluster_id=self.green_cluster_id,
            replication_user=self._check_inputs(),
            writer_instance_id=self.writer_instance_id,
        )
        return teardown.run()

    def _check_inputs(self) -> str:
        """Everything checked before anything changes; returns the replication user's name."""
        self._check_pair()
        if self.writer_instance_id is not None:
            validation.cluster_identifier("writer_instance_id", self.writer_instance_id)
        for field in ("control_plane_conn_id", "admin_conn_id"):
            validation.connection_exists(field, getattr(self, field))
        return validation.replication_credentials(self.replication_conn_id).user
