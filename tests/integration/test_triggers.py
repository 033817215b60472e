"""The triggers' ``run()`` loops on real servers, driven by asyncio as the triggerer drives them."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from helpers import replica_status, sandbox_connections, write_orders

from aurora_bluegreen.models import CloneSpec
from aurora_bluegreen.triggers.clone_ready import CloneReadyTrigger
from aurora_bluegreen.triggers.replica_lag import ReplicaLagTrigger

pytestmark = pytest.mark.integration


@pytest.fixture
def green(sandbox, replication, set_connections):
    """A clone of blue, replicating from the clone point, with Airflow connections to reach it."""
    set_connections(sandbox_connections(sandbox, control_plane="trigger_cp", admin="trigger_admin"))
    info = sandbox.clone(CloneSpec("blue", "trigger-green", "trigger-green-w"))
    replication.start("trigger-green", sandbox.clone_coordinates("trigger-green").position)
    replication.wait_caught_up("trigger-green")
    yield info
    sandbox.delete("trigger-green")


def first_event(trigger, timeout=30):
    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(run(), timeout))


def lag_trigger(info, **overrides):
    arguments = {
        "admin_conn_id": "trigger_admin",
        "host": info.endpoint,
        "port": info.port,
        "max_lag_seconds": 1,
        "poll_interval": 0.2,
        "timeout": 20,
        **overrides,
    }
    return ReplicaLagTrigger(**arguments)


def test_lag_trigger_waits_for_a_lagging_replica_then_reports_caught_up(sandbox, connect, green):
    # A lock on green's table stalls its SQL thread; blue keeps writing, so green falls behind.
    blocker = connect("trigger-green", "root")
    with blocker.cursor() as cursor:
        cursor.execute("LOCK TABLES shop.orders WRITE")
    write_orders(connect, "blue", "trigger-lag")
    releaser = threading.Timer(3, blocker.close)
    releaser.start()
    try:
        event = first_event(lag_trigger(green))
    finally:
        releaser.join()
    assert event["status"] == "caught_up", event
    assert event["replica"]["exec_position"] is not None
    assert event["replica"]["observed_at"].endswith(" UTC"), event  # the approval shows when


def test_lag_trigger_reports_broken_replication_at_once(sandbox, connect, green):
    with connect("trigger-green", "root") as root, root.cursor() as cursor:
        cursor.execute("SET sql_log_bin=0")
        cursor.execute("DROP TABLE shop.orders")
    write_orders(connect, "blue", "trigger-broken")
    # Once the applier has failed on the missing table, the first poll must say so, never "caught up".
    deadline = time.monotonic() + 15
    while (status := replica_status(sandbox, "trigger-green")).sql_running != "No":
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    event = first_event(lag_trigger(green, timeout=600), timeout=15)
    assert event["status"] == "broken"
    assert "orders' doesn't exist" in event["message"]


def test_trigger_round_trips_through_serialize(green):
    trigger = lag_trigger(green)
    path, kwargs = trigger.serialize()
    assert path == "aurora_bluegreen.triggers.replica_lag.ReplicaLagTrigger"
    assert ReplicaLagTrigger(**kwargs).serialize() == (path, kwargs)


def test_clone_ready_trigger_reports_ready_for_a_clone_and_error_for_blue(green):
    assert first_event(CloneReadyTrigger("trigger_cp", "trigger-green", 0.2, 10))["status"] == "ready"
    # Blue is no clone: its coordinates never appear, so the trigger gives up with the reason.
    event = first_event(CloneReadyTrigger("trigger_cp", "blue", 0.2, 1))
    assert event["status"] == "error"
    assert "coordinates unknown" in event["message"]
