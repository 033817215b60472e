"""The harness itself: a throwaway DAG with a deferrable sensor and an approval runs to success.

If this fails, the Airflow set-up is broken, not the deployment DAG: the sensor proves the
triggerer runs deferred tasks, the approval proves HITL answers over REST reach the task.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from pathlib import Path

from aurora_bluegreen.demo.airflow_rest import AirflowRestClient
from aurora_bluegreen.demo.airflow_stack import AirflowStack

SMOKE_DAG_ID = "e2e_stack_smoke"

SMOKE_DAG = f'''
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, task

with DAG("{SMOKE_DAG_ID}", schedule=None, catchup=False):

    @task
    def report():
        return {{"freeze_ms": 1.5, "steps": [{{"name": "freeze", "duration_ms": 1.5, "detail": "ok"}}]}}

    # Two seconds after the task starts, so it always defers to the triggerer.
    wait = DateTimeSensorAsync(
        task_id="wait", target_time="{{{{ macros.datetime.utcnow() + macros.timedelta(seconds=2) }}}}"
    )
    approve = ApprovalOperator(task_id="approve", subject="Proceed?")
    report() >> wait >> approve
'''


def test_deferred_sensor_and_rest_approval_run_to_success(
    airflow_stack: AirflowStack, airflow: AirflowRestClient, e2e_dags_dir: Path
) -> None:
    (e2e_dags_dir / "e2e_stack_smoke.py").write_text(SMOKE_DAG)
    airflow_stack.wait_for_dags([SMOKE_DAG_ID], timeout=60)
    airflow.unpause_dag(SMOKE_DAG_ID)
    run_id = f"e2e_{uuid.uuid4().hex[:8]}"
    airflow.trigger_dag_run(SMOKE_DAG_ID, run_id=run_id)

    request = airflow.wait_for_approval_request(SMOKE_DAG_ID, run_id, timeout=90)
    assert request["task_instance"]["task_id"] == "approve"
    airflow.answer_when_settled(request, ["Approve"])
    run = airflow.wait_for_dag_run(SMOKE_DAG_ID, run_id, timeout=90)

    states = airflow.task_states(SMOKE_DAG_ID, run_id)
    assert run["state"] == "success", states
    assert states == {"report": "success", "wait": "success", "approve": "success"}
    assert "DEFERRED" in airflow.task_log(SMOKE_DAG_ID, run_id, "wait")
    assert airflow.xcom_value(SMOKE_DAG_ID, run_id, "report")["freeze_ms"] == 1.5
    assert airflow_stack.running_pids()


def listening_addresses(pids: list[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state held by one of ``pids``, from /proc."""
    inodes = set()
    for pid in pids:
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue  # a task process that ended meanwhile
        inodes |= {link[len("socket:[") : -1] for link in links if link.startswith("socket:[")}
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:
                address, port = local.split(":")
                raw = bytes.fromhex(address)
                # The kernel prints each 32-bit word in host (little-endian) order.
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
                found.add((str(ipaddress.ip_address(words)), int(port, 16)))
    return found


def test_every_listener_of_the_stack_is_on_loopback(airflow_stack: AirflowStack) -> None:
    listeners = listening_addresses(airflow_stack.running_pids())
    assert ("127.0.0.1", airflow_stack.port) in listeners, listeners
    for address, port in listeners:
        ip = ipaddress.ip_address(address)
        mapped = getattr(ip, "ipv4_mapped", None)
        assert ip.is_loopback or (mapped is not None and mapped.is_loopback), (address, port)
