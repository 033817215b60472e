"""AuroraBackend against moto: the clone, its writer and tags, the parameter-group rules, read_only,
the clone's coordinates, tag-guarded delete, and bad input refused before anything changes."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto_aws import (
    AURORA2,
    REGION,
    OperationStubber,
    clone_spec,
    crash_recovery_events,
    create_blue,
    freeze_group_arn,
    parameters,
    tags_of,
)

from aurora_bluegreen.control_plane.aurora import AuroraBackend
from aurora_bluegreen.control_plane.factory import backend_for_connection
from aurora_bluegreen.errors import AwsCallFailed, CloneCoordinatesMissing, InvalidInput, NotManagedByUs
from aurora_bluegreen.models import BinlogPosition, CloneSpec
from aurora_bluegreen.parameter_groups import Level, owned_group_name

GREEN_CLUSTER_GROUP = owned_group_name("green", Level.CLUSTER)
GREEN_INSTANCE_GROUP = owned_group_name("green", Level.INSTANCE)


def cluster(rds, cluster_id):
    return rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]


def instance(rds, instance_id):
    return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]


def snapshot_of_account(rds):
    """Everything a refused clone must leave as it was."""
    return (
        sorted(c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]),
        sorted(i["DBInstanceIdentifier"] for i in rds.describe_db_instances()["DBInstances"]),
        sorted(
            g["DBClusterParameterGroupName"]
            for g in rds.describe_db_cluster_parameter_groups()["DBClusterParameterGroups"]
        ),
        sorted(g["DBParameterGroupName"] for g in rds.describe_db_parameter_groups()["DBParameterGroups"]),
    )


def test_an_aws_connection_chooses_the_aurora_backend_with_its_tuning(aws):
    from airflow.sdk import Connection

    extra = {"region_name": REGION, "waiter_delay": 5, "parameter_group_settle_seconds": 12}
    conn = Connection(conn_id="aws_test", conn_type="aws", extra=json.dumps(extra))
    chosen = backend_for_connection(conn)
    assert isinstance(chosen, AuroraBackend)
    assert (chosen.clones.waiter_delay, chosen.rds.region, chosen.groups.settle_seconds) == (5, REGION, 12)
    plain = backend_for_connection(Connection(conn_id="aws", conn_type="aws", extra=json.dumps({})))
    assert plain.groups.settle_seconds == 300  # AWS: "wait at least 5 minutes"


class Steps:
    """What the backend did, in order: its settle waits (fake sleeps) and chosen RDS calls."""

    def __init__(self, backend, *operations):
        self.done = []
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
        backend.groups.settle_seconds = 300
        backend.groups.clock = lambda: self.now
        backend.groups.sleep = lambda seconds: self.done.append(("wait", round(seconds)))
        for operation in operations:
            backend.rds.client.meta.events.register(
                f"provide-client-params.rds.{operation}",
                lambda operation=operation, **_: self.done.append(operation),
            )


def test_a_new_group_settles_before_the_restore_uses_it_and_a_retry_waits_only_what_is_left(
    backend, rds, blue, capsys
):
    steps = Steps(backend, "RestoreDBClusterToPointInTime", "CreateDBInstance")
    # The first attempt dies at the restore, after green's group was made and had settled.
    with OperationStubber(backend.rds.client, "restore_db_cluster_to_point_in_time") as stub:
        stub.add_client_error("restore_db_cluster_to_point_in_time", "InsufficientDBClusterCapacityFault")
        with pytest.raises(AwsCallFailed):
            backend.clone(clone_spec(blue))
    assert steps.done == [("wait", 300), "RestoreDBClusterToPointInTime"]
    group = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName=GREEN_CLUSTER_GROUP)
    arn = group["DBClusterParameterGroups"][0]["DBClusterParameterGroupArn"]
    assert tags_of(rds, arn)["created-at"] == "2026-01-01T12:00:00Z"

    steps.done.clear()
    steps.now += timedelta(seconds=100)
    backend.clone(clone_spec(blue))
    assert steps.done == [("wait", 200), "RestoreDBClusterToPointInTime", "CreateDBInstance"]
    assert (
        f"Waiting 200 s before green's new parameter group {GREEN_CLUSTER_GROUP} is used, as AWS advises"
        in capsys.readouterr().out  # Airflow's structlog writes hook logs to stdout
    )

    # Once the cluster exists nothing uses a new group again: no wait at all.
    steps.done.clear()
    rds.delete_db_instance(DBInstanceIdentifier="green-writer")
    backend.clone(clone_spec(blue))
    assert steps.done == ["CreateDBInstance"]


def test_aurora2s_new_db_parameter_group_settles_before_the_writer_is_created(backend, rds, network):
    # Aurora 2 keeps read_only in the DB parameter group: the cluster's own group is blue's, so
    # the restore need not wait; the writer, which uses green's new DB group, does.
    blue = create_blue(rds, network, engine_version=AURORA2)
    steps = Steps(backend, "RestoreDBClusterToPointInTime", "CreateDBInstance")
    backend.clone(clone_spec(blue))
    assert steps.done == ["RestoreDBClusterToPointInTime", ("wait", 300), "CreateDBInstance"]


def test_clone_is_a_tagged_copy_on_write_clone_with_a_writer_like_blues(backend, rds, blue, network):
    info = backend.clone(clone_spec(blue))

    green = cluster(rds, "green")
    assert info.cluster_id == "green" and info.is_available and info.is_managed
    assert (info.endpoint, info.port, info.writer_instance_id) == (green["Endpoint"], 3306, "green-writer")
    expected_tags = {
        "managed-by": "aurora-bluegreen",
        "role": "green",
        "source-cluster": "blue",
        "dag-run": "manual__1",
    }
    assert tags_of(rds, green["DBClusterArn"]) == expected_tags
    # Blue's subnet group and security groups carry over; green's own cluster group holds read_only=1.
    assert green["DBSubnetGroup"] == network.subnet_group
    assert [g["VpcSecurityGroupId"] for g in green["VpcSecurityGroups"]] == [network.security_group]
    assert green["DBClusterParameterGroup"] == GREEN_CLUSTER_GROUP
    assert parameters(rds, GREEN_CLUSTER_GROUP, "cluster") == {"binlog_format": "ROW", "read_only": "1"}
    writer = instance(rds, "green-writer")
    assert (writer["DBInstanceClass"], writer["AvailabilityZone"]) == ("db.r6g.large", "eu-west-1a")
    assert tags_of(rds, writer["DBInstanceArn"]) == expected_tags
    # Aurora 3 keeps read_only at cluster level: the instance group is blue's, attached, never written.
    assert writer["DBParameterGroups"][0]["DBParameterGroupName"] == blue.instance_parameter_group
    assert parameters(rds, blue.cluster_parameter_group, "cluster") == {"binlog_format": "ROW"}
    assert parameters(rds, blue.instance_parameter_group, "instance") == {}


def test_security_groups_and_subnet_group_given_by_the_user_win(backend, rds, blue, network, aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    green_sg = ec2.create_security_group(GroupName="green", Description="green", VpcId=network.vpc_id)[
        "GroupId"
    ]
    backend.clone(clone_spec(blue, vpc_security_group_ids=(green_sg,), db_subnet_group=network.subnet_group))
    assert [g["VpcSecurityGroupId"] for g in cluster(rds, "green")["VpcSecurityGroups"]] == [green_sg]


def test_a_retry_finds_the_clone_and_finishes_it_without_a_second_one(backend, rds, blue):
    first = backend.clone(clone_spec(blue))
    # The first attempt died after the cluster was made and before its writer was.
    rds.delete_db_instance(DBInstanceIdentifier="green-writer")
    assert backend.describe("green").status == "no-writer"

    again = backend.clone(clone_spec(blue))

    assert again.cluster_id == first.cluster_id and again.is_available
    assert [c["DBClusterIdentifier"] for c in rds.describe_db_clusters()["DBClusters"]].count("green") == 1
    assert instance(rds, "green-writer")["DBClusterIdentifier"] == "green"


@pytest.mark.parametrize(
    ("make_bad", "field"),
    [
        (lambda blue, net: {"source_cluster_id": "nope"}, "source_cluster_id"),
        (lambda blue, net: {"writer_instance_id": blue.writer_id}, "writer_instance_id"),
        (lambda blue, net: {"db_subnet_group": "no-such-subnets"}, "db_subnet_group"),
        (lambda blue, net: {"vpc_security_group_ids": ("sg-0123456789abcdef0",)}, "vpc_security_group_ids"),
        (
            lambda blue, net: {"vpc_security_group_ids": (net.other_vpc_security_group,)},
            "vpc_security_group_ids",
        ),
        (lambda blue, net: {"cluster_parameter_group": "old-params"}, "cluster_parameter_group"),
        (lambda blue, net: {"instance_parameter_group": "typo-params"}, "instance_parameter_group"),
    ],
)
def test_bad_input_is_refused_by_field_before_any_change(backend, rds, blue, network, make_bad, field):
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="old-params", DBParameterGroupFamily="aurora-mysql5.7", Description="5.7"
    )
    before = snapshot_of_account(rds)
    with pytest.raises(InvalidInput) as error:
        backend.clone(clone_spec(blue, **make_bad(blue, network)))
    assert error.value.field == field
    assert snapshot_of_account(rds) == before


def test_blue_without_a_writer_is_refused(backend, rds, blue):
    rds.delete_db_instance(DBInstanceIdentifier=blue.writer_id)
    with pytest.raises(InvalidInput, match=r"source_cluster_id.*writer instance"):
        backend.clone(clone_spec(blue))


def test_an_existing_green_that_is_not_ours_is_never_touched(backend, rds, blue):
    rds.create_db_cluster(
        DBClusterIdentifier="green", Engine="aurora-mysql", MasterUsername="a", MasterUserPassword="password1"
    )
    before = snapshot_of_account(rds)
    with pytest.raises(NotManagedByUs, match="cluster_id='green'"):
        backend.clone(clone_spec(blue))
    assert snapshot_of_account(rds) == before
    with pytest.raises(NotManagedByUs):
        backend.delete("green")


def test_our_green_cloned_from_another_blue_is_refused(backend, rds, blue, network):
    other = create_blue(rds, network, cluster_id="other-blue")
    backend.clone(clone_spec(other))
    with pytest.raises(InvalidInput, match="a clone of blue"):
        backend.clone(clone_spec(blue))


def test_blues_own_group_named_for_green_gets_copied_and_blue_keeps_its_settings(backend, rds, blue):
    backend.clone(clone_spec(blue, cluster_parameter_group=blue.cluster_parameter_group))
    assert cluster(rds, "green")["DBClusterParameterGroup"] == GREEN_CLUSTER_GROUP
    assert parameters(rds, blue.cluster_parameter_group, "cluster") == {"binlog_format": "ROW"}
    assert cluster(rds, "blue")["DBClusterParameterGroup"] == blue.cluster_parameter_group


def test_a_named_group_that_does_not_exist_is_made_as_a_copy_of_blues_so_green_writes_binlogs(
    backend, rds, blue
):
    backend.clone(clone_spec(blue, cluster_parameter_group="green-params"))
    created = rds.describe_db_cluster_parameter_groups(DBClusterParameterGroupName="green-params")
    group = created["DBClusterParameterGroups"][0]
    assert group["DBParameterGroupFamily"] == "aurora-mysql8.0"
    assert tags_of(rds, group["DBClusterParameterGroupArn"])["managed-by"] == "aurora-bluegreen"
    # Blue's binlog_format came with the copy: an empty group would have left binlogs off on green.
    assert parameters(rds, "green-params", "cluster") == {"binlog_format": "ROW", "read_only": "1"}
    assert cluster(rds, "green")["DBClusterParameterGroup"] == "green-params"


def test_blue_on_the_default_group_gives_green_a_new_group_with_the_defaults_binlog_settings(
    backend, rds, network
):
    blue = create_blue(rds, network, default_cluster_group=True)
    default_group = cluster(rds, "blue")["DBClusterParameterGroup"]
    assert default_group.startswith("default.")
    # Aurora lists every parameter of a default group, binlog_format OFF among them (binlogs off is
    # Aurora MySQL's default); moto has no default groups, so this one response is supplied.
    listed = {
        "Parameters": [
            {"ParameterName": "binlog_format", "ParameterValue": "OFF", "IsModifiable": True},
            {"ParameterName": "binlog_row_image", "ParameterValue": "full", "IsModifiable": True},
            {"ParameterName": "character_set_server", "IsModifiable": True},
        ]
    }
    with OperationStubber(backend.rds.client, "describe_db_cluster_parameters") as stub:
        stub.add_response(
            "describe_db_cluster_parameters", listed, {"DBClusterParameterGroupName": default_group}
        )
        backend.clone(clone_spec(blue))
    assert cluster(rds, "green")["DBClusterParameterGroup"] == GREEN_CLUSTER_GROUP
    assert parameters(rds, GREEN_CLUSTER_GROUP, "cluster") == {
        "binlog_format": "OFF",
        "binlog_row_image": "full",
        "read_only": "1",
    }


def test_someone_elses_unused_group_is_copied_never_modified(backend, rds, blue):
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="team-params",
        DBParameterGroupFamily="aurora-mysql8.0",
        Description="team",
    )
    backend.clone(clone_spec(blue, cluster_parameter_group="team-params"))
    assert parameters(rds, "team-params", "cluster") == {}
    assert cluster(rds, "green")["DBClusterParameterGroup"] == GREEN_CLUSTER_GROUP


def test_a_group_we_made_is_written_in_place(backend, rds, blue):
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="green-ro",
        DBParameterGroupFamily="aurora-mysql8.0",
        Description="ours",
        Tags=[{"Key": "managed-by", "Value": "aurora-bluegreen"}],
    )
    backend.clone(clone_spec(blue, cluster_parameter_group="green-ro"))
    assert cluster(rds, "green")["DBClusterParameterGroup"] == "green-ro"
    assert parameters(rds, "green-ro", "cluster") == {"read_only": "1"}


def test_aurora2_makes_green_read_only_through_its_writers_db_parameter_group(backend, rds, network):
    blue = create_blue(rds, network, engine_version=AURORA2)
    backend.clone(clone_spec(blue))

    writer = instance(rds, "green-writer")
    assert writer["DBParameterGroups"][0]["DBParameterGroupName"] == GREEN_INSTANCE_GROUP
    assert parameters(rds, GREEN_INSTANCE_GROUP, "instance") == {"read_only": "1"}
    assert cluster(rds, "green")["DBClusterParameterGroup"] == blue.cluster_parameter_group
    assert parameters(rds, blue.instance_parameter_group, "instance") == {}

    backend.set_read_only("green", False)
    assert parameters(rds, GREEN_INSTANCE_GROUP, "instance") == {"read_only": "0"}


def test_aurora3_switches_green_through_its_cluster_group(backend, rds, blue):
    backend.clone(clone_spec(blue))
    backend.set_read_only("green", False)
    assert parameters(rds, GREEN_CLUSTER_GROUP, "cluster")["read_only"] == "0"


@pytest.mark.parametrize("version", [None, AURORA2])
def test_blues_parameter_group_is_never_written_to_freeze_it(backend, rds, network, version):
    blue = create_blue(rds, network, **({"engine_version": version} if version else {}))
    with pytest.raises(NotManagedByUs, match=r"not created by aurora-bluegreen.*mysql.rds_set_read_only"):
        backend.set_read_only(blue.cluster_id, True)
    assert parameters(rds, blue.cluster_parameter_group, "cluster") == {"binlog_format": "ROW"}
    assert parameters(rds, blue.instance_parameter_group, "instance") == {}


AURORA_3_05 = "8.0.mysql_aurora.3.05.2"


@pytest.mark.parametrize(
    "version, level, policy_values",
    [
        (AURORA_3_05, "cluster", freeze_group_arn("cluster", "blue-cluster-params")),
        (AURORA2, "instance", freeze_group_arn("instance", "blue-instance-params")),
    ],
    indirect=["policy_values"],
)
def test_with_the_users_consent_blues_own_group_holds_the_freeze_and_nothing_else(
    backend, rds, network, version, level
):
    """freeze_method=parameter_group, the blog's way where rds_set_read_only does not exist:
    read_only in the group that holds it (Aurora 2: the writer's DB group; 3: the cluster group).
    The role may write it only through the IAM policy's optional statement, naming that group."""
    blue = create_blue(rds, network, engine_version=version)
    group = blue.cluster_parameter_group if level == "cluster" else blue.instance_parameter_group
    before = parameters(rds, group, level)
    assert backend.read_only_refusal(blue.cluster_id) is not None  # without consent: never
    assert backend.read_only_refusal(blue.cluster_id, user_consented=True) is None
    backend.set_read_only(blue.cluster_id, True, user_consented=True)
    assert parameters(rds, group, level) == {**before, "read_only": "1"}
    backend.set_read_only(blue.cluster_id, False, user_consented=True)
    assert parameters(rds, group, level) == {**before, "read_only": "0"}


def test_even_with_consent_a_shared_or_default_group_never_holds_the_freeze(backend, rds, network):
    blue = create_blue(rds, network, engine_version=AURORA_3_05)
    create_blue(rds, network, engine_version=AURORA_3_05, cluster_id="other")
    rds.modify_db_cluster(
        DBClusterIdentifier="other", DBClusterParameterGroupName=blue.cluster_parameter_group
    )
    with pytest.raises(NotManagedByUs, match="is also used by other"):
        backend.set_read_only(blue.cluster_id, True, user_consented=True)
    assert "read_only" not in parameters(rds, blue.cluster_parameter_group, "cluster")

    create_blue(rds, network, engine_version=AURORA_3_05, cluster_id="plain", default_cluster_group=True)
    assert "engine's default parameter group" in backend.read_only_refusal("plain", user_consented=True)


def test_delete_removes_readers_then_the_writer_then_the_cluster(backend, rds, blue):
    backend.clone(clone_spec(blue))
    backend.add_reader("green", "green-reader-1", "db.r6g.large", "eu-west-1b", {"role": "green"})
    deleted = []
    backend.rds.client.meta.events.register(
        "provide-client-params.rds.DeleteDBInstance",
        lambda params, **_: deleted.append(params["DBInstanceIdentifier"]),
    )

    backend.delete("green")

    assert deleted == ["green-reader-1", "green-writer"]
    assert backend.find("green") is None
    backend.delete("green")  # again: nothing left, nothing to do


def test_delete_refuses_blue(backend, blue):
    with pytest.raises(NotManagedByUs, match="blue is not tagged managed-by=aurora-bluegreen"):
        backend.delete("blue")
    assert backend.describe("blue").is_available


def test_coordinates_come_from_the_crash_recovery_event(backend, blue):
    backend.clone(clone_spec(blue))
    # Moto never emits this event; this one describe_events response is supplied, nothing else.
    with OperationStubber(backend.rds.client, "describe_events") as stub:
        for response in crash_recovery_events(
            "green-writer", "Binlog position from crash recovery is mysql-bin-changelog.000003 4278"
        ):
            stub.add_response("describe_events", response)
        coordinates = backend.clone_coordinates("green")
    assert coordinates.position == BinlogPosition("mysql-bin-changelog.000003", 4278)
    assert coordinates.gtid_set is None
    assert "green-writer" in coordinates.evidence


def test_without_the_event_coordinates_are_not_known_yet_then_fail_with_advice(backend, blue):
    backend.clone(clone_spec(blue))
    assert backend.clone_coordinates("green") is None
    backend.coordinates_timeout = -1
    with pytest.raises(
        CloneCoordinatesMissing, match=r"no 'Binlog position from crash recovery' event.*gtid-mode=ON"
    ):
        backend.clone_coordinates("green")


def test_blue_with_gtid_mode_on_replicates_by_auto_position(backend, rds, blue):
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=blue.cluster_parameter_group,
        Parameters=[{"ParameterName": "gtid-mode", "ParameterValue": "ON", "ApplyMethod": "pending-reboot"}],
    )
    backend.clone(clone_spec(blue))
    coordinates = backend.clone_coordinates("green")
    assert coordinates.position is None
    assert "GTID auto-position" in coordinates.evidence


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("AccessDenied", "needs rds:DescribeDBClusters (docs/iam-policy.json"),
        ("Throttling", "AWS throttled the call"),
    ],
)
def test_aws_errors_name_the_failed_action_and_what_to_do(backend, blue, code, hint):
    with OperationStubber(backend.rds.client, "describe_db_clusters") as stub:
        stub.add_client_error(
            "describe_db_clusters", service_error_code=code, service_message="User: arn:x is not"
        )
        with pytest.raises(AwsCallFailed) as error:
            backend.describe("blue")
    assert hint in str(error.value)
    assert f"rds:DescribeDBClusters failed: {code}" in str(error.value)


