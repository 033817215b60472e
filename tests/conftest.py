"""Shared fixtures: one sandbox of real servers per engine and test session, and ways to talk to it.

Every test that uses the sandbox runs once per engine, MySQL 9.7 (Aurora's family, from a Debian
root) and MariaDB (the machine's own): ``[mysql]`` and ``[mariadb]`` in its id. Set
``AURORA_BLUEGREEN_TEST_ENGINES=mariadb`` (or ``mysql``) to run one engine only. Integration tests
are skipped, with the reason, only where the MariaDB programs are missing.
What is shared but no fixture (connection fields, the application's insert, ``scalar``, loading a
DAG file) is in ``helpers.py``, importable from every test folder.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pymysql
import pytest
from helpers import DEPLOYMENT_DAG_FILE, Connect, Fields, load_dag_module, replica_status, server_version

from aurora_bluegreen import dialects
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus
from aurora_bluegreen.sandbox import Credentials, Sandbox
from aurora_bluegreen.sandbox.engines import ENGINES
from aurora_bluegreen.sandbox.server import binaries_missing

# Every session logs in with passwords that break naive quoting and latin-1 encoding, so all
# integration tests exercise them end to end.
ADMIN_PASSWORD = "adm'in\"pass\\wörd-密"
APP_PASSWORD = "ap'p\"pass\\wörd-漢"
REPLICATION_USER = "repl_user"
REPLICATION_PASSWORD = "re'pl\"pass\\wörd-ü"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = binaries_missing()
    if not missing:
        return
    skip = pytest.mark.skip(
        reason=f"MariaDB programs not installed: {', '.join(missing)} "
        "(apt-get install -y mariadb-server mariadb-backup)"
    )
    for item in items:
        if "integration" in item.keywords or "sandbox" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


TEST_ENGINES = [
    engine
    for engine in os.environ.get("AURORA_BLUEGREEN_TEST_ENGINES", ",".join(ENGINES)).split(",")
    if engine.strip()
]


@pytest.fixture(scope="session", params=TEST_ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The sandbox's server engine for this run of the test: ``mysql`` or ``mariadb``."""
    return request.param


@pytest.fixture(scope="session")
def first_engine_only(engine: str) -> str:
    """For a costly test whose subject does not depend on the engine: the session's first only."""
    if engine != TEST_ENGINES[0]:
        pytest.skip(f"does not depend on the engine; runs on {TEST_ENGINES[0]} only")
    return engine


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory, engine: str) -> Iterator[Sandbox]:
    """A sandbox in a temporary state directory with blue up; torn down after the session."""
    sandbox = Sandbox(tmp_path_factory.mktemp(f"sandbox-{engine}"), engine=engine)
    started = time.monotonic()
    try:
        sandbox.create_blue(
            "blue", credentials=Credentials(admin_password=ADMIN_PASSWORD, app_password=APP_PASSWORD)
        )
        print(f"\n[timing] create_blue: {time.monotonic() - started:.2f}s")
        yield sandbox
    finally:
        sandbox.down()


@pytest.fixture
def connect(sandbox: Sandbox) -> Iterator[Connect]:
    """``connect(cluster_id, user="root"|"admin"|"app", database=None)``; closed after the test."""
    opened: list[pymysql.connections.Connection] = []

    def open_connection(
        cluster_id: str, user: str = "root", database: str | None = None
    ) -> pymysql.connections.Connection:
        connection = sandbox.connect(cluster_id, user, database)
        opened.append(connection)
        return connection

    yield open_connection
    for connection in opened:
        if connection.open:
            connection.close()


@pytest.fixture
def set_connections(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, Fields]], None]:
    """``set_connections({conn_id: fields})``: Airflow connections as ``AIRFLOW_CONN_*`` variables.

    Hooks resolve them exactly as in Airflow; the variables are removed after the test.
    """

    def set_all(connections: dict[str, Fields]) -> None:
        for conn_id, fields in connections.items():
            monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))

    return set_all


@pytest.fixture(scope="module")
def deployment_dag_module() -> ModuleType:
    """``dags/aurora_bluegreen_deployment.py``, executed as a module of its own for each test file.

    Not shared across files: resolving a form value (``dag.params.get_param(name).resolve(value)``)
    changes the DAG's Param, and one file's values must not become another's defaults.
    """
    return load_dag_module(DEPLOYMENT_DAG_FILE, "deployment_dag")


@pytest.fixture(scope="module")
def deployment_dag(deployment_dag_module: ModuleType) -> Any:
    """The deployment DAG, as the dag-processor gets it from the file."""
    return deployment_dag_module.dag


class Replication:
    """Binlog replication between sandbox clusters, driven as Aurora's master user would."""

    def __init__(self, sandbox: Sandbox, user: str, password: str) -> None:
        self.sandbox = sandbox
        self.user = user
        self.password = password

    def admin(self, cluster_id: str) -> pymysql.connections.Connection:
        return self.sandbox.connect(cluster_id, "admin")

    def start(self, replica_id: str, position: BinlogPosition | None = None, source_id: str = "blue") -> None:
        """Replicate from ``position`` on the source, or by GTID auto-position when it is None."""
        source = self.sandbox.describe(source_id)
        with self.admin(replica_id) as admin, admin.cursor() as cursor:
            if position is None:
                cursor.execute(
                    "CALL mysql.rds_set_external_source_with_auto_position(%s, %s, %s, %s, %s)",
                    (source.endpoint, source.port, self.user, self.password, 0),
                )
            else:
                cursor.execute(
                    "CALL mysql.rds_set_external_source(%s, %s, %s, %s, %s, %s, %s)",
                    (
                        source.endpoint,
                        source.port,
                        self.user,
                        self.password,
                        position.file,
                        position.position,
                        0,
                    ),
                )
            cursor.execute("CALL mysql.rds_start_replication()")

    def reset(self, replica_id: str) -> None:
        with self.admin(replica_id) as admin, admin.cursor() as cursor:
            cursor.execute("CALL mysql.rds_reset_external_source()")

    def source_position(self, cluster_id: str) -> BinlogPosition:
        with self.admin(cluster_id) as admin, admin.cursor() as cursor:
            cursor.execute(dialects.show_source_status(server_version(cursor)).sql)
            file, position, *_ = cursor.fetchone()
        return BinlogPosition(file, int(position))

    def status(self, replica_id: str) -> ReplicaStatus | None:
        """The replica's status in either engine's words, normalised; None when it is no replica."""
        return replica_status(self.sandbox, replica_id)

    def wait_caught_up(self, replica_id: str, source_id: str = "blue", timeout: int = 30) -> None:
        """Block until the replica has executed everything the source has binlogged so far."""
        position = self.source_position(source_id)
        with self.admin(replica_id) as admin, admin.cursor() as cursor:
            cursor.execute(*dialects.wait_for_position(server_version(cursor), position, timeout))
            (events,) = cursor.fetchone()
        if events is None or events < 0:
            raise AssertionError(
                f"{replica_id} did not reach {source_id}'s {position} within {timeout}s "
                f"(the wait returned {events}): {self.status(replica_id)}"
            )


@pytest.fixture(scope="session")
def replication(sandbox: Sandbox) -> Replication:
    """Creates blue's replication user (REPLICATION SLAVE only) once, as the master user."""
    with sandbox.connect("blue", "admin") as admin, admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (REPLICATION_USER, REPLICATION_PASSWORD))
        cursor.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'%%'", (REPLICATION_USER,))
    return Replication(sandbox, REPLICATION_USER, REPLICATION_PASSWORD)
