"""The one base of every operator and sensor that reaches clusters: control plane for where, a
MySQL connection for who."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, BaseSensorOperator

from aurora_bluegreen import validation
from aurora_bluegreen.operators.cluster_access import ClusterAccess
from aurora_bluegreen.params import require_native_rendering


class _ReachesClusters:
    """Finds clusters through the control plane and talks SQL as blue's master user.

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
        self._cluster_access: ClusterAccess | None = None

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        require_native_rendering(self)
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]

    def _access(self) -> ClusterAccess:
        """One per task run: it caches the backend and the master user's connection."""
        if self._cluster_access is None:
            self._cluster_access = ClusterAccess(self.control_plane_conn_id, self.admin_conn_id, self.dialect)
        return self._cluster_access


class ClusterTask(_ReachesClusters, BaseOperator):
    """An operator that reaches clusters (see ``_ReachesClusters`` for its connection parameters)."""


class ClusterSensor(_ReachesClusters, BaseSensorOperator):
    """A sensor that reaches clusters (see ``_ReachesClusters`` for its connection parameters)."""


class BlueGreenTask(ClusterTask):
    """A ``ClusterTask`` about one deployment: blue and its green."""

    template_fields: Sequence[str] = ("blue_cluster_id", "green_cluster_id", *ClusterTask.template_fields)

    def __init__(self, *, blue_cluster_id: str, green_cluster_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.blue_cluster_id = blue_cluster_id
        self.green_cluster_id = green_cluster_id

    def _check_pair(self) -> None:
        validation.blue_and_green(self.blue_cluster_id, self.green_cluster_id)