def test_rds_managed_master_password_is_read_by_the_secret_arn_rds_reports(backend, rds, network):
    rds.create_db_cluster(
        DBClusterIdentifier="managed",
        Engine="aurora-mysql",
        EngineVersion="8.0.mysql_aurora.3.06.0",
        MasterUsername="admin",
        ManageMasterUserPassword=True,
    )
    arn = cluster(rds, "managed")["MasterUserSecret"]["SecretArn"]
    login, password = backend.master_user_credentials("managed", arn)
    assert login == "admin" and password
    with pytest.raises(InvalidInput, match="master_user_secret_arn"):
        backend.master_user_credentials("managed", arn.replace("managed", "other") + "x")


def test_master_user_connection_takes_the_rds_managed_password_only_when_its_extra_names_it(backend, rds):
    import json

    from airflow.sdk import Connection

    from aurora_bluegreen.control_plane.master_user import with_master_user_secret

    rds.create_db_cluster(
        DBClusterIdentifier="managed",
        Engine="aurora-mysql",
        EngineVersion="8.0.mysql_aurora.3.06.0",
        MasterUsername="admin",
        ManageMasterUserPassword=True,
    )
    arn = cluster(rds, "managed")["MasterUserSecret"]["SecretArn"]
    plain = Connection(conn_id="admin", conn_type="mysql", login="someone", password="typed")
    assert with_master_user_secret(plain, lambda: pytest.fail("no secret named: no lookup")) is plain

    extra = {"master_user_secret_arn": arn, "master_user_secret_cluster": "managed"}
    managed = Connection(conn_id="admin", conn_type="mysql", login="someone", extra=json.dumps(extra))
    resolved = with_master_user_secret(managed, lambda: backend)
    assert (resolved.login, resolved.password) == backend.master_user_credentials("managed", arn)
    assert resolved.login == "admin" and resolved.password

    no_cluster = Connection(
        conn_id="admin", conn_type="mysql", extra=json.dumps({"master_user_secret_arn": arn})
    )
    with pytest.raises(ValueError, match="master_user_secret_cluster"):
        with_master_user_secret(no_cluster, lambda: backend)


