"""Moto-backed AWS for the Aurora control plane: a VPC, a blue Aurora MySQL cluster and its writer.

Everything runs in-process under ``mock_aws``; nothing leaves the machine. The Airflow connection
``aws_test`` (type ``aws``, region eu-west-1) is what operators and backends are given. It signs
with the keys of an IAM user that holds ``docs/iam-policy.json``, and every call signed so is judged
by that policy first (``iam_requests.policy_user``): a call the policy does not allow fails as it
would on AWS. The tests' own set-up calls sign with moto's default keys and are not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from iam_requests import policy_user
from moto import mock_aws
from moto_aws import ACCOUNT, AWS_CONN_ID, REGION, ZONES, Blue, FakeTaskInstance, Network, create_blue

from aurora_bluegreen.control_plane.aurora import AuroraBackend
from aurora_bluegreen.control_plane.factory import get_backend

# docs/iam-policy.json's placeholders for these tests: any zone, any secret to read (a test looks up
# a secret that does not exist, which a narrowed policy would answer with AccessDenied), the record
# name the tests repoint, and no group for the optional freeze statement. test_iam_policy.py tests
# the narrowed statements.
POLICY_VALUES = {
    "REGION": REGION,
    "ACCOUNT-ID": ACCOUNT,
    "HOSTED-ZONE-ID": "*",
    "RECORD-NAME": "db.example.com",
    "SECRET-NAME": "*",
    "BLUE-MASTER-USER-SECRET-ARN": "*",
    "BLUE-READ-ONLY-PARAMETER-GROUP-ARN": f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-pg:no-such-group",
}


@pytest.fixture(scope="module", autouse=True)
def fast_aws_clients() -> Iterator[None]:
    """Make a new boto3 client cheap: the amazon provider builds a new session (and client) per hook.

    Each new botocore session parses the service's JSON model again (RDS and EC2 are megabytes), and
    each hook inspects the whole call stack to name its caller in the user agent. Both cost about
    0.3 s per client under pytest, which would dominate these tests; neither is what they test.
    The parsed models are read-only to botocore, so one copy per file serves every session. Module
    scope keeps both patches inside these tests.
    """
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
    from botocore.loaders import JSONFileLoader

    parsed: dict[str, Any] = {}
    original = JSONFileLoader.load_file

    def load_file_once(self: JSONFileLoader, file_path: str) -> Any:
        if file_path not in parsed:
            parsed[file_path] = original(self, file_path)
        return parsed[file_path]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(JSONFileLoader, "load_file", load_file_once)
        patch.setattr(AwsGenericHook, "_get_caller", lambda self, target_function_name="execute": "pytest")
        yield


@pytest.fixture
def policy_values(request: pytest.FixtureRequest) -> dict[str, str]:
    """The policy's placeholders: ``POLICY_VALUES``, or a test's own (indirect parametrization)."""
    return {**POLICY_VALUES, **getattr(request, "param", {})}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, policy_values: dict[str, str]) -> Iterator[None]:
    """Moto for every AWS service, and the ``aws_test`` Airflow connection as the policy's user."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    # Moto's EC2 otherwise loads thousands of public AMIs for every test: seconds nobody needs here.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    # No settle wait after a parameter group is made: moto's groups are ready at once.
    extra = {"region_name": REGION, "parameter_group_settle_seconds": 0}
    with (
        mock_aws(),
        policy_user("aurora-bluegreen-tests", policy_values, REGION, ACCOUNT, AWS_CONN_ID, extra),
    ):
        yield


@pytest.fixture
def rds(aws: None) -> Any:
    return boto3.client("rds", region_name=REGION)


@pytest.fixture
def network(aws: None, rds: Any) -> Network:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{n}.0/24", AvailabilityZone=zone)["Subnet"][
            "SubnetId"
        ]
        for n, zone in enumerate(ZONES)
    ]
    rds.create_db_subnet_group(
        DBSubnetGroupName="db-subnets", DBSubnetGroupDescription="blue and green", SubnetIds=subnets
    )
    security_group = ec2.create_security_group(GroupName="db", Description="mysql", VpcId=vpc_id)["GroupId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    other = ec2.create_security_group(GroupName="elsewhere", Description="x", VpcId=other_vpc)["GroupId"]
    return Network(vpc_id, "db-subnets", security_group, other)


@pytest.fixture
def blue(rds: Any, network: Network) -> Blue:
    """Blue on Aurora MySQL 3.06 (read_only at cluster level, ``mysql.rds_set_read_only`` available)."""
    return create_blue(rds, network)


@pytest.fixture
def backend(aws: None) -> AuroraBackend:
    """The backend exactly as the operators get it: from the ``aws`` connection."""
    chosen = get_backend(AWS_CONN_ID)
    assert isinstance(chosen, AuroraBackend)
    return chosen


@pytest.fixture
def context() -> dict[str, Any]:
    class DagRun:
        run_id = "manual__2026-01-01T00:00:00+00:00"

    return {"ti": FakeTaskInstance(), "dag_run": DagRun()}
