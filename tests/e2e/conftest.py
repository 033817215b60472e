"""Real Airflow for the end-to-end tests: started once per session, stopped at the end.

The stack gets a fresh home and a free port, so it never collides with a demo left running.
Besides the repository's ``dags/`` it reads a second, empty folder (``e2e_dags_dir``) where a
test may drop a throwaway DAG; the dag-processor notices new files within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient
from aurora_bluegreen.demo.airflow_stack import AirflowStack
from aurora_bluegreen.demo.processes import free_port, sigterm_as_interrupt

REPO_ROOT = Path(__file__).resolve().parents[2]
# A second user, with the "user" role only, for approvals assigned to someone other than the admin.
APPROVER = "approver"
E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_dags_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e_dags")


@pytest.fixture(scope="session")
def airflow_stack(tmp_path_factory: pytest.TempPathFactory, e2e_dags_dir: Path) -> Iterator[AirflowStack]:
    stack = AirflowStack(
        REPO_ROOT,
        home=tmp_path_factory.mktemp("airflow_home"),
        port=free_port(),
        dag_folders=[REPO_ROOT / "dags", e2e_dags_dir],
        users={APPROVER: "user"},
    )
    # A CI timeout's SIGTERM would end pytest without this teardown and leave Airflow running.
    with sigterm_as_interrupt():
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="session")
def airflow(airflow_stack: AirflowStack) -> Iterator[AirflowRestClient]:
    """A logged-in REST client for the session's Airflow."""
    client = airflow_stack.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def approver(airflow_stack: AirflowStack) -> Iterator[AirflowRestClient]:
    """A logged-in REST client for ``APPROVER``, who may answer approvals assigned to them."""
    client = airflow_stack.client(APPROVER)
    try:
        yield client
    finally:
        client.close()
