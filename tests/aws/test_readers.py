"""Reader nodes for green: spread across the subnet group's zones, idempotent, tagged, deferrable."""

from __future__ import annotations

import asyncio

import pytest
from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred
from helpers import sandbox_connection
from moto_aws import AWS_CONN_ID, clone_spec, tags_of

from aurora_bluegreen.errors import InvalidInput, NotManagedByUs
from aurora_bluegreen.models import InstanceInfo
from aurora_bluegreen.operators.readers import AuroraReadersOperator
from aurora_bluegreen.readers import place_readers, reader_ids, readers_verdict
from aurora_bluegreen.triggers.readers_available import ReadersAvailableTrigger

ZONES = ["az-a", "az-b", "az-c"]


def node(instance_id, zone, cluster="green", writer=False, managed=True):
    tags = {"managed-by": "aurora-bluegreen"} if managed else {}
    return InstanceInfo(instance_id, cluster, "db.r6g.large", zone, "available", writer, tags)


WRITER = node("green-writer", "az-a", writer=True)


def test_reader_ids_fit_rds_limit_of_63_characters():
    assert reader_ids("green", 2) == ["green-reader-1", "green-reader-2"]
    long_id = "g" * 60 + "-x"
    assert all(len(i) <= 63 and not i.startswith("-") for i in reader_ids(long_id, 12))
    assert reader_ids(long_id, 1)[0] == "g" * 54 + "-reader-1"


def test_readers_go_to_the_zones_without_the_writer_first():
    placed = place_readers("green", reader_ids("green", 4), ZONES, [WRITER], {})
    assert [p.zone for p in placed] == ["az-b", "az-c", "az-a", "az-b"]
    assert not any(p.exists for p in placed)


def test_an_existing_reader_of_ours_stays_where_it_is_and_counts():
    existing = node("green-reader-1", "az-c")
    placed = place_readers(
        "green", reader_ids("green", 2), ZONES, [WRITER, existing], {"green-reader-1": existing}
    )
    assert [(p.instance_id, p.zone, p.exists) for p in placed] == [
        ("green-reader-1", "az-c", True),
        ("green-reader-2", "az-b", False),
    ]


@pytest.mark.parametrize(
    "squatter",
    [node("green-reader-1", "az-b", managed=False), node("green-reader-1", "az-b", cluster="blue")],
)
def test_an_instance_with_a_readers_id_that_is_not_ours_stops_everything(squatter):
    with pytest.raises(NotManagedByUs, match="green-reader-1 exists and is not a reader"):
        place_readers("green", reader_ids("green", 2), ZONES, [WRITER], {"green-reader-1": squatter})


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ({"r1": "available", "r2": "available"}, "ready"),
        ({"r1": "available", "r2": "creating"}, "waiting"),
        ({"r1": "available", "r2": "incompatible-parameters"}, "failed"),
        ({"r1": "missing"}, "failed"),
    ],
)
def test_readers_verdict(statuses, verdict):
    assert readers_verdict(statuses)[0] == verdict


def readers_operator(**kwargs):
    arguments = {
        "task_id": "add_readers",
        "cluster_id": "green",
        "reader_count": 2,
        "aws_conn_id": AWS_CONN_ID,
        "deferrable": False,
        "waiter_delay": 0,
        **kwargs,
    }
    return AuroraReadersOperator(**arguments)


@pytest.fixture
def green(backend, blue):
    return backend.clone(clone_spec(blue))


def test_readers_are_added_across_zones_tagged_and_idempotent(green, rds, context):
    result = readers_operator().execute(context)

    assert [(r["instance_id"], r["zone"], r["created"]) for r in result["readers"]] == [
        ("green-reader-1", "eu-west-1b", True),
        ("green-reader-2", "eu-west-1c", True),
    ]
    reader = rds.describe_db_instances(DBInstanceIdentifier="green-reader-1")["DBInstances"][0]
    assert (reader["DBClusterIdentifier"], reader["DBInstanceClass"]) == ("green", "db.r6g.large")
    assert tags_of(rds, reader["DBInstanceArn"]) == {
        "managed-by": "aurora-bluegreen",
        "role": "green",
        "source-cluster": "blue",
        "dag-run": context["dag_run"].run_id,
    }
    assert context["ti"].xcom["aurora_cluster"]["cluster_id"] == "green"

    again = readers_operator(reader_count=3, instance_class="db.r6g.xlarge").execute(context)
    assert [r["created"] for r in again["readers"]] == [False, False, True]
    assert again["readers"][2]["zone"] == "eu-west-1a"
    assert (
        len(
            rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["green"]}])["DBInstances"]
        )
        == 4
    )


def test_deferrable_readers_wait_in_the_trigger(green, context):
    with pytest.raises(TaskDeferred) as deferred:
        readers_operator(deferrable=True).execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, ReadersAvailableTrigger)
    assert trigger.instance_ids == ["green-reader-1", "green-reader-2"]
    # The trigger polls moto (in a thread, as in the triggerer) and finds both available.
    event = asyncio.run(trigger.run().__anext__())
    assert event.payload["status"] == "success"
    result = readers_operator(deferrable=True).execute_complete(
        context, event.payload, **deferred.value.kwargs
    )
    assert len(result["readers"]) == 2


def test_trigger_waits_through_creating_and_fails_fast_on_a_broken_reader(monkeypatch):
    trigger = ReadersAvailableTrigger(["r1"], waiter_delay=0, waiter_max_attempts=5, aws_conn_id=AWS_CONN_ID)
    sequence = iter([{"r1": "creating"}, {"r1": "backing-up"}, {"r1": "available"}])
    monkeypatch.setattr(trigger, "statuses", lambda: next(sequence))
    assert asyncio.run(trigger.run().__anext__()).payload["status"] == "success"

    broken = iter([{"r1": "creating"}, {"r1": "incompatible-network"}])
    monkeypatch.setattr(trigger, "statuses", lambda: next(broken))
    event = asyncio.run(trigger.run().__anext__()).payload
    assert event["status"] == "error" and "r1 is incompatible-network" in event["message"]

    monkeypatch.setattr(trigger, "statuses", lambda: {"r1": "creating"})
    event = asyncio.run(trigger.run().__anext__()).payload
    assert event["status"] == "error" and "not ready after 5 polls" in event["message"]


def test_trigger_serializes_for_the_triggerer():
    trigger = ReadersAvailableTrigger(["r1"], 30, 60, AWS_CONN_ID, region_name="eu-west-1")
    path, kwargs = trigger.serialize()
    assert path == "aurora_bluegreen.triggers.readers_available.ReadersAvailableTrigger"
    assert ReadersAvailableTrigger(**kwargs).serialize() == (path, kwargs)


def test_no_readers_asked_touches_nothing(context):
    assert (
        readers_operator(reader_count=0, aws_conn_id="not_even_a_connection").execute(context)["readers"]
        == []
    )


@pytest.mark.parametrize("count", [-1, 16, "2", True])
def test_reader_count_is_checked_first(count, context):
    with pytest.raises(InvalidInput, match="reader_count"):
        readers_operator(reader_count=count).execute(context)


def test_readers_are_skipped_on_the_sandbox(set_connections, context):
    set_connections({"sandbox_cp": sandbox_connection("/tmp")})
    with pytest.raises(AirflowSkipException):
        readers_operator(aws_conn_id="sandbox_cp").execute(context)


def test_readers_are_never_added_to_a_cluster_that_is_not_ours(backend, blue, context):
    with pytest.raises(NotManagedByUs):
        readers_operator(cluster_id="blue").execute(context)
