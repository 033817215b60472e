"""No worker-local state: the deployment DAG on the CeleryExecutor with two workers.

One Celery stack (PostgreSQL, Redis, two workers) for the module. Two runs under write load:
- every task on the other worker than the task before it (a cluster policy routes them by queue),
  and the run succeeds with every acknowledged write on green;
- the worker running the cutover is SIGKILLed inside the freeze (blue read-only, the freeze
  recorded on green's tags); the scheduler notices the missing heartbeat, the retry runs on the
  other worker and finishes the cutover within the original freeze budget, losing no write.

To be inside the freeze long enough to kill a worker there, green is held back with
``FLUSH TABLES WITH READ LOCK`` (its replication cannot apply blue's last writes, so the cutover
waits for it) from the approval until the kill; the freeze itself is the product's.

These runs do not depend on the engine, and a Celery stack costs about half a minute to start, so
they run on the first engine of the session only (the LocalExecutor e2e tests cover both).
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import sandbox_connections

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient, poll_until
from aurora_bluegreen.demo.celery_stack import WORKERS, CeleryStack
from aurora_bluegreen.demo.processes import free_port, sigterm_as_interrupt
from aurora_bluegreen.freeze_ledger import FREEZE_STARTED_TAG
from aurora_bluegreen.sandbox import read_endpoint
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = Path(__file__).resolve().parent / "celery_policy"
DAG_ID = "aurora_bluegreen_deployment"
# Seconds without a heartbeat before the scheduler retries a dead worker's task. Low, so the test
# takes seconds, and not lower: on a two-core machine shared with other suites (load average 30
# seen) a live task's heartbeats can be late by seconds. docs/distributed.md says what a
# production value means for the freeze.
HEARTBEAT_TIMEOUT = 15
# The whole freeze, both attempts: the heartbeat timeout, the cutover's 2 s retry delay, a new
# task process on the other worker, all with room for a busy two-core machine.
FREEZE_BUDGET = 120
# Waits are generous for the same reason (a deployment's tasks took four minutes at load 30); they
# bound a hang, they time nothing.
APPROVAL_WAIT = 600
RUN_WAIT = 300


@pytest.fixture(scope="module")
def celery_stack(first_engine_only) -> Iterator[CeleryStack]:
    # PostgreSQL runs as the postgres user, which cannot enter pytest's private temporary folders.
    home = Path(tempfile.mkdtemp(prefix="aurora-bluegreen-celery-"))
    home.chmod(0o711)
    stack = CeleryStack(
        REPO_ROOT,
        home=home,
        port=free_port(),
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        python_path=[POLICY_DIR],
    )
    with sigterm_as_interrupt():
        try:
            began = time.monotonic()
            stack.start(wait_for_dags=[DAG_ID], timeout=RUN_WAIT)
            print(f"\n[celery stack] up in {time.monotonic() - began:.1f}s ({stack.startup})")
            yield stack
        finally:
            stack.stop()
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def celery_airflow(celery_stack: CeleryStack, sandbox) -> Iterator[AirflowRestClient]:
    client = celery_stack.client()
    client.upsert_connections(
        sandbox_connections(
            sandbox,
            control_plane="celery_sandbox",
            admin="celery_admin",
            replication=("celery_replication", "repl_celery", "celery-repl-" + uuid.uuid4().hex[:8]),
        )
    )
    client.unpause_dag(DAG_ID)
    try:
        yield client
    finally:
        client.close()


def deploy_under_load(sandbox, airflow, name, run_id, **conf_overrides):
    """Blue under load, a run triggered; returns the load generator (started) and the run's conf."""
    blue_id, green_id, endpoint = f"celery-{name}-blue", f"celery-{name}-green", f"celery_{name}"
    sandbox.create_blue(blue_id)
    sandbox.point_endpoint(endpoint, blue_id)
    load = LoadGenerator.in_sandbox(sandbox.state_dir, endpoint, rate=300)
    load.start()
    conf = {
        "blue_cluster_id": blue_id,
        "green_cluster_id": green_id,
        "writer_instance_id": f"{green_id}-writer",
        "repoint": f"sandbox:{endpoint}",
        "control_plane_conn_id": "celery_sandbox",
        "admin_conn_id": "celery_admin",
        "replication_conn_id": "celery_replication",
        "max_lag_seconds": 5,
        "max_freeze_seconds": 5,
        **conf_overrides,
    }
    airflow.trigger_dag_run(DAG_ID, run_id=run_id, conf=conf)
    return load, conf


def missing_on_green(connect, load, conf) -> list[str]:
    """Once the application has written to green for a moment: acknowledged writes green lacks."""
    time.sleep(1.5)
    with connect(conf["green_cluster_id"], "root") as green:
        return missing_writes(load.acked_ids_file, green)


def global_read_only(connect, cluster_id) -> int:
    with connect(cluster_id, "root") as connection, connection.cursor() as cursor:
        cursor.execute("SELECT @@global.read_only")
        return cursor.fetchone()[0]


def frozen_by_the_cutover(sandbox, connect, blue_id, green_id) -> bool | None:
    """True once the freeze is in green's tags and blue is read-only; None (poll again) before."""
    in_ledger = FREEZE_STARTED_TAG in sandbox.describe(green_id).tags
    return (in_ledger and global_read_only(connect, blue_id) == 1) or None


def cutover_instance(airflow, run_id) -> dict:
    (cutover,) = [ti for ti in airflow.task_instances(DAG_ID, run_id) if ti["task_id"] == "cutover"]
    return cutover


