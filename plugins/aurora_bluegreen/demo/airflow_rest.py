"""A small client for the Airflow 3.3 public REST API: just what the demo and the e2e tests drive.

Every path here was checked against ``airflow/api_fastapi/core_api/routes/public/`` of 3.3.2.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, TypeVar

import httpx

from aurora_bluegreen.errors import AirflowRestError, DemoError, WaitTimedOut

T = TypeVar("T")

# Dag-run states after which nothing will change without a person clearing tasks.
TERMINAL_RUN_STATES = frozenset({"success", "failed"})

# In 3.3.2 an answer that lands within about a second of the task entering ``awaiting_input``
# races the scheduler and fails the task ("finished with state success, but the task instance's
# state attribute is queued"). Answering 8 s after the request appeared always worked.
APPROVAL_SETTLE_SECONDS = 8.0


class AirflowRestClient:
    """Talks to one api-server as one simple-auth-manager user, with a bearer token."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._token: str | None = None

    def close(self) -> None:
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def login(self) -> None:
        response = self._http.post(
            "/auth/token", json={"username": self._username, "password": self._password}
        )
        _raise_for_status(response)
        self._token = response.json()["access_token"]

    def _request(
        self, method: str, path: str, headers: Mapping[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        if self._token is None:
            self.login()
        response = self._http.request(method, path, headers=self._headers(headers), **kwargs)
        if response.status_code == 401:
            # Tokens expire (24 h by default); one fresh login tells expiry from bad credentials.
            self.login()
            response = self._http.request(method, path, headers=self._headers(headers), **kwargs)
        _raise_for_status(response)
        return response

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**(extra or {}), "Authorization": f"Bearer {self._token}"}

    # -- health and parsing -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """``GET /api/v2/monitor/health``; needs no login. Raises httpx errors while the server is down."""
        response = self._http.get("/api/v2/monitor/health")
        _raise_for_status(response)
        return response.json()

    def execution_api_health(self) -> dict[str, Any]:
        """``GET /execution/health``: the API that task processes talk to; needs no login."""
        response = self._http.get("/execution/health")
        _raise_for_status(response)
        return response.json()

    def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG as the api-server knows it, or None until the dag-processor has parsed it."""
        try:
            return self._request("GET", f"/api/v2/dags/{dag_id}").json()
        except AirflowRestError as error:
            if error.status_code == 404:
                return None
            raise

    def import_errors(self) -> list[dict[str, Any]]:
        """Files the dag-processor could not import, each with ``filename`` and ``stack_trace``."""
        return self._request("GET", "/api/v2/importErrors", params={"limit": 100}).json()["import_errors"]

    # -- connections ------------------------------------------------------------------------------

    def upsert_connections(self, connections: Mapping[str, Mapping[str, Any]]) -> None:
        """Create or overwrite connections so they show in the UI's connection list.

        ``connections`` maps a connection id to fields in the shape of ``airflow connections
        import`` JSON: ``conn_type``, ``host``, ``port``, ``login``, ``password``, ``schema``,
        ``description`` and ``extra`` (a dict or a JSON string).
        """
        if not connections:
            return
        entities = [_connection_body(conn_id, fields) for conn_id, fields in connections.items()]
        body = {"actions": [{"action": "create", "entities": entities, "action_on_existence": "overwrite"}]}
        result = self._request("PATCH", "/api/v2/connections", json=body).json()
        errors = result.get("create", {}).get("errors") or []
        if errors:
            raise DemoError(f"could not register connections: {errors}")

    # -- DAGs and runs ----------------------------------------------------------------------------

    def unpause_dag(self, dag_id: str) -> None:
        self._request("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger_dag_run(
        self, dag_id: str, run_id: str | None = None, conf: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Start a manual run now. ``logical_date`` must be sent, even as null, or the API says 422."""
        body = {"logical_date": None, "dag_run_id": run_id, "conf": dict(conf or {})}
        return self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body).json()

    def fail_active_runs(self) -> list[str]:
        """Mark every queued or running run of every DAG failed; return them as ``dag_id/run_id``."""
        params = [("state", "queued"), ("state", "running"), ("limit", 100)]
        runs = self._request("GET", "/api/v2/dags/~/dagRuns", params=params).json()["dag_runs"]
        for run in runs:
            path = f"/api/v2/dags/{run['dag_id']}/dagRuns/{run['dag_run_id']}"
            self._request("PATCH", path, json={"state": "failed"})
        return [f"{run['dag_id']}/{run['dag_run_id']}" for run in runs]

    def get_dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()

    def finished_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The run once it is ``success`` or ``failed``; None while it is still going."""
        run = self.get_dag_run(dag_id, run_id)
        return run if run["state"] in TERMINAL_RUN_STATES else None

    def wait_for_dag_run(
        self, dag_id: str, run_id: str, timeout: float, poll_seconds: float = 1.0
    ) -> dict[str, Any]:
        """Poll until the run is ``success`` or ``failed``; return the run."""
        return poll_until(
            lambda: self.finished_run(dag_id, run_id), timeout, poll_seconds, f"dag run {run_id} to finish"
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return self._request("GET", path, params={"limit": 100}).json()["task_instances"]

    def task_tries(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every try of one task, oldest first, each with its ``try_number``, ``state`` and ``hostname``."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        tries = self._request("GET", path).json()["task_instances"]
        return sorted(tries, key=lambda ti: ti["try_number"])

    def dag_tasks(self, dag_id: str) -> list[dict[str, Any]]:
        """The DAG's tasks, each with its ``downstream_task_ids``."""
        return self._request("GET", f"/api/v2/dags/{dag_id}/tasks").json()["tasks"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """``{task_id: state}``; mapped tasks show up once per map index, the last one wins."""
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}

    def xcom_value(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """The task's XCom as JSON data (a returned dict comes back as a dict)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        value = self._request("GET", path).json()["value"]
        # The API hands back what the metadata DB holds; depending on how the value was written
        # that is either the JSON document itself or its text.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int | None = None) -> str:
        """The task's log as plain text, one line per event (latest try unless given)."""
        if try_number is None:
            path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
            try_number = self._request("GET", path).json()["try_number"]
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        content = self._request(
            "GET", path, params={"full_content": "true"}, headers={"Accept": "application/json"}
        ).json()["content"]
        return "\n".join(_log_line(entry) for entry in content)

    # -- human in the loop ------------------------------------------------------------------------

    def pending_approvals(self, dag_id: str = "~", run_id: str = "~") -> list[dict[str, Any]]:
        """Unanswered HITL requests; ``~`` means every DAG / every run."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/hitlDetails"
        params = {"response_received": "false"}
        return self._request("GET", path, params=params).json()["hitl_details"]

    def respond(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        chosen_options: Iterable[str],
        map_index: int = -1,
        params_input: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer a HITL request. 400: option not offered; 409: already answered."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/hitlDetails"
        body = {"chosen_options": list(chosen_options), "params_input": dict(params_input or {})}
        return self._request("PATCH", path, json=body).json()

    def pending_approval(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        """The run's first unanswered HITL request, or None while there is none.

        Raises when the run has finished, so a broken run is reported at once, not after a timeout.
        """
        pending = self.pending_approvals(dag_id, run_id)
        if pending:
            return pending[0]
        run = self.get_dag_run(dag_id, run_id)
        if run["state"] in TERMINAL_RUN_STATES:
            raise DemoError(
                f"dag run {run_id} ended {run['state']} before asking for approval; "
                f"task states: {self.task_states(dag_id, run_id)}"
            )
        return None

    def wait_for_approval_request(self, dag_id: str, run_id: str, timeout: float) -> dict[str, Any]:
        """Poll until the run has an unanswered HITL request; return it."""
        return poll_until(
            lambda: self.pending_approval(dag_id, run_id), timeout, 1.0, f"an approval request in {run_id}"
        )

    def answer_when_settled(
        self,
        request: Mapping[str, Any],
        chosen_options: Iterable[str],
        settle_seconds: float = APPROVAL_SETTLE_SECONDS,
    ) -> dict[str, Any]:
        """Answer a request returned by ``pending_approvals``, but not before it is ``settle_seconds`` old.

        The age is measured from the request's ``created_at``, so time already spent noticing
        it counts.
        """
        created_at = datetime.fromisoformat(request["created_at"].replace("Z", "+00:00"))
        age = (datetime.now(timezone.utc) - created_at).total_seconds()
        if age < settle_seconds:
            time.sleep(settle_seconds - age)
        ti = request["task_instance"]
        return self.respond(ti["dag_id"], ti["dag_run_id"], ti["task_id"], chosen_options, ti["map_index"])


def poll_until(check: Callable[[], T | None], timeout: float, poll_seconds: float, what: str) -> T:
    """Call ``check`` until it returns something other than None; TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() >= deadline:
            raise WaitTimedOut(f"gave up waiting {timeout:.0f} s for {what}")
        time.sleep(poll_seconds)


def _raise_for_status(response: httpx.Response) -> None:
    if response.is_success:
        return
    raise AirflowRestError(
        response.request.method, response.request.url.path, response.status_code, response.text
    )


def _connection_body(conn_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    body = {"connection_id": conn_id, **fields}
    extra = body.get("extra")
    if extra is not None and not isinstance(extra, str):
        body["extra"] = json.dumps(extra)
    return body


# Keys every structured log line of a task repeats; the reader already knows them.
_LOG_CONTEXT_KEYS = frozenset(
    {"logger", "dag_id", "run_id", "task_id", "map_index", "ti_id", "try_number", "filename", "lineno"}
)


def _log_line(entry: Any) -> str:
    """A structured log event (dict) becomes ``timestamp level event key=value``; text stays text.

    An exception's ``error_detail`` is rendered like a Python traceback.
    """
    if not isinstance(entry, dict):
        return str(entry)
    fields = {key: value for key, value in entry.items() if key not in _LOG_CONTEXT_KEYS}
    parts = [str(fields.pop(name)) for name in ("timestamp", "level", "event") if fields.get(name)]
    error_detail = fields.pop("error_detail", None)
    parts += [f"{key}={value}" for key, value in fields.items()]
    return "\n".join([" ".join(parts), *_traceback_lines(error_detail or [])])


def _traceback_lines(error_detail: list[dict[str, Any]]) -> list[str]:
    lines = []
    for exception in error_detail:
        lines += [
            f'  File "{frame["filename"]}", line {frame["lineno"]}, in {frame["name"]}'
            for frame in exception.get("frames", [])
        ]
        lines.append(f"{exception.get('exc_type')}: {exception.get('exc_value')}")
    return lines
