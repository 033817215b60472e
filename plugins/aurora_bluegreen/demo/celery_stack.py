"""A distributed Airflow on this machine: PostgreSQL, Redis, the CeleryExecutor and two workers.

What ``AirflowStack`` runs (api-server, scheduler, dag-processor, triggerer), plus servers of its
own: a PostgreSQL cluster as the metadata database and a Redis as Celery's broker, each on a free
port on 127.0.0.1 with its files under ``home``, so nothing depends on (or disturbs) a PostgreSQL
or Redis the machine already runs. Two Celery workers are separate processes with their own
hostnames (what Airflow records as the task's ``hostname``) and their own queues beside the
shared ``default``: a cluster policy can pin a task to one worker, and a task on ``default`` runs
on whichever is alive, which is how a retry leaves a dead worker behind.

PostgreSQL refuses to run as root: as root, ``initdb`` and ``postgres`` run as the ``postgres``
user, which must be able to reach ``home``.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aurora_bluegreen.demo.airflow_stack import AirflowStack
from aurora_bluegreen.demo.processes import (
    free_port,
    pids_in_sessions,
    signal_pid,
    tail,
    wait_gone,
    write_private,
)
from aurora_bluegreen.errors import AirflowStackError

DEFAULT_QUEUE = "default"
WORKER_HOSTNAME_ENV = "AURORA_BLUEGREEN_WORKER_HOSTNAME"
POSTGRES_USER = "postgres"
DATABASE = "airflow"
DATABASE_USER = "airflow"
# Seconds without a heartbeat before the scheduler fails a running task (its worker is gone) and
# retries it. Airflow's default is 300; see docs/distributed.md for what it means for the freeze.
DEFAULT_HEARTBEAT_TIMEOUT = 300


@dataclass(frozen=True)
class Worker:
    name: str
    """The worker's hostname as Airflow records it on the task instances it runs."""
    queue: str
    """Its own queue; it also serves ``DEFAULT_QUEUE``."""

    @property
    def queues(self) -> str:
        return f"{DEFAULT_QUEUE},{self.queue}"


