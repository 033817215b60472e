"""docs/iam-policy.json: the DAG's calls are allowed, and nothing lets the role tag, modify or delete blue.

An IAM user in moto holds exactly the shipped policy (its placeholders filled in) and the ``aws``
connection signs with that user's keys. Every call signed with them is judged by
``iam_policy.evaluate`` as AWS would (``iam_requests.enforced``) and refused with AccessDenied when
the policy does not allow it: moto itself cannot judge this policy (the last test shows why). The
tool then clones, tags, switches and deletes its clone under the policy, and boto3 clients with the
same keys, which skip every check the tool makes itself, cannot tag, modify or delete blue.

What the model of each call assumes about AWS is in ``iam_requests.py``; the one assumption the
guarantees rest on (a new resource's tags are its ``aws:ResourceTag``) has its own test below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from iam_policy import Request, evaluate, load_policy, placeholders
from iam_requests import CallModel, PolicyUser, policy_user, tag_dict
from moto_aws import AURORA2, AURORA3, AWS_CONN_ID, REGION, ZONES, clone_spec, create_blue, parameters

from aurora_bluegreen.control_plane.aurora import AuroraBackend
from aurora_bluegreen.control_plane.factory import get_backend
from aurora_bluegreen.errors import AwsCallFailed
from aurora_bluegreen.ownership import MANAGED_BY_TAG, MANAGED_BY_VALUE

ACCOUNT = "123456789012"  # moto's
USER = "aurora-bluegreen-dag"
RECORD = "db.example.com"
APP_SECRET = "app/db"
SECRET_ARN_PREFIX = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"
OURS = {MANAGED_BY_TAG: MANAGED_BY_VALUE}
REPO = Path(__file__).resolve().parents[2]
AWS_DOC = REPO / "docs" / "aws.md"


def cluster_arn(name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{name}"


def rds_arn(kind: str, name: str) -> str:
    return f"arn:aws:rds:{REGION}:{ACCOUNT}:{kind}:{name}"


def backend_of_the_connection() -> AuroraBackend:
    backend = get_backend(AWS_CONN_ID)
    assert isinstance(backend, AuroraBackend)
    return backend


@pytest.fixture
def zone_id(aws: None) -> str:
    route53 = boto3.client("route53")
    return route53.create_hosted_zone(Name="example.com", CallerReference="iam")["HostedZone"]["Id"].rsplit(
        "/"
    )[-1]


@pytest.fixture
def secrets(aws: None) -> Any:
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name=APP_SECRET, SecretString=json.dumps({"host": "blue.example", "port": 3306}))
    return client


@pytest.fixture
def as_policy_user(aws: None, secrets: Any, zone_id: str) -> Iterator[Callable[..., PolicyUser]]:
    """Make the user, point the ``aws`` connection at its keys and judge its calls by the policy.

    Placeholders default to this test account's zone, record and secret; the master-user secret
    and the optional freeze statement's group to ones that do not exist.
    """
    with ExitStack() as stack:

        def make(**values: str) -> PolicyUser:
            filled = {
                "REGION": REGION,
                "ACCOUNT-ID": ACCOUNT,
                "HOSTED-ZONE-ID": zone_id,
                "RECORD-NAME": RECORD,
                "SECRET-NAME": APP_SECRET,
                "BLUE-MASTER-USER-SECRET-ARN": f"{SECRET_ARN_PREFIX}rds!cluster-none-AbCdEf",
                "BLUE-READ-ONLY-PARAMETER-GROUP-ARN": rds_arn("cluster-pg", "no-such-group"),
                **values,
            }
            extra = {"region_name": REGION, "parameter_group_settle_seconds": 0}
            return stack.enter_context(policy_user(USER, filled, REGION, ACCOUNT, AWS_CONN_ID, extra))

        yield make


def denied(call: Callable[[], Any]) -> str:
    """The AccessDenied message of a call that the policy refuses."""
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "AccessDenied"
    return error.value.response["Error"]["Message"]


# -- what the DAG does, under the policy ------------------------------------------------------


@pytest.mark.parametrize("version", [AURORA3, AURORA2])
def test_the_dag_clones_tags_switches_and_deletes_its_clone_under_the_policy(
    as_policy_user, rds, network, context, version
):
    from aurora_bluegreen.operators.snapshot import ClusterSnapshotOperator

    blue = create_blue(rds, network, engine_version=version)
    user = as_policy_user()
    backend = backend_of_the_connection()

    ClusterSnapshotOperator(
        task_id="snapshot_blue",
        cluster_id=blue.cluster_id,
        snapshot_id="blue-before-20260101t000000",
        tags={**OURS, "role": "snapshot", "source-cluster": blue.cluster_id, "dag-run": "manual__1"},
        aws_conn_id=AWS_CONN_ID,
    ).execute(context)
    backend.clone(clone_spec(blue))
    backend.add_reader("green", "green-reader-1", "db.r6g.large", ZONES[1], {"role": "green"})
    backend.add_tags("green", {"writer-since": "2026-01-01T00:00:00Z", "qa-ready": "true"})
    backend.set_read_only("green", False)
    assert backend.parameter_status("green")["read_only"].value == "0"
    backend.delete("green")

    assert user.refused() == []
    assert backend.find("green") is None
    level_writes = (
        {"rds:CopyDBClusterParameterGroup", "rds:ModifyDBClusterParameterGroup"}
        if version == AURORA3
        else {"rds:CopyDBParameterGroup", "rds:ModifyDBParameterGroup", "rds:DescribeDBParameters"}
    )
    assert {
        "rds:CreateDBClusterSnapshot",
        "rds:RestoreDBClusterToPointInTime",
        "rds:CreateDBInstance",
        "rds:AddTagsToResource",
        "rds:DeleteDBInstance",
        "rds:DeleteDBCluster",
        *level_writes,
    } <= user.actions()
    # Tagging on create (the clone, its writer, its group, the snapshot) and retagging the clone.
    tagged = [
        d.request.resources[0].arn for d in user.decisions if d.request.action == "rds:AddTagsToResource"
    ]
    assert cluster_arn("green") in tagged and rds_arn("db", "green-writer") in tagged
    assert rds_arn("cluster-snapshot", "blue-before-20260101t000000") in tagged
    # Every action the tool called is one the code-scan below finds, so that scan misses nothing.
    assert user.actions() <= set(code_actions())


def test_the_lag_dashboard_and_the_repointers_work_under_the_policy(
    as_policy_user, rds, blue, secrets, zone_id, context
):
    from aurora_bluegreen.operators.dashboard import (
        BinlogLagDashboardOperator,
        DeleteBinlogLagDashboardOperator,
    )
    from aurora_bluegreen.repointers.registry import repointer_for

    user = as_policy_user()
    backend = backend_of_the_connection()
    backend.clone(clone_spec(blue))
    BinlogLagDashboardOperator(
        task_id="d", writer_instance_id="green-writer", aws_conn_id=AWS_CONN_ID
    ).execute(context)
    DeleteBinlogLagDashboardOperator(
        task_id="dd", writer_instance_id="green-writer", aws_conn_id=AWS_CONN_ID
    ).execute(context)
    for target in (f"route53:{zone_id}/{RECORD}", f"secretsmanager:{APP_SECRET}"):
        repointer = repointer_for(target, backend)
        repointer.check()
        repointer.repoint("green.example", 3306, "green")

    assert user.refused() == []
    assert (
        json.loads(secrets.get_secret_value(SecretId=APP_SECRET)["SecretString"])["host"] == "green.example"
    )
    assert {"cloudwatch:PutDashboard", "cloudwatch:DeleteDashboards", "route53:ChangeResourceRecordSets"} <= (
        user.actions()
    )
    assert {"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"} <= user.actions()


def test_the_master_password_is_read_only_from_blues_own_secret(as_policy_user, rds):
    for name in ("blue-managed", "another-cluster"):
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-mysql",
            EngineVersion=AURORA3,
            MasterUsername="admin",
            ManageMasterUserPassword=True,
        )
    arn = {
        name: rds.describe_db_clusters(DBClusterIdentifier=name)["DBClusters"][0]["MasterUserSecret"][
            "SecretArn"
        ]
        for name in ("blue-managed", "another-cluster")
    }
    user = as_policy_user(**{"BLUE-MASTER-USER-SECRET-ARN": arn["blue-managed"]})
    backend = backend_of_the_connection()

    login, _ = backend.master_user_credentials("blue-managed", arn["blue-managed"])
    assert login == "admin"
    with pytest.raises(AwsCallFailed, match="AccessDenied"):
        backend.master_user_credentials("another-cluster", arn["another-cluster"])
    assert user.actions() == {"rds:DescribeDBClusters", "secretsmanager:GetSecretValue"}


# -- what the policy never allows, even to a bug ----------------------------------------------


def test_the_role_cannot_tag_modify_or_delete_blue_or_its_parameter_groups(as_policy_user, rds, blue):
    user = as_policy_user()
    backend_of_the_connection().clone(clone_spec(blue))  # a clone of ours exists: the same calls on it pass
    client = user.client("rds", REGION)
    blue_cluster, blue_writer = cluster_arn(blue.cluster_id), rds_arn("db", blue.writer_id)
    blue_groups = (
        rds_arn("cluster-pg", blue.cluster_parameter_group),
        rds_arn("pg", blue.instance_parameter_group),
    )
    before = {
        arn: tag_dict(rds.list_tags_for_resource(ResourceName=arn)["TagList"])
        for arn in (blue_cluster, blue_writer, *blue_groups)
    }

    # Marking blue (or its writer or groups) as ours, in any spelling of the key, is denied outright.
    for arn in (blue_cluster, blue_writer, *blue_groups):
        for key in ("managed-by", "Managed-By", "MANAGED-BY"):
            message = denied(
                lambda arn=arn, key=key: client.add_tags_to_resource(
                    ResourceName=arn, Tags=[{"Key": key, "Value": MANAGED_BY_VALUE}]
                )
            )
            assert "explicitly denied by NeverMarkSomethingElseAsOurs" in message
    # Any other tag on blue has no statement that allows it.
    for tags in ({"writer-since": "2026-01-01T00:00:00Z"}, {"qa-ready": "true"}, {"role": "green"}):
        message = denied(
            lambda tags=tags: client.add_tags_to_resource(
                ResourceName=blue_cluster, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
            )
        )
        assert "no statement allows it" in message
    denied(lambda: client.delete_db_cluster(DBClusterIdentifier=blue.cluster_id, SkipFinalSnapshot=True))
    denied(
        lambda: client.delete_db_cluster(DBClusterIdentifier=blue.cluster_id, FinalDBSnapshotIdentifier="x")
    )
    denied(lambda: client.delete_db_instance(DBInstanceIdentifier=blue.writer_id))
    read_only = [{"ParameterName": "read_only", "ParameterValue": "1", "ApplyMethod": "immediate"}]
    denied(
        lambda: client.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=blue.cluster_parameter_group, Parameters=read_only
        )
    )
    denied(
        lambda: client.modify_db_parameter_group(
            DBParameterGroupName=blue.instance_parameter_group, Parameters=read_only
        )
    )
    message = denied(
        lambda: client.create_db_instance(
            DBInstanceIdentifier="blue-extra",
            DBClusterIdentifier=blue.cluster_id,
            Engine="aurora-mysql",
            DBInstanceClass="db.r6g.large",
            Tags=[{"Key": MANAGED_BY_TAG, "Value": MANAGED_BY_VALUE}],
        )
    )
    assert "NeverAddInstancesToClustersNotOurs" in message

    # The same calls on our clone are allowed.
    client.add_tags_to_resource(
        ResourceName=cluster_arn("green"), Tags=[{"Key": "qa-ready", "Value": "true"}]
    )
    client.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="aurora-bluegreen-green-cluster", Parameters=read_only
    )

    after = {arn: tag_dict(rds.list_tags_for_resource(ResourceName=arn)["TagList"]) for arn in before}
    assert after == before
    assert (
        rds.describe_db_clusters(DBClusterIdentifier=blue.cluster_id)["DBClusters"][0]["Status"]
        == "available"
    )
    assert parameters(rds, blue.cluster_parameter_group, "cluster") == {"binlog_format": "ROW"}
    assert parameters(rds, blue.instance_parameter_group, "instance") == {}


def test_repointing_reaches_only_the_named_record_and_secret(as_policy_user, secrets, zone_id):
    user = as_policy_user()
    route53, secrets_client = user.client("route53", REGION), user.client("secretsmanager", REGION)
    other_zone = boto3.client("route53").create_hosted_zone(Name="example.org", CallerReference="o")[
        "HostedZone"
    ]["Id"]
    secrets.create_secret(Name="other/db", SecretString=json.dumps({"host": "x"}))

    def change(zone: str, name: str, kind: str = "CNAME", action: str = "UPSERT") -> Any:
        record = {"Name": name, "Type": kind, "TTL": 5, "ResourceRecords": [{"Value": "green.example"}]}
        return lambda: route53.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": record}]}
        )

    change(zone_id, f"{RECORD}.")()  # the named record, with or without its trailing dot
    denied(change(zone_id, "www.example.com"))
    denied(change(zone_id, RECORD, kind="A"))
    denied(change(zone_id, RECORD, action="DELETE"))
    denied(change(other_zone, "db.example.org"))
    denied(lambda: route53.get_hosted_zone(Id=other_zone))
    secrets_client.get_secret_value(SecretId=APP_SECRET)
    denied(lambda: secrets_client.get_secret_value(SecretId="other/db"))
    denied(lambda: secrets_client.put_secret_value(SecretId="other/db", SecretString="{}"))


def test_the_optional_freeze_statement_opens_exactly_the_one_group_it_names(as_policy_user, rds, network):
    blue = create_blue(rds, network, engine_version=AURORA2)  # Aurora 2 keeps read_only in the DB group
    user = as_policy_user(
        **{"BLUE-READ-ONLY-PARAMETER-GROUP-ARN": rds_arn("pg", blue.instance_parameter_group)}
    )
    client = user.client("rds", REGION)
    read_only = [{"ParameterName": "read_only", "ParameterValue": "1", "ApplyMethod": "immediate"}]

    client.modify_db_parameter_group(DBParameterGroupName=blue.instance_parameter_group, Parameters=read_only)
    assert parameters(rds, blue.instance_parameter_group, "instance") == {"read_only": "1"}
    denied(
        lambda: client.modify_db_cluster_parameter_group(
            DBClusterParameterGroupName=blue.cluster_parameter_group, Parameters=read_only
        )
    )
    denied(
        lambda: client.add_tags_to_resource(
            ResourceName=rds_arn("pg", blue.instance_parameter_group),
            Tags=[{"Key": "managed-by", "Value": MANAGED_BY_VALUE}],
        )
    )
    denied(lambda: client.delete_db_cluster(DBClusterIdentifier=blue.cluster_id, SkipFinalSnapshot=True))


# -- the one assumption, judged without moto ---------------------------------------------------


def policy() -> dict[str, Any]:
    return load_policy({name: f"placeholder-{name.lower()}" for name in placeholders()})


def create_requests(resource_tags_on_create: bool) -> list[Request]:
    tags = {**OURS, "role": "green", "source-cluster": "blue"}
    model = CallModel(
        ACCOUNT, lambda arn: {"team": "payments"} if ":blue" in arn else {}, str, resource_tags_on_create
    )
    return model.requests(
        "rds",
        "RestoreDBClusterToPointInTime",
        {
            "SourceDBClusterIdentifier": "blue",
            "DBClusterIdentifier": "green",
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        },
        REGION,
    )


def test_tagging_on_create_rests_on_the_new_resources_tags_being_its_resource_tags():
    """IAM documents aws:ResourceTag as present "in requests that create a resource with an attached
    tag"; the clone is allowed on that. Were it absent, the clone would be refused (AccessDenied for
    rds:AddTagsToResource on the new cluster): the policy would fail closed, never open to blue."""
    assert [evaluate(policy(), r).allowed for r in create_requests(resource_tags_on_create=True)] == [
        True,
        True,
    ]
    create, tag_on_create = (evaluate(policy(), r) for r in create_requests(resource_tags_on_create=False))
    assert create.allowed
    assert tag_on_create.denied_by == ("NeverMarkSomethingElseAsOurs",)


# -- every AWS call in the code has a policy line ---------------------------------------------

PLUGINS = REPO / "plugins" / "aurora_bluegreen"
DAGS = REPO / "dags"
SERVICES = ("rds", "ec2", "route53", "secretsmanager", "cloudwatch")
# The amazon provider's helpers and operators the code uses, and the calls they make.
PROVIDER_CALLS = {
    "wait_for_db_cluster_state": ["rds:DescribeDBClusters"],
    "wait_for_db_instance_state": ["rds:DescribeDBInstances"],
    "wait_for_db_cluster_snapshot_state": ["rds:DescribeDBClusterSnapshots"],
}
# Allowed for RDS to call on the role's behalf (kms:ViaService), not called by the code.
CALLED_BY_AWS = {"kms:DescribeKey", "kms:CreateGrant"}


def _sources() -> Iterator[Path]:
    for path in [*PLUGINS.rglob("*.py"), *DAGS.glob("*.py")]:
        if not {"sandbox", "demo"} & set(path.relative_to(REPO).parts):
            yield path


def code_actions() -> dict[str, set[str]]:
    """Every AWS action the provider's code calls (IAM name -> the files), found in its text."""
    import botocore.session
    from botocore import xform_name

    from aurora_bluegreen.control_plane.aurora_parameter_groups import _GROUP_API

    session = botocore.session.get_session()
    by_method: dict[str, list[str]] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            by_method.setdefault(xform_name(operation), []).append(f"{service}:{operation}")

    found: dict[str, set[str]] = {}

    def add(action: str, path: Path) -> None:
        found.setdefault(action, set()).add(str(path.relative_to(REPO)))

    def add_method(method: str, client: str, path: Path) -> None:
        candidates = by_method.get(method, [])
        if len(candidates) > 1 and "rds" in client:
            candidates = [c for c in candidates if c.startswith("rds:")]
        assert len(candidates) == 1, f"{path}: which AWS service is {client}.{method}? {candidates}"
        add(candidates[0], path)

    def add_group_calls(argument: str, path: Path) -> bool:
        """``api.call("verb")`` and ``api.describe_parameters``: the same call for both group levels."""
        verb = re.fullmatch(r"api\.call\(\s*\"(\w+)\"(\s*,\s*plural=True)?\s*\)", argument)
        if verb:
            for api in _GROUP_API.values():
                add_method(api.call(verb.group(1), plural=bool(verb.group(2))), "rds", path)
        elif argument == "api.describe_parameters":
            for api in _GROUP_API.values():
                add_method(api.describe_parameters, "rds", path)
        return bool(verb) or argument == "api.describe_parameters"

    for path in _sources():
        text = path.read_text()
        # The operation is the second argument of aws_call/aws_pages, the first of Rds.call.
        calls = [
            (m.group(1), m.group(2).strip())
            for m in re.finditer(r"(?<!def )\baws_(?:call|pages)\(\s*([\w.]+),\s*([^,]+?)\s*[,)]", text)
        ]
        calls += [
            ("rds", m.group(1).strip())
            for m in re.finditer(r"(?<!api)\.call\(\s*(api\.call\([^)]*\)|[^,)]+)", text)
        ]
        for client, argument in calls:
            literal = re.fullmatch(r"\"(\w+)\"", argument)
            if literal:
                add_method(literal.group(1), client, path)
            elif not add_group_calls(argument, path):
                # Rds.call passes its operation on: its callers are scanned instead.
                assert (path.name, argument) == ("rds.py", "operation"), (
                    f"{path}: AWS call {argument} unscanned"
                )
        helpers = re.findall(r"\.(wait_for_db_\w+|get_db_\w+_state)\(", text)
        helpers += re.findall(
            r"from airflow\.providers\.amazon\.aws\.(?:operators|sensors)\.\w+ import (\w+)", text
        )
        for helper in helpers:
            if helper == "AwsBaseOperator":
                continue
            assert helper in PROVIDER_CALLS, f"{path}: which AWS calls does the provider's {helper} make?"
            for action in PROVIDER_CALLS[helper]:
                add(action, path)
        bare = re.findall(r"\.conn\.(\w+)\(", text)
        assert not bare, f"{path} calls AWS ({bare}) without aws_call, so its failures name no IAM action"
    return found


