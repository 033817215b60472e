"""Green's engine upgrade on AWS (issue 14), against moto, under docs/iam-policy.json.

Where moto lacks Aurora behaviour, the test supplies exactly that response and says so:
``describe_db_engine_versions`` is not implemented by moto 5 (the ``ValidUpgradeTarget`` lists
below are AWS's shape, trimmed), and moto's events never hold the precheck failure Aurora MySQL 2
-> 3 reports. Moto applies ``modify_db_cluster``'s ``EngineVersion`` at once, so the wait ends at
its first poll; the trigger's failure path is driven by the supplied event.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from moto_aws import AURORA2, AWS_CONN_ID, OperationStubber, clone_spec, create_blue, parameters, tags_of

from aurora_bluegreen.errors import ClusterStateError, InvalidInput
from aurora_bluegreen.operators.upgrade import UpgradeGreenOperator
from aurora_bluegreen.parameter_groups import Level, owned_group_name
from aurora_bluegreen.triggers.engine_upgrade import EngineUpgradeTrigger

AURORA3_TARGET = "8.0.mysql_aurora.3.08.2"
MINOR_TARGET = "5.7.mysql_aurora.2.12.4"
PRECHECK_FAILED = (
    "Database cluster is in a state that cannot be upgraded: Upgrade prechecks failed. For more "
    "details, see the upgrade-prechecks.log file."
)


def engine_versions(version: str, *targets: tuple[str, bool]) -> dict:
    """A ``describe_db_engine_versions`` response as AWS gives it, trimmed to what is read."""
    return {
        "DBEngineVersions": [
            {
                "Engine": "aurora-mysql",
                "EngineVersion": version,
                "DBParameterGroupFamily": "aurora-mysql5.7",
                "ValidUpgradeTarget": [
                    {
                        "Engine": "aurora-mysql",
                        "EngineVersion": target,
                        "IsMajorVersionUpgrade": major,
                        "AutoUpgrade": False,
                    }
                    for target, major in targets
                ],
            }
        ]
    }


@pytest.fixture
def green(backend, rds, network):
    """An Aurora MySQL 2 blue and its green, as the deployment DAG's clone leaves them."""
    blue = create_blue(rds, network, engine_version=AURORA2)
    backend.clone(clone_spec(blue))
    return blue


def with_targets(backend, count=1):
    """Moto has no describe_db_engine_versions: this one response per call is supplied."""
    stub = OperationStubber(backend.rds.client, "describe_db_engine_versions")
    for _ in range(count):
        stub.add_response(
            "describe_db_engine_versions",
            engine_versions(AURORA2, (MINOR_TARGET, False), (AURORA3_TARGET, True)),
            {"Engine": "aurora-mysql", "EngineVersion": AURORA2},
        )
    return stub


def test_valid_targets_are_rdss_and_an_invalid_one_changes_nothing(backend, rds, green):
    with with_targets(backend, 2):
        assert backend.engine_upgrade_targets("green") == [MINOR_TARGET, AURORA3_TARGET]
        with pytest.raises(InvalidInput, match=r"valid upgrade targets: 5\.7\.mysql_aurora\.2\.12\.4, 8\.0"):
            backend.upgrade_engine("green", "8.0.mysql_aurora.3.99.0")
    assert rds.describe_db_clusters(DBClusterIdentifier="green")["DBClusters"][0]["EngineVersion"] == AURORA2
    groups = rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
    assert not [group for group in groups if group["DBClusterParameterGroupName"].endswith("-80")]


def test_no_target_at_all_is_said_with_rdss_words(backend, green):
    with OperationStubber(backend.rds.client, "describe_db_engine_versions") as stub:
        stub.add_response("describe_db_engine_versions", engine_versions(AURORA2))
        assert (
            backend.engine_upgrade_refusal("green")
            == f"RDS lists no valid upgrade target for aurora-mysql {AURORA2}"
        )


