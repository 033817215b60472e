"""The fleet DAG through real Airflow: two blues in one wave, each under its own write load,
approved per cluster; meanwhile a run on a blue the fleet holds is refused, and a run on another
blue goes ahead at the same time."""

from __future__ import annotations

import time
import uuid

from helpers import sandbox_connections

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient, poll_until
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

FLEET = "aurora_bluegreen_fleet"
DEPLOYMENT = "aurora_bluegreen_deployment"


def connections(airflow: AirflowRestClient, sandbox) -> dict[str, str]:
    airflow.upsert_connections(
        sandbox_connections(
            sandbox,
            control_plane="fleet_sandbox",
            admin="fleet_admin",
            replication=("fleet_replication", "repl_fleet", "fleet-repl-" + uuid.uuid4().hex[:8]),
        )
    )
    for dag_id in (FLEET, DEPLOYMENT):
        airflow.unpause_dag(dag_id)
    return {
        "control_plane_conn_id": "fleet_sandbox",
        "admin_conn_id": "fleet_admin",
        "replication_conn_id": "fleet_replication",
    }


def deployment_conf(name: str, conns: dict[str, str]) -> dict:
    return {
        "blue_cluster_id": f"{name}-blue",
        "green_cluster_id": f"{name}-green",
        "writer_instance_id": f"{name}-green-writer",
        "repoint": f"sandbox:{name.replace('-', '_')}",
        **conns,
    }


def test_two_blues_in_one_wave_under_load_while_the_lock_refuses_a_run_on_a_held_blue(
    first_engine_only, sandbox, connect, airflow
):
    # The fleet's wiring and the lock do not depend on the engine; each task's SQL is proven on
    # both engines by the integration suites.
    conns = connections(airflow, sandbox)
    names = ["e2e-fleet-a", "e2e-fleet-b"]
    loads = {}
    for name in [*names, "e2e-other"]:
        sandbox.create_blue(f"{name}-blue")
        sandbox.point_endpoint(name.replace("-", "_"), f"{name}-blue")
    for name in names:
        loads[name] = LoadGenerator.in_sandbox(sandbox.state_dir, name.replace("-", "_"), rate=200)
        loads[name].start()
    members = [
        {key: deployment_conf(name, conns)[key] for key in ("blue_cluster_id", "green_cluster_id", "repoint")}
        for name in names
    ]
    fleet_run = f"e2e_fleet_{uuid.uuid4().hex[:6]}"
    try:
        airflow.trigger_dag_run(
            FLEET,
            run_id=fleet_run,
            conf={
                "clusters": members,
                "wave_size": 2,
                "approval": "cluster",
                "max_freeze_seconds": 5,
                **conns,
            },
        )
        requests = poll_until(
            lambda: (
                ((found := airflow.pending_approvals(FLEET, fleet_run)) and len(found) == 2 and found) or None
            ),
            timeout=240,
            poll_seconds=1,
            what="an approval per cluster of the wave",
        )
        # While the fleet holds both blues: a deployment of one of them is refused, naming the
        # fleet's run; a deployment of another blue runs at the same time.
        refused_run, other_run = f"e2e_refused_{uuid.uuid4().hex[:6]}", f"e2e_other_{uuid.uuid4().hex[:6]}"
        airflow.trigger_dag_run(DEPLOYMENT, run_id=refused_run, conf=deployment_conf(names[0], conns))
        airflow.trigger_dag_run(DEPLOYMENT, run_id=other_run, conf=deployment_conf("e2e-other", conns))
        refused = airflow.wait_for_dag_run(DEPLOYMENT, refused_run, timeout=120)
        other_request = airflow.wait_for_approval_request(DEPLOYMENT, other_run, timeout=240)

        bodies = sorted(request["body"] for request in requests)
        assert "`e2e-fleet-a-green`" in bodies[0] and "both threads running" in bodies[0]
        for request in requests:
            airflow.answer_when_settled(request, ["Approve"])
        airflow.answer_when_settled(other_request, ["Reject"])
        fleet = airflow.wait_for_dag_run(FLEET, fleet_run, timeout=240)
        other = airflow.wait_for_dag_run(DEPLOYMENT, other_run, timeout=120)
        time.sleep(1.5)  # the applications write to green for a moment
    finally:
        summaries = {name: load.stop() for name, load in loads.items()}

    states = airflow.task_states(FLEET, fleet_run)
    assert fleet["state"] == "success", states
    summary = airflow.xcom_value(FLEET, fleet_run, "summary")
    assert [(row["blue_cluster_id"], row["state"], row["missing_events"]) for row in summary] == [
        ("e2e-fleet-a-blue", "cut over", 0),
        ("e2e-fleet-b-blue", "cut over", 0),
    ]
    assert all(row["freeze_ms"] > 0 for row in summary)
    for name in names:
        # The data: every write the application saw acknowledged, on either cluster, is on green.
        assert summaries[name].counters.acknowledged > 0
        assert summaries[name].counters.clusters_seen == [f"{name}-blue", f"{name}-green"]
        assert missing_writes(loads[name].acked_ids_file, connect(f"{name}-green", "root")) == []

    refused_states = airflow.task_states(DEPLOYMENT, refused_run)
    assert refused["state"] == "failed" and refused_states["hold_blue"] == "failed", refused_states
    assert refused_states["clone_green"] == "upstream_failed"
    assert f"{FLEET} run {fleet_run}" in airflow.task_log(DEPLOYMENT, refused_run, "hold_blue")
    assert sandbox.find(f"{names[0]}-green") is not None  # the fleet's green, not a second one

    other_states = airflow.task_states(DEPLOYMENT, other_run)
    assert other["state"] == "success" and other_states["hold_blue"] == "success", other_states
    assert other_states["release_blue"] == "success"