def policy_actions(effect: str = "Allow") -> set[str]:
    return {
        action
        for statement in policy()["Statement"]
        if statement["Effect"] == effect
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }


def test_every_aws_call_in_the_code_has_a_policy_line_and_every_line_a_call():
    called = code_actions()
    assert len(called) >= 25, sorted(called)  # the scan still finds the calls
    allowed = policy_actions()
    missing = {action: sorted(files) for action, files in called.items() if action not in allowed}
    assert missing == {}, "calls docs/iam-policy.json does not allow"
    assert allowed - CALLED_BY_AWS - set(called) == set(), "allowed, but the code never calls them"


def test_the_docs_iam_tables_list_every_statement_with_its_actions_and_every_placeholder():
    section = AWS_DOC.read_text().split("### IAM", 1)[1].split("\n### ", 1)[0]
    documented = {}
    for row in section.splitlines():
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        sid = re.fullmatch(r"`(\w+)`", cells[0])
        if sid and len(cells) == 3:
            documented[sid.group(1)] = set(re.findall(r"`([a-z0-9]+:\w+)`", cells[1]))
    shipped = {}
    for statement in policy()["Statement"]:
        actions = statement["Action"]
        shipped[statement["Sid"]] = {actions} if isinstance(actions, str) else set(actions)
    assert documented == shipped
    assert len(shipped) == len(policy()["Statement"])  # every Sid once
    assert all(sid.isalnum() for sid in shipped)  # IAM's rule for a Sid
    assert {f"<{name}>" for name in placeholders()} <= set(re.findall(r"`(<[A-Z0-9-]+>)`", section))