def test_a_major_upgrade_gets_new_family_groups_of_ours_from_blues_values(backend, rds, green):
    with with_targets(backend):
        backend.upgrade_engine("green", AURORA3_TARGET)

    cluster_group = f"{owned_group_name('green', Level.CLUSTER)}-80"
    instance_group = f"{owned_group_name('green', Level.INSTANCE)}-80"
    described = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=cluster_group)
    assert described["DBClusterParameterGroups"][0]["DBParameterGroupFamily"] == "aurora-mysql8.0"
    # read_only=1 at the level Aurora MySQL 3 keeps it; blue's binlog_format carried over.
    assert parameters(rds, cluster_group, "cluster") == {"read_only": "1", "binlog_format": "ROW"}
    described = rds.describe_db_parameter_groups(DBParameterGroupName=instance_group)
    assert described["DBParameterGroups"][0]["DBParameterGroupFamily"] == "aurora-mysql8.0"
    for kind, name in (("cluster-pg", cluster_group), ("pg", instance_group)):
        tags = tags_of(rds, f"arn:aws:rds:eu-west-1:123456789012:{kind}:{name}")
        assert tags["managed-by"] == "aurora-bluegreen" and tags["source-cluster"] == "blue"
    green = rds.describe_db_clusters(DBClusterIdentifier="green")["DBClusters"][0]
    assert green["EngineVersion"] == AURORA3_TARGET
    assert backend.runs_engine_version("green", AURORA3_TARGET)
    blue = rds.describe_db_clusters(DBClusterIdentifier="blue")["DBClusters"][0]
    assert blue["EngineVersion"] == AURORA2  # never touched
    assert parameters(rds, "blue-cluster-params", "cluster") == {"binlog_format": "ROW"}


def test_a_minor_upgrade_keeps_greens_groups(backend, rds, green):
    before = rds.describe_db_clusters(DBClusterIdentifier="green")["DBClusters"][0]["DBClusterParameterGroup"]
    with with_targets(backend):
        backend.upgrade_engine("green", MINOR_TARGET)
    after = rds.describe_db_clusters(DBClusterIdentifier="green")["DBClusters"][0]
    assert after["EngineVersion"] == MINOR_TARGET and after["DBClusterParameterGroup"] == before
    groups = rds.describe_db_parameter_groups()["DBParameterGroups"]
    assert not [group for group in groups if group["DBParameterGroupName"].endswith("-80")]


def test_blue_is_never_upgraded(backend, green):
    with pytest.raises(PermissionError, match="blue"):
        backend.upgrade_engine("blue", MINOR_TARGET)


def run_trigger(since):
    trigger = EngineUpgradeTrigger(AWS_CONN_ID, "green", AURORA3_TARGET, since.isoformat(), 0, 60)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(first_event())


def test_the_wait_ends_when_green_runs_the_target(backend, green):
    since = datetime.now(timezone.utc)
    with with_targets(backend):
        backend.upgrade_engine("green", AURORA3_TARGET)
    event = run_trigger(since)
    assert event["status"] == "upgraded" and event["cluster_id"] == "green"


def test_a_failed_precheck_fails_the_task_with_the_events_text(backend, rds, green):
    since = datetime.now(timezone.utc) - timedelta(seconds=1)
    # Moto's events never hold Aurora's precheck failure: this one response is supplied.
    failed = {
        "Events": [
            {
                "SourceIdentifier": "green",
                "SourceType": "db-cluster",
                "Message": PRECHECK_FAILED,
                "EventCategories": ["maintenance"],
                "Date": datetime.now(timezone.utc),
            }
        ]
    }
    with OperationStubber(backend.rds.client, "describe_events") as stub:
        stub.add_response("describe_events", failed)
        assert backend.upgrade_failure("green", since) == f"RDS event on green: {PRECHECK_FAILED}"
    operator = UpgradeGreenOperator(
        task_id="upgrade_green",
        blue_cluster_id="blue",
        green_cluster_id="green",
        target_engine_version=AURORA3_TARGET,
        control_plane_conn_id=AWS_CONN_ID,
        admin_conn_id="unused",
    )
    start = {
        "target": AURORA3_TARGET,
        "started_at": since.isoformat(),
        "position_before": {
            "source_host": "blue.example",
            "source_port": 3306,
            "auto_position": False,
            "exec_position": {"file": "mysql-bin-changelog.000002", "position": 4},
            "executed_gtid_set": None,
        },
        "green_version_before": AURORA2,
        "blue_version": AURORA2,
        "seconds": {},
    }
    event = {"status": "error", "cluster_id": "green", "message": f"RDS event on green: {PRECHECK_FAILED}"}
    with pytest.raises(ClusterStateError, match=r"Upgrade prechecks failed\..*Blue was not touched"):
        operator.execute_complete({}, event, start, 1.0)
    assert rds.describe_db_clusters(DBClusterIdentifier="blue")["DBClusters"][0]["EngineVersion"] == AURORA2
