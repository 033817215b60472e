"""Which control plane serves a task: picked by the type of the Airflow connection it is given.

An ``aws`` connection means Aurora through RDS; an ``aurora_sandbox`` connection (a type this
provider registers) means the local sandbox. So one DAG runs unchanged against both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aurora_bluegreen.control_plane.aws_calls import AWS_CONN_TYPE

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from aurora_bluegreen.control_plane.protocol import ClusterBackend

SANDBOX_CONN_TYPE = "aurora_sandbox"


def get_backend(conn_id: str) -> ClusterBackend:
    from airflow.sdk import BaseHook

    return backend_for_connection(BaseHook.get_connection(conn_id))


def backend_for_connection(conn: Connection) -> ClusterBackend:
    if conn.conn_type == SANDBOX_CONN_TYPE:
        from aurora_bluegreen.control_plane.sandbox import SandboxBackend

        return SandboxBackend.from_connection(conn)
    if conn.conn_type == AWS_CONN_TYPE:
        from aurora_bluegreen.control_plane.aurora import AuroraBackend

        return AuroraBackend.from_connection(conn)
    raise ValueError(
        f"connection {conn.conn_id!r} has type {conn.conn_type!r}; the control plane supports "
        f"{AWS_CONN_TYPE!r} and {SANDBOX_CONN_TYPE!r} connections"
    )
