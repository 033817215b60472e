"""The master user's password, where RDS manages it in Secrets Manager instead of the connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from aurora_bluegreen.control_plane.protocol import ClusterBackend


def with_master_user_secret(conn: Connection, backend: Callable[[], ClusterBackend]) -> Connection:
    """The master user's connection with the password RDS manages, when its extra names that secret.

    ``backend`` is called only then; the triggers pass one built from a connection they fetched
    asynchronously.
    """
    secret_arn = conn.extra_dejson.get("master_user_secret_arn")
    if not secret_arn:
        return conn
    source = conn.extra_dejson.get("master_user_secret_cluster")
    if not source:
        raise ValueError(
            f"connection {conn.conn_id!r}: master_user_secret_arn needs master_user_secret_cluster "
            "(the id of the blue cluster whose RDS-managed secret it is) in the extra"
        )
    login, password = backend().master_user_credentials(source, secret_arn)
    return attrs.evolve(conn, login=login, password=password)