def retried_cutover_ended(airflow, run_id) -> dict | None:
    cutover = cutover_instance(airflow, run_id)
    return cutover if cutover["try_number"] > 1 and cutover["state"] in ("success", "failed") else None


def test_consecutive_tasks_on_different_workers_deploy_with_no_write_missing(
    sandbox, connect, celery_airflow
):
    run_id = f"alternate__{uuid.uuid4().hex[:6]}"
    load, conf = deploy_under_load(sandbox, celery_airflow, "alternate", run_id)
    try:
        request = celery_airflow.wait_for_approval_request(DAG_ID, run_id, timeout=APPROVAL_WAIT)
        celery_airflow.answer_when_settled(request, ["Approve"])
        run = celery_airflow.wait_for_dag_run(DAG_ID, run_id, timeout=RUN_WAIT)
        missing = missing_on_green(connect, load, conf)
    finally:
        summary = load.stop()

    instances = {ti["task_id"]: ti for ti in celery_airflow.task_instances(DAG_ID, run_id)}
    assert run["state"] == "success", {task: ti["state"] for task, ti in instances.items()}
    ran = {task: ti["hostname"] for task, ti in instances.items() if ti["state"] == "success"}
    print(f"\n[alternate] workers: {ran}")
    assert set(ran.values()) == {worker.name for worker in WORKERS}
    edges = [
        (task["task_id"], downstream)
        for task in celery_airflow.dag_tasks(DAG_ID)
        for downstream in task["downstream_task_ids"]
        if task["task_id"] in ran
        and downstream in ran
        # The blue hold's setup-teardown link spans the whole run, not one step to the next.
        and (task["task_id"], downstream) != ("hold_blue", "release_blue")
    ]
    assert len(edges) >= 10, edges  # the chain from preflight to verify, less the skipped AWS tasks
    assert [(a, b) for a, b in edges if ran[a] == ran[b]] == []
    assert instances["cutover"]["queue"] != instances["approve_cutover"]["queue"]
    assert summary.counters.acknowledged > 0
    assert summary.counters.clusters_seen == [conf["blue_cluster_id"], conf["green_cluster_id"]]
    assert missing == []


def test_cutover_worker_killed_inside_the_freeze_retried_on_the_other_converges(
    sandbox, connect, celery_stack, celery_airflow
):
    run_id = f"kill__{uuid.uuid4().hex[:6]}"
    load, conf = deploy_under_load(
        sandbox, celery_airflow, "kill", run_id, max_freeze_seconds=FREEZE_BUDGET, max_lag_seconds=30
    )
    blue_id, green_id = conf["blue_cluster_id"], conf["green_cluster_id"]
    killed = None
    try:
        request = celery_airflow.wait_for_approval_request(DAG_ID, run_id, timeout=APPROVAL_WAIT)
        with connect(green_id, "root") as hold_back_green:
            with hold_back_green.cursor() as cursor:
                cursor.execute("FLUSH TABLES WITH READ LOCK")
            celery_airflow.answer_when_settled(request, ["Approve"])
            poll_until(
                lambda: frozen_by_the_cutover(sandbox, connect, blue_id, green_id),
                timeout=RUN_WAIT,
                poll_seconds=0.1,
                what="the cutover to freeze blue",
            )
            cutover = cutover_instance(celery_airflow, run_id)
            assert cutover["state"] == "running" and cutover["try_number"] == 1, cutover
            killed = cutover["hostname"]
            kill_began = time.monotonic()
            celery_stack.kill_worker(killed)
            with hold_back_green.cursor() as cursor:
                cursor.execute("UNLOCK TABLES")
        poll_until(
            lambda: retried_cutover_ended(celery_airflow, run_id), RUN_WAIT, 0.2, "the retried cutover"
        )
        converged = time.monotonic() - kill_began
        run = celery_airflow.wait_for_dag_run(DAG_ID, run_id, timeout=RUN_WAIT)
        missing = missing_on_green(connect, load, conf)
    finally:
        summary = load.stop()
        if killed:
            worker = next(w for w in WORKERS if w.name == killed)
            celery_stack.start_worker(worker)

    tries = celery_airflow.task_tries(DAG_ID, run_id, "cutover")
    assert run["state"] == "success", celery_airflow.task_states(DAG_ID, run_id)
    (survivor,) = [worker.name for worker in WORKERS if worker.name != killed]
    assert [(t["try_number"], t["hostname"]) for t in tries] == [(1, killed), (2, survivor)]
    report = celery_airflow.xcom_value(DAG_ID, run_id, "cutover")
    print(
        f"\n[kill] cutover's worker {killed} killed inside the freeze; converged on {survivor} "
        f"{converged:.1f}s later; freeze {report['freeze_ms']:.0f} ms over both attempts, "
        f"the application's longest wait {summary.counters.max_ack_gap_ms:.0f} ms"
    )
    assert report["rolled_back"] is False
    assert report["blue_final_position"] == report["green_executed_position"]
    # The report's freeze is what the application lived through: from the dead attempt's start,
    # past the heartbeat timeout that the retry had to wait for.
    assert report["freeze_ms"] >= HEARTBEAT_TIMEOUT * 1000
    assert read_endpoint(sandbox.endpoint_file("celery_kill")).cluster_id == green_id
    assert global_read_only(connect, green_id) == 0
    assert global_read_only(connect, blue_id) == 1
    assert summary.counters.acknowledged > 0
    assert summary.counters.clusters_seen == [blue_id, green_id]
    assert missing == []
