"""Real Airflow 3.3 on this machine: api-server, scheduler, dag-processor and triggerer.

Configured through environment variables only, so nothing needs a manual step and nothing
outside the home directory is touched. The metadata database is SQLite: in 3.3.2 the
LocalExecutor runs on it (``airflow standalone`` does the same), so no database server is needed.

Every listener is on 127.0.0.1: the api-server by ``[api] host``; the log servers that the
scheduler and the triggerer would start on all interfaces (Airflow 3.3 has no setting for their
address) are not started (``--skip-serve-logs``). They exist for workers on other machines; here
every log file is on the api-server's own disk, where it reads them.

Each component runs in its own session (``start_new_session=True``). ``airflow standalone``
orphans its children on SIGTERM and the scheduler may ignore SIGTERM, so ``stop`` signals whole
process groups and then sweeps the sessions: task processes move to their own process group
(``setpgid``) but stay in the session of the scheduler that started them.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient, poll_until
from aurora_bluegreen.demo.processes import (
    pids_in_sessions,
    port_is_free,
    runs_a_stack_program,
    session_of,
    signal_group,
    signal_pid,
    tail,
    wait_gone,
    write_private,
)
from aurora_bluegreen.errors import AirflowStackError

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ADMIN_USER = "admin"
DEFAULT_PORT = 28080
# Two cores run the demo and the tests: the LocalExecutor starts ``parallelism`` workers up
# front (32 by default came to 5.5 GB RSS).
DEFAULT_PARALLELISM = 4

T = TypeVar("T")

_SECRETS_FILE = "secrets.json"
_PIDS_FILE = "pids.json"
_MIGRATED_STAMP = "migrated-airflow-version"


@dataclass(frozen=True)
class StartupTimes:
    """Seconds spent in each phase of ``AirflowStack.start``."""

    migrate: float
    """The database's servers, if the stack has any, and ``airflow db migrate``."""
    healthy: float
    """Until every component reports healthy and every worker takes tasks."""
    dags_parsed: float

    @property
    def total(self) -> float:
        return self.migrate + self.healthy + self.dags_parsed