WORKERS = (Worker("worker-a", "worker_a"), Worker("worker-b", "worker_b"))


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: both run on this machine, so the machine's name
    would not tell them apart."""
    return os.environ[WORKER_HOSTNAME_ENV]


class CeleryStack(AirflowStack):
    """``AirflowStack`` on the CeleryExecutor with PostgreSQL, Redis and ``WORKERS``.

    ``heartbeat_timeout`` is ``[scheduler] task_instance_heartbeat_timeout``; the tests set it to
    seconds so that a killed worker's task is retried at once. ``python_path`` is added to every
    process's ``PYTHONPATH`` (the tests put a cluster policy, ``airflow_local_settings``, there).
    """

    executor = "CeleryExecutor"

    def __init__(
        self,
        *args,
        heartbeat_timeout: int = DEFAULT_HEARTBEAT_TIMEOUT,
        worker_concurrency: int = 2,
        python_path: Sequence[Path] = (),
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat_timeout = heartbeat_timeout
        self.worker_concurrency = worker_concurrency
        self.python_path = [Path(path).resolve() for path in python_path]
        self.postgres_port = free_port()
        self.redis_port = free_port()
        self._worker_log_ports = {worker.name: free_port() for worker in WORKERS}

    @property
    def postgres_dir(self) -> Path:
        return self.home / "postgres"

    @property
    def redis_dir(self) -> Path:
        return self.home / "redis"

    def environment(self) -> dict[str, str]:
        env = super().environment()
        keys = self._shared_secrets()
        database = f"{DATABASE_USER}:{keys['postgres_password']}@127.0.0.1:{self.postgres_port}/{DATABASE}"
        env.update(
            {
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{database}",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://:{keys['redis_password']}@127.0.0.1:{self.redis_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{database}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": DEFAULT_QUEUE,
                # A worker that dies takes its task's heartbeat with it: the scheduler notices after
                # the timeout (checked every second here) and retries the task elsewhere.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(self.heartbeat_timeout),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "1",
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            }
        )
        if self.python_path:
            paths = [str(path) for path in self.python_path]
            env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
        return env

    def _secret_names(self) -> tuple[str, ...]:
        return (*super()._secret_names(), "postgres_password", "redis_password")

    # -- servers ----------------------------------------------------------------------------------

    def _start_servers(self, env: dict[str, str], deadline: float) -> None:
        user = _postgres_user()
        if user is not None:
            _check_reachable(self.home, user)
        keys = self._shared_secrets()
        self._start_redis(keys["redis_password"])
        self._start_postgres(keys["postgres_password"], user)
        self._until_listening("redis", self.redis_port, deadline)
        self._until_listening("postgres", self.postgres_port, deadline)
        self._create_database(keys["postgres_password"], deadline)

    def _start_redis(self, password: str) -> None:
        self.redis_dir.mkdir(exist_ok=True)
        config = self.redis_dir / "redis.conf"
        # In a file, not on the command line, where ps would show the password.
        write_private(
            config,
            "\n".join(
                [
                    f"port {self.redis_port}",
                    "bind 127.0.0.1",
                    'save ""',
                    "appendonly no",
                    f"dir {self.redis_dir}",
                    f"requirepass {password}",
                    "",
                ]
            ),
        )
        self._spawn("redis", [_program("redis-server"), str(config)], os.environ.copy())

    def _start_postgres(self, password: str, user: str | None) -> None:
        data = self.postgres_dir / "data"
        if not (data / "PG_VERSION").exists():
            self._initdb(data, password, user)
        self._spawn(
            "postgres",
            [
                _postgres_program("postgres"),
                "-D",
                str(data),
                "-p",
                str(self.postgres_port),
                "-c",
                "listen_addresses=127.0.0.1",
                # TCP only: the socket directory of the machine's own PostgreSQL is not ours.
                "-c",
                "unix_socket_directories=",
                # Six Airflow processes, two workers and their tasks each keep a pool.
                "-c",
                "max_connections=200",
                # Metadata only, rebuilt by a new demo; a commit need not wait for the disk.
                "-c",
                "synchronous_commit=off",
            ],
            _postgres_env(),
            user=user,
        )

    def _initdb(self, data: Path, password: str, user: str | None) -> None:
        shutil.rmtree(self.postgres_dir, ignore_errors=True)
        self.postgres_dir.mkdir(mode=0o700)
        password_file = self.postgres_dir / "initdb-password"
        write_private(password_file, password)
        if user is not None:
            owner = pwd.getpwnam(user)
            for path in (self.postgres_dir, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        log = self.logs_dir / "initdb.log"
        with log.open("wb") as out:
            result = subprocess.run(
                [
                    _postgres_program("initdb"),
                    "-D",
                    str(data),
                    "-U",
                    DATABASE_USER,
                    f"--pwfile={password_file}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                ],
                env=_postgres_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                user=user,
                cwd=self.postgres_dir,
                check=False,
            )
        password_file.unlink()
        if result.returncode != 0:
            raise AirflowStackError(f"initdb failed:\n{tail(log)}")

    def _create_database(self, password: str, deadline: float) -> None:
        import psycopg2

        def connect():
            try:
                return psycopg2.connect(
                    host="127.0.0.1",
                    port=self.postgres_port,
                    user=DATABASE_USER,
                    password=password,
                    dbname="postgres",
                    connect_timeout=5,
                )
            except psycopg2.OperationalError:
                return None  # "the database system is starting up"

        connection = self._poll(connect, deadline - time.monotonic(), "PostgreSQL to accept logins")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
                if cursor.fetchone() is None:
                    cursor.execute(f"CREATE DATABASE {DATABASE}")
        finally:
            connection.close()

    def _database_exists(self) -> bool:
        # initdb ran before the migration's stamp was written; a new cluster means a new database.
        return (self.postgres_dir / "data" / "PG_VERSION").exists()

    def _until_listening(self, name: str, port: int, deadline: float) -> None:
        def listening() -> bool | None:
            self._raise_if_a_component_died()
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0 or None

        self._poll(listening, deadline - time.monotonic(), f"{name} to listen on port {port}")

    # -- workers ----------------------------------------------------------------------------------

    def worker_log(self, worker: Worker) -> Path:
        return self.component_log(worker.name)

    def _spawn_workers(self, env: dict[str, str]) -> None:
        for worker in WORKERS:
            self.start_worker(worker, env)

    def start_worker(self, worker: Worker, env: dict[str, str] | None = None) -> None:
        """Start (or start again, after ``kill_worker``) one Celery worker."""
        worker_env = dict(env or self.environment())
        worker_env.update(
            {
                WORKER_HOSTNAME_ENV: worker.name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
                # Each worker serves its tasks' logs while they run, on a port of its own.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self._worker_log_ports[worker.name]),
            }
        )
        argv = [str(self.venv_bin / "airflow"), "celery", "worker", "--queues", worker.queues]
        argv += ["--celery-hostname", f"{worker.name}@%h", "--concurrency", str(self.worker_concurrency)]
        self._spawn(worker.name, argv, worker_env)
        self._record_pids()

    def kill_worker(self, name: str) -> list[int]:
        """SIGKILL a worker and everything it started (pool processes, task supervisors, tasks), as
        when its machine dies; returns the pids killed."""
        process = self._processes.pop(name)
        pids = pids_in_sessions({process.pid})
        for pid in pids:
            signal_pid(pid, signal.SIGKILL)
        process.wait(timeout=10)
        survivors = wait_gone({process.pid}, 5.0)
        self._record_pids()
        if survivors:
            raise AirflowStackError(f"worker {name}'s processes survived SIGKILL: {survivors}")
        return pids

    def _wait_for_workers(self, deadline: float) -> None:
        for worker in WORKERS:
            self.wait_for_worker(worker, deadline - time.monotonic())

    def wait_for_worker(self, worker: Worker, timeout: float = 60.0) -> None:
        """Until the worker has connected to the broker and consumes its queues."""

        def ready() -> bool | None:
            self._raise_if_a_component_died()
            with contextlib.suppress(OSError):
                return " ready." in self.worker_log(worker).read_text(errors="replace") or None
            return None

        self._poll(ready, timeout, f"Celery worker {worker.name} to be ready")


def _program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin")
    if not found:
        raise AirflowStackError(f"{name} is not installed; run scripts/setup.sh")
    return found


def _postgres_program(name: str) -> str:
    """Debian keeps the server's programs out of PATH, in /usr/lib/postgresql/<major>/bin."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]), reverse=True
    )
    return str(candidates[0]) if candidates else _program(name)


def _postgres_user() -> str | None:
    """Who runs PostgreSQL: it refuses root, so root hands it to the ``postgres`` user."""
    return POSTGRES_USER if os.geteuid() == 0 else None


def _postgres_env() -> dict[str, str]:
    # LANG decides the cluster's locale; C.UTF-8 exists everywhere, a developer's locale may not.
    return {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def _check_reachable(home: Path, user: str) -> None:
    """The server runs as ``user``: every directory above its data must let others pass."""
    for directory in [home, *home.parents]:
        if not directory.stat().st_mode & 0o001:
            raise AirflowStackError(
                f"PostgreSQL runs as {user!r}, which cannot enter {directory} (mode "
                f"{directory.stat().st_mode & 0o777:o}); put the stack's home elsewhere"
            )
