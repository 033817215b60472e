"""Helpers the test folders share: Airflow connections to the sandbox, the application's writes,
one-value queries and the repository's DAG files loaded as Airflow's dag-processor would.

Importable as ``helpers`` from every test folder: pytest puts ``tests/`` on ``sys.path`` when it
loads ``tests/conftest.py`` (``rootdir`` conftest, prepend import mode), as for ``local_smtp``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pymysql

from aurora_bluegreen import dialects, server_answers
from aurora_bluegreen.models import ReplicaStatus
from aurora_bluegreen.sandbox.demo_schema import INSERT_ORDER
from aurora_bluegreen.sandbox.server import BINLOG_BASENAME

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
DEPLOYMENT_DAG_FILE = DAGS_DIR / "aurora_bluegreen_deployment.py"

Connect = Callable[..., pymysql.connections.Connection]
Fields = dict[str, Any]


# -- Airflow connections ------------------------------------------------------------------------


def sandbox_connection(state_dir: str | Path) -> Fields:
    """The control plane connection to the sandbox in ``state_dir``."""
    return {"conn_type": "aurora_sandbox", "extra": {"state_dir": str(state_dir)}}


def mysql_connection(login: str, password: str, **fields: Any) -> Fields:
    return {"conn_type": "mysql", "login": login, "password": password, **fields}


def sandbox_connections(
    sandbox: Any,
    *,
    control_plane: str | None = None,
    admin: str | None = None,
    replication: tuple[str, str, str] | None = None,
) -> dict[str, Fields]:
    """Connection id -> fields for what a deployment on ``sandbox`` uses, under the ids given.

    ``control_plane``: the sandbox's ``aurora_sandbox`` connection; ``admin``: a MySQL connection
    with the sandbox's master user; ``replication``: ``(conn_id, login, password)`` of the
    replication user the deployment creates. The fields are ``AIRFLOW_CONN_*`` JSON (see the
    ``set_connections`` fixture) and what ``AirflowRestClient.upsert_connections`` takes.
    """
    connections: dict[str, Fields] = {}
    if control_plane:
        connections[control_plane] = sandbox_connection(sandbox.state_dir)
    if admin:
        credentials = sandbox.credentials
        connections[admin] = mysql_connection(credentials.admin_user, credentials.admin_password)
    if replication:
        conn_id, login, password = replication
        connections[conn_id] = mysql_connection(login, password)
    return connections


# -- the application's data -----------------------------------------------------------------------


def replicating_pair(
    sandbox: Any,
    replication: Any,
    ids: dict[str, str],
    planes: dict[str, str],
    replication_conn_id: str,
    aurora_version: str | None = None,
) -> None:
    """A fresh blue (``ids["blue"]``) with the application's endpoint (``ids["endpoint"]``) on it,
    and green (``ids["green"]``) cloned and replicating from it, caught up: made by the operators."""
    from aurora_bluegreen.operators.clone import CloneClusterOperator
    from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator

    sandbox.create_blue(ids["blue"], aurora_version=aurora_version)
    sandbox.point_endpoint(ids["endpoint"], ids["blue"])
    CloneClusterOperator(
        task_id="clone",
        source_cluster_id=ids["blue"],
        cluster_id=ids["green"],
        writer_instance_id="w",
        control_plane_conn_id=planes["control_plane_conn_id"],
    ).execute({})
    StartBinlogReplicationOperator(
        task_id="replicate",
        blue_cluster_id=ids["blue"],
        green_cluster_id=ids["green"],
        replication_conn_id=replication_conn_id,
        **planes,
    ).execute({})
    replication.wait_caught_up(ids["green"], source_id=ids["blue"])


def logs_holding(sandbox: Any, cluster_id: str, texts: Sequence[str]) -> list[str]:
    """The binary and relay log files (and their indexes) of the cluster's server that hold any of
    ``texts`` as bytes: read from disk, so every file counts, whatever SHOW ... EVENTS shows."""
    datadir = Path(sandbox.record(cluster_id).datadir)
    wanted = [text.encode() for text in texts]
    holding = []
    for path in sorted(datadir.rglob("*")):
        if path.is_file() and path.name.startswith((BINLOG_BASENAME, "relay-bin")):
            data = path.read_bytes()
            holding += [f"{cluster_id}/{path.name}" for text in wanted if text in data]
    return holding


def write_orders(connect: Connect, cluster_id: str, request_ids: str | Sequence[str]) -> None:
    """Insert one order per request id on ``cluster_id`` with the application's statement and user.

    Customer 1 buys one of product 1 for 100 cents: the values are not what the tests look at.
    """
    if isinstance(request_ids, str):
        request_ids = [request_ids]
    with connect(cluster_id, "app", "shop") as app, app.cursor() as cursor:
        for request_id in request_ids:
            cursor.execute(INSERT_ORDER, (request_id, 1, 1, 1, 100))
        app.commit()


def scalar(connection: pymysql.connections.Connection, sql: str, args: Any = None) -> Any:
    """The first column of the first row ``sql`` returns."""
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return cursor.fetchone()[0]


# -- the DAG files -----------------------------------------------------------------------------------


def load_dag_module(path: Path, module_name: str) -> ModuleType:
    """Execute a DAG file as a module of its own (a new name runs the file again)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_dag(path: Path, module_name: str) -> Any:
    """The ``dag`` a DAG file defines."""
    return load_dag_module(path, module_name).dag


# -- what a sandbox server says, in either engine's words -----------------------------------------


def server_version(cursor: Any) -> dialects.ServerVersion:
    cursor.execute(dialects.VERSION.sql)
    return dialects.ServerVersion(*cursor.fetchone())


def replica_status_on(connection: pymysql.connections.Connection) -> ReplicaStatus | None:
    """``SHOW REPLICA STATUS`` (or ``SLAVE``, as the server speaks) on ``connection``, normalised."""
    with connection.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute(dialects.VERSION.sql)
        version = dialects.ServerVersion(*cursor.fetchone().values())
        cursor.execute(dialects.show_replica_status(version).sql)
        return server_answers.replica_status_from_rows(cursor.fetchall())


def replica_status(sandbox: Any, cluster_id: str) -> ReplicaStatus | None:
    """A sandbox cluster's replica status, read as root."""
    with sandbox.connect(cluster_id) as root:
        return replica_status_on(root)


def source_position_on(connection: pymysql.connections.Connection) -> tuple[str, int]:
    """Where the server's binlog ends: ``SHOW MASTER STATUS`` or ``SHOW BINARY LOG STATUS``."""
    with connection.cursor() as cursor:
        cursor.execute(dialects.show_source_status(server_version(cursor)).sql)
        file, position, *_ = cursor.fetchone()
    return file, int(position)
