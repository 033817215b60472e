"""What the green-testing, QA and teardown operators share: how they reach clusters, and which ones."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from aurora_bluegreen import validation
from aurora_bluegreen.cluster_access import ClusterAccess


class ClusterTask(BaseOperator):
    """An operator that finds clusters through the control plane and talks SQL as blue's master user.

    :param control_plane_conn_id: an ``aws`` or ``aurora_sandbox`` connection.
    :param admin_conn_id: a MySQL connection with blue's master user (clones carry it).
    :param dialect: aurora2, aurora3, mysql or mariadb; detected when not given.
    """

    template_fields: Sequence[str] = ("control_plane_conn_id", "admin_conn_id")

    def __init__(
        self,
        *,
        control_plane_conn_id: str,
        admin_conn_id: str,
        dialect: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.control_plane_conn_id = control_plane_conn_id
        self.admin_conn_id = admin_conn_id
        self.dialect = dialect

    def _access(self) -> ClusterAccess:
        return ClusterAccess(self.control_plane_conn_id, self.admin_conn_id, self.dialect)


class BlueGreenTask(ClusterTask):
    """A ``ClusterTask`` about one deployment: blue and its green."""

    template_fields: Sequence[str] = ("blue_cluster_id", "green_cluster_id", *ClusterTask.template_fields)

    def __init__(self, *, blue_cluster_id: str, green_cluster_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blue_cluster_id = blue_cluster_id
        self.green_cluster_id = green_cluster_id

    def _check_pair(self) -> None:
        validation.blue_and_green(self.blue_cluster_id, self.green_cluster_id)