class AirflowStack:
    """Starts and stops one Airflow installation rooted at ``home``.

    ``dag_folders[0]`` is ``[core] dags_folder``; further folders become extra local DAG bundles
    (the e2e tests use one for throwaway DAGs). ``users`` adds simple-auth-manager users beside
    the admin (name to role: viewer, user, op or admin); the api-server generates their passwords.
    ``celery_stack.CeleryStack`` adds the servers and workers of a distributed Airflow through the
    hooks marked "for subclasses".
    """

    executor = "LocalExecutor"

    def __init__(
        self,
        repo_root: Path,
        home: Path | None = None,
        port: int = DEFAULT_PORT,
        dag_folders: Sequence[Path] | None = None,
        parallelism: int = DEFAULT_PARALLELISM,
        venv_bin: Path | None = None,
        users: Mapping[str, str] | None = None,
    ) -> None:
        self.repo_root = Path(repo_root).resolve()
        self.home = Path(home or self.repo_root / ".demo" / "airflow").resolve()
        self.port = port
        self.dag_folders = [Path(f).resolve() for f in (dag_folders or [self.repo_root / "dags"])]
        self.parallelism = parallelism
        # The console script runs from the venv's bin, and so must ``airflow`` and every process
        # Airflow itself spawns by name.
        self.venv_bin = Path(venv_bin or Path(sys.executable).parent)
        self.users = {ADMIN_USER: "admin", **(users or {})}
        self.startup: StartupTimes | None = None
        self._processes: dict[str, subprocess.Popen] = {}

    # -- where things are -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def password_file(self) -> Path:
        """The simple auth manager's passwords file: ``{"admin": "<password>"}``."""
        return self.home / "simple_auth_manager_passwords.json.generated"

    def component_log(self, component: str) -> Path:
        return self.logs_dir / f"{component}.log"

    def admin_password(self) -> str:
        """The admin's password, generated on first use.

        The simple auth manager keeps passwords already in its file and only generates missing
        ones, so writing the file ourselves makes the password known before the api-server runs.
        """
        passwords = json.loads(self.password_file.read_text()) if self.password_file.exists() else {}
        if ADMIN_USER not in passwords:
            passwords[ADMIN_USER] = secrets.token_urlsafe(12)
            self.home.mkdir(parents=True, exist_ok=True)
            write_private(self.password_file, json.dumps(passwords) + "\n")
        return passwords[ADMIN_USER]

    def user_password(self, user: str) -> str:
        """The password the api-server generated for one of ``users`` (it writes them at start)."""
        if user == ADMIN_USER:
            return self.admin_password()
        return json.loads(self.password_file.read_text())[user]

    def client(self, user: str = ADMIN_USER) -> AirflowRestClient:
        return AirflowRestClient(self.url, user, self.user_password(user))

    # -- configuration ----------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The environment every Airflow process of this stack runs with."""
        # Inherited Airflow settings (a developer's shell, a unit-test fixture) would make the
        # stack behave differently on different machines, so only ours count.
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")) and key != "AIRFLOW_HOME"
        }
        keys = self._shared_secrets()
        env.update(
            {
                "PATH": f"{self.venv_bin}{os.pathsep}{env.get('PATH', '')}",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dag_folders[0]),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": str(self.parallelism),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                    f"{name}:{role}" for name, role in self.users.items()
                ),
                # Every component and every task process must share these, or the task's calls to
                # the execution API are refused with 403 and logs cannot be read.
                "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
                "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
                "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
                # A new or edited DAG file shows up within seconds instead of minutes.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(self._dag_bundles()),
                # The next task starts about 0.25 s after the previous one ends instead of about
                # 1 s (measured: 6 trivial tasks in 1.7 s instead of 5.8 s); idle CPU of the whole
                # stack goes from 5 % to 10 % of one core.
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
                # Approvals with a response_timeout resolve sooner (the default check is every 15 s).
                "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "5",
            }
        )
        return env

    def _dag_bundles(self) -> list[dict[str, Any]]:
        classpath = "airflow.dag_processing.bundles.local.LocalDagBundle"
        bundles = [{"name": "dags-folder", "classpath": classpath, "kwargs": {}}]
        bundles += [
            {"name": f"extra-dags-{index}", "classpath": classpath, "kwargs": {"path": str(folder)}}
            for index, folder in enumerate(self.dag_folders[1:], start=1)
        ]
        return bundles

    def _shared_secrets(self) -> dict[str, str]:
        """Generated once per home and kept, so a restarted stack can still read old runs."""
        path = self.home / _SECRETS_FILE
        keys = json.loads(path.read_text()) if path.exists() else {}
        missing = [name for name in self._secret_names() if name not in keys]
        if missing:
            from cryptography.fernet import Fernet

            for name in missing:
                keys[name] = (
                    Fernet.generate_key().decode() if name == "fernet_key" else secrets.token_urlsafe(32)
                )
            self.home.mkdir(parents=True, exist_ok=True)
            write_private(path, json.dumps(keys, indent=2))
        return keys

    def _secret_names(self) -> tuple[str, ...]:
        """For subclasses: the secrets this stack's processes share (passwords of its servers)."""
        return ("fernet_key", "api_secret_key", "jwt_secret")

    # -- life cycle -------------------------------------------------------------------------------

    def start(
        self,
        connections: Mapping[str, Mapping[str, Any]] | None = None,
        wait_for_dags: Sequence[str] = (),
        timeout: float = 180.0,
    ) -> AirflowRestClient:
        """Migrate, start the four components, wait until healthy, register connections, wait for DAGs.

        ``connections`` maps connection ids to ``airflow connections import``-style fields.
        Returns a logged-in REST client. Raises AirflowStackError (after stopping what it started)
        when a component dies, a DAG in ``wait_for_dags`` fails to import, or ``timeout`` passes.
        """
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        self.stop()  # whatever an earlier run in this home left behind (--keep-running, a crash)
        if not port_is_free(self.port):
            raise AirflowStackError(
                f"port {self.port} is in use; is another Airflow (a demo left running?) on it?"
            )
        env = self.environment()
        self.admin_password()  # seeds the passwords file before the api-server reads it
        began = time.monotonic()
        try:
            self._start_servers(env, deadline=began + timeout)
            self._migrate(env)
            migrated = time.monotonic()
            for component in COMPONENTS:
                self._spawn(
                    component,
                    [str(self.venv_bin / "airflow"), component, *_COMPONENT_OPTIONS.get(component, ())],
                    env,
                )
            self._spawn_workers(env)
            self._record_pids()
            client = self._wait_until_healthy(timeout=began + timeout - time.monotonic())
            self._wait_for_workers(deadline=began + timeout)
            healthy = time.monotonic()
            client.upsert_connections(connections or {})
            self.wait_for_dags(wait_for_dags, timeout=began + timeout - time.monotonic(), client=client)
        except BaseException:
            self.stop()
            raise
        self.startup = StartupTimes(
            migrate=migrated - began, healthy=healthy - migrated, dags_parsed=time.monotonic() - healthy
        )
        return client

    def wait_for_dags(
        self, dag_ids: Sequence[str], timeout: float = 60.0, client: AirflowRestClient | None = None
    ) -> None:
        """Wait until the dag-processor has parsed these DAGs; fail at once on an import error."""
        client = client or self.client()
        deadline = time.monotonic() + timeout
        for dag_id in dag_ids:

            def parsed(dag_id: str = dag_id) -> bool | None:
                self._raise_if_a_component_died()
                if client.get_dag(dag_id) is not None:
                    return True
                errors = client.import_errors()
                if errors:
                    details = "\n".join(f"{e['filename']}:\n{e['stack_trace']}" for e in errors)
                    raise AirflowStackError(
                        f"DAG {dag_id!r} is missing and DAG files failed to import:\n{details}"
                    )
                return None

            self._poll(parsed, deadline - time.monotonic(), f"the dag-processor to parse DAG {dag_id!r}")

    def stop(self, grace_seconds: float = 15.0) -> None:
        """SIGTERM every component's process group, SIGKILL what is left, verify nothing runs.

        Also stops a stack that an earlier process started in this home, from its pids file.
        """
        sessions = self._sessions()
        for sid in sessions:
            signal_group(sid, signal.SIGTERM)
        wait_gone(sessions, grace_seconds)
        for pid in pids_in_sessions(sessions):
            signal_pid(pid, signal.SIGKILL)
        for process in self._processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)  # reap, so no zombie is left
        survivors = wait_gone(sessions, 5.0)
        self._processes.clear()
        (self.home / _PIDS_FILE).unlink(missing_ok=True)
        if survivors:
            raise AirflowStackError(f"Airflow processes survived SIGKILL: {survivors}")

    def running_pids(self) -> list[int]:
        """Every live process of this stack: the components and everything they started."""
        return pids_in_sessions(self._sessions())

    # -- for subclasses: what a distributed stack adds ---------------------------------------------

    def _start_servers(self, env: dict[str, str], deadline: float) -> None:
        """Servers the components need before ``airflow db migrate`` (SQLite needs none)."""

    def _spawn_workers(self, env: dict[str, str]) -> None:
        """Worker processes beside the four components (the LocalExecutor's run in the scheduler)."""

    def _wait_for_workers(self, deadline: float) -> None:
        """Until the workers take tasks."""

    def _database_exists(self) -> bool:
        return (self.home / "airflow.db").exists()

    # -- start-up steps ---------------------------------------------------------------------------

    def _migrate(self, env: dict[str, str]) -> None:
        """``airflow db migrate``, skipped when this home's database already matches this Airflow."""
        airflow_version = importlib.metadata.version("apache-airflow-core")
        stamp = self.home / _MIGRATED_STAMP
        if self._database_exists() and stamp.exists() and stamp.read_text() == airflow_version:
            return
        log = self.logs_dir / "db-migrate.log"
        with log.open("wb") as out:
            result = subprocess.run(
                [str(self.venv_bin / "airflow"), "db", "migrate"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.home,
                check=False,
            )
        if result.returncode != 0:
            raise AirflowStackError(f"airflow db migrate failed:\n{tail(log)}")
        stamp.write_text(airflow_version)

    def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str], user: str | None = None) -> None:
        """Start one process in a session of its own, its output in ``component_log(name)``."""
        with self.component_log(name).open("wb") as log:
            self._processes[name] = subprocess.Popen(
                list(argv),
                env=env,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
            )

    def _record_pids(self) -> None:
        """So that a later process can stop a stack left running (``stop`` reads them)."""
        pids = {component: process.pid for component, process in self._processes.items()}
        (self.home / _PIDS_FILE).write_text(json.dumps(pids))

    def _sessions(self) -> set[int]:
        """The session ids of this stack: one per component, each led by the component's process."""
        return {process.pid for process in self._processes.values()} or self._recorded_sessions()

    def _recorded_sessions(self) -> set[int]:
        """Sessions from the pids file that still have members.

        Linux hands out no pid still used as a session id, so members of a recorded session are
        ours. Only a leader could be a stranger (a new session under a reused pid), so a live
        leader must be running Airflow.
        """
        path = self.home / _PIDS_FILE
        if not path.exists():
            return set()
        recorded = set(json.loads(path.read_text()).values())
        return {
            sid
            for sid in recorded
            if pids_in_sessions({sid}) and (session_of(sid) != sid or runs_a_stack_program(sid))
        }

    def _wait_until_healthy(self, timeout: float) -> AirflowRestClient:
        deadline = time.monotonic() + timeout
        client = self.client()

        def healthy() -> bool | None:
            self._raise_if_a_component_died()
            try:
                health = client.health()
            except httpx.HTTPError:
                return None  # the api-server is still starting
            return all((health.get(part) or {}).get("status") == "healthy" for part in _HEALTH_PARTS) or None

        def execution_api_built() -> dict[str, Any] | None:
            try:
                return client.execution_api_health()
            except httpx.TimeoutException:
                return None  # still building: over the client's 30 s on a machine under heavy load

        self._poll(healthy, timeout, "every Airflow component to report healthy")
        # The api-server builds the execution API (which task processes call) on its first
        # request, which takes about 3 s; paying that here keeps it out of the first task.
        self._poll(execution_api_built, deadline - time.monotonic(), "the execution API to answer")
        return client

    def _poll(self, check: Callable[[], T | None], timeout: float, what: str) -> T:
        try:
            return poll_until(check, timeout=max(0.0, timeout), poll_seconds=0.5, what=what)
        except TimeoutError as error:
            raise AirflowStackError(f"{error}; logs are in {self.logs_dir}") from error

    def _raise_if_a_component_died(self) -> None:
        for component, process in self._processes.items():
            if process.poll() is not None:
                raise AirflowStackError(
                    f"{component} exited with code {process.returncode}:\n"
                    f"{tail(self.component_log(component))}"
                )


# The log servers would listen on every interface (see the module's docstring).
_COMPONENT_OPTIONS = {"scheduler": ("--skip-serve-logs",), "triggerer": ("--skip-serve-logs",)}

# The parts of /api/v2/monitor/health that must all say "healthy" before the stack is usable.
_HEALTH_PARTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
