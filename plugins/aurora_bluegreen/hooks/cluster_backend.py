"""The control plane: one protocol, one implementation per place clusters live.

The backend is picked from the type of the Airflow connection an operator is given, so DAGs
run unchanged against the local sandbox and against AWS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from aurora_bluegreen.models import CloneCoordinates, CloneSpec, ClusterInfo

if TYPE_CHECKING:
    from airflow.sdk import Connection

SANDBOX_CONN_TYPE = "aurora_sandbox"


class ClusterBackend(Protocol):
    def clone(self, spec: CloneSpec) -> ClusterInfo:
        """Start a copy-on-write clone plus its writer; return the existing one if we made it already."""

    def describe(self, cluster_id: str) -> ClusterInfo:
        """Raise ClusterNotFound when there is no such cluster."""

    def find(self, cluster_id: str) -> ClusterInfo | None:
        """Like describe, but None when there is no such cluster."""

    def clone_coordinates(self, cluster_id: str) -> CloneCoordinates | None:
        """Blue's binlog position (and GTID set) that the clone's data ends at, once known."""

    def set_read_only(self, cluster_id: str, read_only: bool) -> None:
        """Persistently switch read_only for the cluster's writer."""

    def delete(self, cluster_id: str) -> None:
        """Delete a cluster we created; raise NotManagedByUs for any other."""

    def list_clusters(self, tags: Mapping[str, str]) -> list[ClusterInfo]:
        """Every cluster carrying all of ``tags`` (key and value), in any status, half-made ones too.

        This is how QA refreshes and teardowns find earlier work: by our tags, never by name.
        """

    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags on a cluster we created; raise NotManagedByUs for any other."""


def get_backend(conn_id: str) -> ClusterBackend:
    from airflow.sdk import BaseHook

    return backend_for_connection(BaseHook.get_connection(conn_id))


def backend_for_connection(conn: Connection) -> ClusterBackend:
    if conn.conn_type == SANDBOX_CONN_TYPE:
        from aurora_bluegreen.hooks.sandbox_backend import SandboxBackend

        return SandboxBackend.from_connection(conn)
    if conn.conn_type == "aws":
        from aurora_bluegreen.hooks.aurora_backend import AuroraBackend

        return AuroraBackend.from_connection(conn)
    raise ValueError(
        f"connection {conn.conn_id!r} has type {conn.conn_type!r}; the control plane supports "
        f"'aws' and {SANDBOX_CONN_TYPE!r} connections"
    )