def test_clusters_are_found_by_our_tags_and_only_ours_get_new_tags(backend, blue):
    backend.clone(clone_spec(blue))
    found = backend.list_clusters({"managed-by": "aurora-bluegreen", "source-cluster": "blue"})
    assert [info.cluster_id for info in found] == ["green"]
    assert backend.list_clusters({"managed-by": "aurora-bluegreen", "role": "qa"}) == []

    backend.add_tags("green", {"retired": "yes"})
    assert backend.describe("green").tags["retired"] == "yes"
    with pytest.raises(NotManagedByUs):
        backend.add_tags("blue", {"retired": "yes"})
    assert "retired" not in backend.describe("blue").tags


def test_a_writable_clone_gets_its_own_group_with_read_only_off(backend, rds, blue):
    backend.clone(clone_spec(blue, cluster_id="qa", writer_instance_id="qa-writer", read_only=False))
    assert parameters(rds, owned_group_name("qa", Level.CLUSTER), "cluster")["read_only"] == "0"


def test_a_serverless_v2_blue_gives_its_scaling_to_the_clone_and_green_a_serverless_writer(
    backend, rds, network
):
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="blue-params", DBParameterGroupFamily="aurora-mysql8.0", Description="b"
    )
    rds.create_db_cluster(
        DBClusterIdentifier="blue",
        Engine="aurora-mysql",
        EngineVersion="8.0.mysql_aurora.3.06.0",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-secret",
        DBSubnetGroupName=network.subnet_group,
        DBClusterParameterGroupName="blue-params",
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 16},
    )
    rds.create_db_instance(
        DBInstanceIdentifier="blue-writer",
        DBClusterIdentifier="blue",
        Engine="aurora-mysql",
        DBInstanceClass="db.serverless",
    )
    restores = []
    backend.rds.client.meta.events.register(
        "provide-client-params.rds.RestoreDBClusterToPointInTime", lambda params, **_: restores.append(params)
    )
    backend.clone(CloneSpec("blue", "green", "green-writer", tags={"managed-by": "aurora-bluegreen"}))
    # AWS: without ServerlessV2ScalingConfiguration no db.serverless instance can be added to the
    # clone, and it does not say a clone inherits blue's. Moto copies it and accepts db.serverless
    # regardless, so the request itself is what is checked.
    assert restores[0]["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 16.0}
    assert instance(rds, "green-writer")["DBInstanceClass"] == "db.serverless"


def test_a_provisioned_blue_clones_without_a_scaling_configuration(backend, blue):
    restores = []
    backend.rds.client.meta.events.register(
        "provide-client-params.rds.RestoreDBClusterToPointInTime", lambda params, **_: restores.append(params)
    )
    backend.clone(clone_spec(blue))
    assert "ServerlessV2ScalingConfiguration" not in restores[0]


def turn_on_enhanced_binlog(rds, group):
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName=group,
        Parameters=[
            {"ParameterName": name, "ParameterValue": value, "ApplyMethod": "pending-reboot"}
            for name, value in (
                ("aurora_enhanced_binlog", "1"),
                ("binlog_backup", "0"),
                ("binlog_replication_globaldb", "0"),
            )
        ],
    )


def test_enhanced_binlog_on_blue_is_refused_before_anything_changes(backend, rds, blue):
    turn_on_enhanced_binlog(rds, blue.cluster_parameter_group)
    before = snapshot_of_account(rds)
    with pytest.raises(InvalidInput) as error:
        backend.clone(clone_spec(blue))
    assert error.value.field == "source_cluster_id"
    assert f"{blue.cluster_parameter_group} sets aurora_enhanced_binlog=1" in str(error.value)
    assert snapshot_of_account(rds) == before


def test_a_clone_that_will_not_replicate_may_be_taken_of_an_enhanced_binlog_blue(backend, rds, blue):
    turn_on_enhanced_binlog(rds, blue.cluster_parameter_group)
    spec = clone_spec(blue, cluster_id="qa", writer_instance_id="qa-writer", read_only=False)
    still_copy = dataclasses.replace(spec, tags={**spec.tags, "replicates-from-source": "false"})
    assert backend.clone(still_copy).is_available
