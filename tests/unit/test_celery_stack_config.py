"""The Celery stack's configuration, without starting it: what every process is told."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from aurora_bluegreen.demo import executors
from aurora_bluegreen.demo.celery_stack import WORKERS, CeleryStack, _check_reachable, worker_hostname
from aurora_bluegreen.demo.report import DemoReport, task_timings
from aurora_bluegreen.errors import AirflowStackError, DemoError

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_every_process_uses_the_stacks_own_servers_on_loopback(tmp_path):
    stack = CeleryStack(REPO_ROOT, home=tmp_path / "home", port=1234, heartbeat_timeout=7)
    env = stack.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    database = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    results = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
    assert (broker.hostname, broker.port) == ("127.0.0.1", stack.redis_port)
    assert (database.hostname, database.port) == ("127.0.0.1", stack.postgres_port)
    # Never the machine's own servers on their default ports.
    assert {stack.redis_port, stack.postgres_port}.isdisjoint({5432, 6379})
    assert results.netloc == database.netloc and results.path == database.path
    assert broker.password and database.password  # generated, kept in the home's secrets file
    assert env["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"] == "7"
    # A second start of the same home reuses the passwords its servers were created with.
    again = CeleryStack(REPO_ROOT, home=tmp_path / "home", port=1234).environment()
    assert urlsplit(again["AIRFLOW__CELERY__BROKER_URL"]).password == broker.password


def test_workers_have_their_own_names_and_queues_beside_the_shared_one(monkeypatch):
    assert len({w.name for w in WORKERS}) == len({w.queue for w in WORKERS}) == len(WORKERS) == 2
    for worker in WORKERS:
        assert worker.queues.split(",") == ["default", worker.queue]
    monkeypatch.setenv("AURORA_BLUEGREEN_WORKER_HOSTNAME", "worker-b")
    assert worker_hostname() == "worker-b"


def test_a_home_the_postgres_user_cannot_enter_is_refused(tmp_path):
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(AirflowStackError, match=r"cannot enter .*closed"):
        _check_reachable(closed, "postgres")
    _check_reachable(Path("/usr/share"), "postgres")  # every directory above lets others pass


def test_the_report_names_the_executor_and_each_tasks_worker(tmp_path):
    tasks = task_timings(
        [
            {
                "task_id": "cutover",
                "state": "success",
                "duration": 4.3,
                "start_date": "2",
                "hostname": "worker-b",
            },
            {
                "task_id": "approve",
                "state": "success",
                "duration": 9.0,
                "start_date": "1",
                "hostname": "worker-a",
            },
            {"task_id": "snapshot", "state": "skipped", "duration": None, "start_date": None, "hostname": ""},
        ]
    )
    report = DemoReport(
        engine="MySQL 9.7.4-2",
        executor="CeleryExecutor",
        run_id="demo",
        run_state="success",
        cutover=None,
        upgrade=None,
        writes_acknowledged=10,
        writes_missing=0,
        longest_write_wait_ms=1.0,
        wall_seconds_without_approval=None,
        approval_wait_seconds=None,
        tasks=tasks,
        ui_url="http://127.0.0.1:1",
        ui_user="admin",
        password_file=tmp_path,
        logs_dir=tmp_path,
    )
    lines = report.render().splitlines()
    assert "  executor:                  CeleryExecutor" in lines
    rows = [
        line.split()
        for line in lines
        if line.startswith("    ") and line.split()[0] in ("approve", "cutover", "snapshot")
    ]
    assert rows == [
        ["approve", "success", "9.0", "worker-a"],
        ["cutover", "success", "4.3", "worker-b"],
        ["snapshot", "skipped", "-", "-"],
    ]


def test_the_demo_picks_its_stack_by_executor_and_names_a_missing_extra(tmp_path, monkeypatch):
    celery = executors.demo_stack("celery", tmp_path, 1234)
    assert (
        isinstance(celery, CeleryStack) and celery.home == (tmp_path / ".demo" / "airflow-celery").resolve()
    )
    local = executors.demo_stack("local", tmp_path, 1234)
    assert local.executor == "LocalExecutor" and local.home == (tmp_path / ".demo" / "airflow").resolve()
    monkeypatch.setattr(executors, "CELERY_EXTRA_MODULES", ("psycopg2", "not_installed.driver"))
    with pytest.raises(DemoError, match=r"celery extra \(not_installed\.driver missing\)"):
        executors.demo_stack("celery", tmp_path, 1234)
