"""The demo: a real blue/green deployment of the local sandbox, driven through real Airflow.

Blue starts with demo data and an application writing to it; Airflow clones it into green,
replicates, asks for approval, cuts over and verifies. The demo approves over REST as a person
would in the UI, then checks that every write the application saw acknowledged is on green.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from aurora_bluegreen.demo.airflow_rest import APPROVAL_SETTLE_SECONDS, AirflowRestClient, poll_until
from aurora_bluegreen.demo.airflow_stack import ADMIN_USER, DEFAULT_PORT
from aurora_bluegreen.demo.executors import LOCAL, demo_stack
from aurora_bluegreen.demo.report import DemoReport, seconds_between, task_timings
from aurora_bluegreen.errors import DemoError
from aurora_bluegreen.models import ClusterInfo
from aurora_bluegreen.sandbox import Sandbox, read_endpoint
from aurora_bluegreen.sandbox.endpoints import APP_ENDPOINT
from aurora_bluegreen.sandbox.engines import DEFAULT_ENGINE
from aurora_bluegreen.sandbox.load import LoadGenerator, LoadSummary, missing_writes

T = TypeVar("T")

DAG_ID = "aurora_bluegreen_deployment"
CUTOVER_TASK_ID = "cutover"
UPGRADE_TASK_ID = "upgrade_green"
REPLICATION_USER = "repl_bluegreen"
BLUE_CLUSTER_ID = "blue"
GREEN_CLUSTER_ID = "green"


def default_conf() -> dict[str, Any]:
    """The trigger form's values for the sandbox (names are the DAG's Params)."""
    return {
        "blue_cluster_id": BLUE_CLUSTER_ID,
        "green_cluster_id": GREEN_CLUSTER_ID,
        "writer_instance_id": f"{GREEN_CLUSTER_ID}-writer",
        "repoint": f"sandbox:{APP_ENDPOINT}",
        "control_plane_conn_id": "aurora_sandbox",
        "admin_conn_id": "aurora_blue_admin",
        "replication_conn_id": "aurora_replication",
    }


@dataclass
class DemoOptions:
    repo_root: Path
    keep_running: bool = False
    rate: float = 200.0
    """Writes per second of the load generator."""
    port: int = DEFAULT_PORT
    engine: str = DEFAULT_ENGINE
    """The sandbox's server engine: ``mysql`` (Aurora's family) or ``mariadb``."""
    executor: str = LOCAL
    """``local`` or ``celery`` (``executors.EXECUTORS``)."""
    conf: Mapping[str, Any] = field(default_factory=default_conf)
    approval_settle_seconds: float = APPROVAL_SETTLE_SECONDS
    timeout_seconds: float = 900.0
    """For each wait: Airflow up, the approval request, the end of the run."""
    upgrade_green: bool = False
    """Pass the sandbox's upgrade target as ``target_engine_version`` (MariaDB engine)."""


