"""``aurora-bluegreen demo --fleet N``: N sandbox blues, each under its own write load, deployed by
the fleet DAG in waves through real Airflow, every approval answered over REST as a person would.

The report has one line per cluster: its state, write freeze, the longest wait its application
saw, and how many of its acknowledged writes are missing on its green (counted on green itself,
not taken from the DAG's word).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient
from aurora_bluegreen.demo.report import seconds_between
from aurora_bluegreen.demo.runner import Demo, default_conf
from aurora_bluegreen.errors import AirflowRestError
from aurora_bluegreen.models import ClusterInfo
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

FLEET_DAG_ID = "aurora_bluegreen_fleet"


def member(n: int) -> dict[str, str]:
    return {"blue_cluster_id": f"blue-{n}", "green_cluster_id": f"green-{n}", "repoint": f"sandbox:app_{n}"}


class FleetDemo(Demo):
    dag_id = FLEET_DAG_ID

    def __init__(self, *args: Any, size: int, wave_size: int = 2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members = [member(n) for n in range(1, size + 1)]
        self.wave_size = wave_size

    def _deploy_under_load(self, loads: list[LoadGenerator]) -> bool:
        """Every member's blue and its own application's load, Airflow, then the fleet DAG."""
        blues = [self._start_member(m) for m in self.members]
        by_blue: dict[str, LoadGenerator] = {}
        for m in self.members:
            endpoint = m["repoint"].split(":", 1)[1]
            load = LoadGenerator.in_sandbox(self.sandbox.state_dir, endpoint, self.options.rate)
            loads.append(load)
            by_blue[m["blue_cluster_id"]] = load
            load.start()
        self.say(f"load: {len(by_blue)} applications, each writing about {self.options.rate:g}/s")
        client = self._start_airflow(blues[0])
        return self._deploy_fleet(client, by_blue)

    def _start_member(self, m: dict[str, str]) -> ClusterInfo:
        blue = self.sandbox.create_blue(m["blue_cluster_id"])
        self.sandbox.point_endpoint(m["repoint"].split(":", 1)[1], blue.cluster_id)
        self.say(f"sandbox: {blue.cluster_id} up on {blue.endpoint}:{blue.port}")
        return blue

    def _deploy_fleet(self, client: AirflowRestClient, loads: dict[str, LoadGenerator]) -> bool:
        client.unpause_dag(FLEET_DAG_ID)
        run_id = f"demo_fleet__{datetime.now(timezone.utc):%Y%m%dT%H%M%S}"
        connections = {key: value for key, value in default_conf().items() if key.endswith("_conn_id")}
        conf = {"clusters": self.members, "wave_size": self.wave_size, "approval": "wave", **connections}
        client.trigger_dag_run(FLEET_DAG_ID, run_id=run_id, conf=conf)
        self._run = (client, run_id)
        self.say(
            f"triggered {FLEET_DAG_ID} run {run_id}: {len(self.members)} blues, waves of {self.wave_size}"
        )

        answered: set[tuple[str, int]] = set()

        def approve_or_finish() -> dict[str, Any] | None:
            for request in client.pending_approvals(FLEET_DAG_ID, run_id):
                ti = request["task_instance"]
                if (ti["task_id"], ti["map_index"]) in answered:
                    continue
                self.say(f"approval requested: {request['subject']!r}; approving")
                try:
                    client.answer_when_settled(request, ["Approve"], self.options.approval_settle_seconds)
                except AirflowRestError as error:  # the task moved on meanwhile: look again next poll
                    self.say(f"  not answered yet ({error}); trying again")
                    continue
                answered.add((ti["task_id"], ti["map_index"]))
            return client.finished_run(FLEET_DAG_ID, run_id)

        run = self._follow(client, run_id, approve_or_finish, "the fleet run to finish")
        self.say(f"run {run['state']}")
        summaries = {blue: load.stop() for blue, load in loads.items()}
        try:
            summary = client.xcom_value(FLEET_DAG_ID, run_id, "summary")
        except AirflowRestError:  # the summary never ran: the run failed before it
            summary = []
        rows = {row["blue_cluster_id"]: row for row in summary}
        ok = run["state"] == "success"
        lines = [f"\nFleet run {run_id}: {run['state']}", f"  engine: {self.sandbox.engine.version}"]
        for m in self.members:
            blue, green = m["blue_cluster_id"], m["green_cluster_id"]
            with self.sandbox.connect(green) as connection:
                missing = len(missing_writes(Path(summaries[blue].acked_ids_file), connection))
            row = rows.get(blue, {})
            counters = summaries[blue].counters
            freeze = row.get("freeze_ms")
            lines.append(
                f"  {blue} -> {green}: {row.get('state', 'unknown')}, wave {row.get('wave', '?')}, "
                f"freeze {'-' if freeze is None else f'{freeze:.0f} ms'}, longest write wait "
                f"{counters.max_ack_gap_ms:.0f} ms, acknowledged {counters.acknowledged}, missing: {missing}"
            )
            ok = ok and missing == 0 and counters.acknowledged > 0 and row.get("state") == "cut over"
        wall = seconds_between(run["queued_at"], run["end_date"]) or 0.0
        lines.append(f"  wall time from trigger to end: {wall:.1f} s (approvals answered at once)")
        self._say("\n".join(lines))
        return ok