# -- why not moto's own IAM checks -------------------------------------------------------------


def test_moto_cannot_judge_this_policy_it_ignores_conditions(aws, rds, network):
    """moto 5 authorizes every RDS request against the resource "*" and never fills a request
    context, so every Condition counts as met: a policy that allows deleting only clusters tagged
    ours lets moto delete blue. Hence the evaluator; if this test fails, moto learned conditions."""
    from moto.core import set_initial_no_auth_action_count

    blue = create_blue(rds, network)
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=USER)
    only_ours = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["rds:DeleteDBCluster", "rds:DeleteDBInstance"],
                "Resource": "*",
                "Condition": {"StringEquals": {"rds:cluster-tag/managed-by": MANAGED_BY_VALUE}},
            }
        ],
    }
    iam.put_user_policy(UserName=USER, PolicyName="only-ours", PolicyDocument=json.dumps(only_ours))
    key = iam.create_access_key(UserName=USER)["AccessKey"]
    client = boto3.client(
        "rds",
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )

    @set_initial_no_auth_action_count(0)
    def as_user() -> None:
        client.delete_db_instance(DBInstanceIdentifier=blue.writer_id)
        client.delete_db_cluster(DBClusterIdentifier=blue.cluster_id, SkipFinalSnapshot=True)

    as_user()
    assert rds.describe_db_clusters()["DBClusters"] == []
    # The evaluator, given blue's tags (none of ours), refuses the same call.
    model = CallModel(ACCOUNT, lambda arn: {"team": "payments"}, str)
    (request,) = model.requests("rds", "DeleteDBCluster", {"DBClusterIdentifier": "blue"}, REGION)
    assert cluster_arn("blue") in evaluate(only_ours, request).not_allowed