class Demo:
    dag_id = DAG_ID

    def __init__(self, options: DemoOptions, say: Callable[[str], None] = print) -> None:
        self.options = options
        demo_dir = options.repo_root / ".demo"
        self.sandbox = Sandbox(demo_dir / "sandbox", engine=options.engine)
        self.stack = demo_stack(options.executor, options.repo_root, options.port)
        self._say = say
        self._began = time.monotonic()
        self._task_states: dict[str, str] = {}
        self._run: tuple[AirflowRestClient, str] | None = None  # set once triggered, to explain failures
        self.conf = dict(options.conf)
        """The run's conf: the options', and with ``upgrade_green`` the target found on this machine."""

    def run(self) -> int:
        """The whole demo; 0 when the deployment succeeded and no acknowledged write is missing."""
        loads: list[LoadGenerator] = []
        try:
            self.stop()  # whatever an earlier demo left running
            self.sandbox.down()
            self.say(f"engine: {self.options.engine}, {self.sandbox.engine.version}")
            return 0 if self._deploy_under_load(loads) else 1
        except KeyboardInterrupt:
            self.say("interrupted; stopping")
            return 130
        except Exception as error:
            self.say(f"FAILED: {error}")
            self._show_failed_task_logs()
            self._say(f"  Airflow logs: {self.stack.logs_dir}\n  Sandbox: {self.sandbox.state_dir}")
            return 1
        finally:
            for load in loads:
                load.request_stop()  # never raises; a no-op when the deployment stopped it already
            if self.options.keep_running:
                self.say(
                    f"still running: Airflow at {self.stack.url}; stop it with `aurora-bluegreen demo --stop`"
                )
            else:
                self.stop()

    def _deploy_under_load(self, loads: list[LoadGenerator]) -> bool:
        """Blue, its application's load (added to ``loads`` as it starts), Airflow, the deployment."""
        blue = self._start_blue()
        if self.options.upgrade_green:
            self.conf["target_engine_version"] = self._upgrade_target(blue)
        load = LoadGenerator.in_sandbox(self.sandbox.state_dir, APP_ENDPOINT, self.options.rate)
        loads.append(load)
        load.start()
        self.say(f"load: writing about {self.options.rate:g}/s through endpoint {APP_ENDPOINT!r}")
        client = self._start_airflow(blue)
        report = self._deploy(client, load)
        self._say(report.render())
        return report.ok

    def stop(self) -> None:
        """Stop Airflow and every sandbox server; the sandbox's data stays for a look afterwards."""
        self.stack.stop()
        if self.sandbox.state_dir.exists():
            for record in self.sandbox.clusters():
                self.sandbox.stop_server(record.cluster_id)

    def say(self, message: str) -> None:
        self._say(f"[{time.monotonic() - self._began:6.1f}s] {message}")

    # -- phases -----------------------------------------------------------------------------------

    def _start_blue(self) -> ClusterInfo:
        blue = self.sandbox.create_blue(self.conf["blue_cluster_id"])
        self.sandbox.point_endpoint(APP_ENDPOINT, blue.cluster_id)
        self.say(f"sandbox: {blue.cluster_id} up on {blue.endpoint}:{blue.port} ({self.sandbox.state_dir})")
        return blue

    def _upgrade_target(self, blue: ClusterInfo) -> str:
        """The release series green will be upgraded to; none on this machine is a failure, said why."""
        targets = self.sandbox.upgrade_targets(blue.cluster_id)
        if not targets:
            raise DemoError(f"--upgrade-green: {self.sandbox.upgrade_refusal(blue.cluster_id)}")
        self.say(f"upgrade: green will be upgraded to MariaDB {targets[0]} while it replicates")
        return targets[0]

    def _start_airflow(self, blue: ClusterInfo) -> AirflowRestClient:
        client = self.stack.start(connections=self._connections(blue), wait_for_dags=[self.dag_id])
        # Runs an interrupted demo left active would hold their blue for ever: the sandbox they
        # worked on was just removed, so they are void.
        for stale in client.fail_active_runs():
            self.say(f"airflow: marked an earlier demo's run {stale} failed (its sandbox is gone)")
        self.say(
            f"airflow ({self.stack.executor}): up at {self.stack.url} in {self.stack.startup.total:.1f}s "
            f"(user {ADMIN_USER}, password in {self.stack.password_file})"
        )
        return client

    def _connections(self, blue: ClusterInfo) -> dict[str, dict[str, Any]]:
        """Secrets travel in connections, never in the run's conf."""
        conf = self.conf
        credentials = self.sandbox.credentials
        return {
            conf["control_plane_conn_id"]: {
                "conn_type": "aurora_sandbox",
                "extra": {"state_dir": str(self.sandbox.state_dir), "engine": self.sandbox.engine.name},
            },
            conf["admin_conn_id"]: {
                "conn_type": "mysql",
                "host": blue.endpoint,
                "port": blue.port,
                "login": credentials.admin_user,
                "password": credentials.admin_password,
            },
            # Only login and password matter: the operator creates this user on blue.
            conf["replication_conn_id"]: {
                "conn_type": "mysql",
                "login": REPLICATION_USER,
                "password": secrets.token_urlsafe(18),
            },
        }

    def _deploy(self, client: AirflowRestClient, load: LoadGenerator) -> DemoReport:
        client.unpause_dag(DAG_ID)
        run_id = f"demo__{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
        client.trigger_dag_run(DAG_ID, run_id=run_id, conf=self.conf)
        self._run = (client, run_id)
        self.say(f"triggered {DAG_ID} run {run_id}")

        request = self._follow(
            client, run_id, lambda: client.pending_approval(DAG_ID, run_id), "an approval request"
        )
        self.say(
            f"approval requested: {request['subject']!r}; approving in "
            f"{self.options.approval_settle_seconds:g}s, as a person would in {self.stack.url}"
        )
        response = client.answer_when_settled(request, ["Approve"], self.options.approval_settle_seconds)
        self.say(f"approved by {response['responded_by']['name']}")
        run = self._follow(client, run_id, lambda: client.finished_run(DAG_ID, run_id), "the run to finish")
        self.say(f"run {run['state']}")
        if run["state"] != "success":
            self._show_failed_task_logs()

        load_summary = load.stop()
        green_id = self.conf["green_cluster_id"]
        with self.sandbox.connect(green_id) as green:
            missing = missing_writes(Path(load_summary.acked_ids_file), green)
        return self._report(client, run, request, response, load_summary, len(missing), green_id)

    def _report(
        self,
        client: AirflowRestClient,
        run: Mapping[str, Any],
        request: Mapping[str, Any],
        response: Mapping[str, Any],
        load: LoadSummary,
        missing: int,
        green_id: str,
    ) -> DemoReport:
        run_id = run["dag_run_id"]
        task_instances = client.task_instances(DAG_ID, run_id)
        cutover_ti = next((ti for ti in task_instances if ti["task_id"] == CUTOVER_TASK_ID), {})
        cutover, upgrade = (
            _xcom_if_succeeded(client, run_id, task_instances, task_id)
            for task_id in (CUTOVER_TASK_ID, UPGRADE_TASK_ID)
        )
        approval_wait = seconds_between(request["created_at"], response["responded_at"])
        until_cutover = seconds_between(run["queued_at"], cutover_ti.get("end_date"))
        endpoint = read_endpoint(self.sandbox.endpoint_file(APP_ENDPOINT))

        problems = []
        if run["state"] != "success":
            problems.append(f"the run ended {run['state']}")
        if load.counters.acknowledged == 0:
            problems.append("the load generator saw no write acknowledged")
        if missing:
            problems.append(f"{missing} acknowledged writes are not on {green_id}")
        if endpoint is None or endpoint.cluster_id != green_id:
            problems.append(f"endpoint {APP_ENDPOINT!r} points at {endpoint}, not {green_id}")
        if self.options.upgrade_green and (upgrade is None or upgrade["skipped"]):
            problems.append(f"green was not upgraded to {self.conf['target_engine_version']}")
        return DemoReport(
            engine=self.sandbox.engine.version,
            executor=self.stack.executor,
            run_id=run_id,
            run_state=run["state"],
            cutover=cutover,
            upgrade=upgrade,
            writes_acknowledged=load.counters.acknowledged,
            writes_missing=missing,
            longest_write_wait_ms=load.counters.max_ack_gap_ms,
            wall_seconds_without_approval=(
                until_cutover - approval_wait
                if until_cutover is not None and approval_wait is not None
                else None
            ),
            approval_wait_seconds=approval_wait,
            tasks=task_timings(task_instances),
            ui_url=self.stack.url,
            ui_user=ADMIN_USER,
            password_file=self.stack.password_file,
            logs_dir=self.stack.logs_dir,
            problems=problems,
        )

    def _show_failed_task_logs(self, lines: int = 25) -> None:
        """The end of each failed task's log, so the reason is on screen without opening the UI."""
        if self._run is None:
            return
        client, run_id = self._run
        try:
            states = client.task_states(self.dag_id, run_id)
            for task_id in [task for task, state in states.items() if state == "failed"]:
                tail = client.task_log(self.dag_id, run_id, task_id).splitlines()[-lines:]
                self._say(f"  --- last {len(tail)} log lines of {task_id} ---\n" + "\n".join(tail))
        except Exception as error:  # the explanation must not hide the failure it explains
            self._say(f"  (could not fetch task logs: {error})")

    # -- waiting with progress --------------------------------------------------------------------

    def _follow(self, client: AirflowRestClient, run_id: str, done: Callable[[], T | None], what: str) -> T:
        """Poll ``done`` every second, printing each task's state changes meanwhile."""

        def check() -> T | None:
            for task_id, state in client.task_states(self.dag_id, run_id).items():
                if state and self._task_states.get(task_id) != state:
                    self._task_states[task_id] = state
                    self.say(f"  {task_id}: {state}")
            return done()

        return poll_until(check, self.options.timeout_seconds, 1.0, what)


def _xcom_if_succeeded(
    client: AirflowRestClient, run_id: str, task_instances: Sequence[Mapping[str, Any]], task_id: str
) -> Any:
    """The task's return value, or None when it did not succeed (or did not run)."""
    succeeded = any(ti["task_id"] == task_id and ti.get("state") == "success" for ti in task_instances)
    return client.xcom_value(DAG_ID, run_id, task_id) if succeeded else None
