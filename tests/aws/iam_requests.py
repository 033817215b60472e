"""What IAM is asked when the tool calls AWS, and a way to make moto refuse what the policy refuses.

``CallModel`` turns one boto3 call into the IAM requests AWS authorizes for it: the action, every
resource the Service Authorization Reference lists for it (RDS:
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html), each with
its tags as they are at the time of the call, and the request's own keys (``aws:RequestTag/...``,
``aws:TagKeys``, Route 53's record names, types and actions). Two facts shape it:

- **Tagging on create.** "If tags are specified in the create action, RDS performs additional
  authorization on the rds:AddTagsToResource action" (RDS guide, *Grant permission to tag
  resources during creation*): a create call with ``Tags`` is two requests, the create and an
  ``rds:AddTagsToResource`` on the new resource.
- **The new resource's tags.** IAM's ``aws:ResourceTag`` "is included in the request context
  when the requested resource already has attached tags or in requests that create a resource
  with an attached tag" (IAM User Guide, global condition keys): the new resource carries the
  request's tags as ``aws:ResourceTag``. ``resource_tags_on_create=False`` models the opposite,
  so a test can show what the policy does if AWS behaved so.

An operation without a model raises ``Unsupported``: a new AWS call must be modelled here (and
allowed by the policy) before its test can pass under ``enforced``.

``enforced`` patches botocore so that every call signed with one access key (the IAM user holding
the shipped policy) is first judged by ``iam_policy.evaluate`` against the policy, and refused with
``AccessDenied`` as AWS would. Calls signed otherwise (the tests' own set-up) pass untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from iam_policy import Decision, Request, Resource, Unsupported, Values, evaluate, load_policy

# The RDS condition key for the tags of each resource type (the reference's resource-type table).
RDS_TAG_KEY = {
    "cluster": "rds:cluster-tag",
    "cluster-pg": "rds:cluster-pg-tag",
    "pg": "rds:pg-tag",
    "db": "rds:db-tag",
    "cluster-snapshot": "rds:cluster-snapshot-tag",
    "subgrp": "rds:subgrp-tag",
}

# Read-only RDS calls: the resource type they name, and the parameter that names it.
_RDS_READS = {
    "DescribeDBClusters": ("cluster", "DBClusterIdentifier"),
    "DescribeDBInstances": ("db", "DBInstanceIdentifier"),
    "DescribeDBSubnetGroups": ("subgrp", "DBSubnetGroupName"),
    "DescribeDBClusterParameterGroups": ("cluster-pg", "DBClusterParameterGroupName"),
    "DescribeDBParameterGroups": ("pg", "DBParameterGroupName"),
    "DescribeDBClusterParameters": ("cluster-pg", "DBClusterParameterGroupName"),
    "DescribeDBParameters": ("pg", "DBParameterGroupName"),
    "DescribeDBClusterSnapshots": ("cluster-snapshot", "DBClusterSnapshotIdentifier"),
    "DescribeEvents": (None, None),
    "DescribeDBEngineVersions": (None, None),
}


def tag_dict(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags or ()}


def request_tag_keys(tags: Mapping[str, str]) -> dict[str, Values]:
    """The keys a request that carries ``tags`` brings: aws:RequestTag, rds:req-tag, aws:TagKeys."""
    if not tags:
        return {}
    keys: dict[str, Values] = {"aws:TagKeys": tuple(tags)}
    for key, value in tags.items():
        keys[f"aws:RequestTag/{key}"] = (value,)
        keys[f"rds:req-tag/{key}"] = (value,)
    return keys


def resource_tag_keys(
    kind: str | None, tags: Mapping[str, str], service_key: bool = True
) -> dict[str, Values]:
    """The keys a resource with ``tags`` brings: aws:ResourceTag and, for RDS, its own tag key."""
    keys: dict[str, Values] = {}
    for key, value in tags.items():
        keys[f"aws:ResourceTag/{key}"] = (value,)
        if service_key and kind in RDS_TAG_KEY:
            keys[f"{RDS_TAG_KEY[kind]}/{key}"] = (value,)
    return keys


class CallModel:
    """:param tags_of: an RDS ARN's tags now (empty for one that does not exist).
    :param secret_arn: a secret's ARN from its name or ARN."""

    def __init__(
        self,
        account: str,
        tags_of: Callable[[str], Mapping[str, str]],
        secret_arn: Callable[[str], str],
        resource_tags_on_create: bool = True,
    ) -> None:
        self.account = account
        self.tags_of = tags_of
        self.secret_arn = secret_arn
        self.resource_tags_on_create = resource_tags_on_create

    def requests(self, service: str, operation: str, params: Mapping[str, Any], region: str) -> list[Request]:
        model = getattr(self, f"_{service}", None)
        requests = model(operation, params, region) if model else None
        if requests is None:
            raise Unsupported(
                f"no IAM model for {service}:{operation}; add one to tests/aws/iam_requests.py "
                "(and a statement to docs/iam-policy.json)"
            )
        return requests

    # -- RDS ----------------------------------------------------------------------------------

    def rds_arn(self, region: str, kind: str, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:rds:{region}:{self.account}:{kind}:{name}"

    def existing(self, region: str, kind: str, name: str) -> Resource:
        arn = self.rds_arn(region, kind, name)
        return Resource(arn, resource_tag_keys(kind, self.tags_of(arn)))

    def new(self, region: str, kind: str, name: str, tags: Mapping[str, str]) -> Resource:
        arn = self.rds_arn(region, kind, name)
        # IAM puts a new resource's tags in aws:ResourceTag; AWS says nothing of rds:<kind>-tag.
        keys = resource_tag_keys(kind, tags, service_key=False) if self.resource_tags_on_create else {}
        return Resource(arn, keys)

    def _rds(self, operation: str, params: Mapping[str, Any], region: str) -> list[Request] | None:
        action = f"rds:{operation}"
        tags = tag_dict(params.get("Tags"))
        keys = request_tag_keys(tags)
        if operation in _RDS_READS:
            kind, parameter = _RDS_READS[operation]
            named = params.get(parameter) if parameter else None
            resource = self.existing(region, kind, named) if kind and named else Resource("*")
            return [Request(action, (resource,), why="read")]
        if operation == "ListTagsForResource":
            return [Request(action, (self._by_arn(params["ResourceName"]),), why="read")]
        if operation == "AddTagsToResource":
            return [
                Request(action, (self._by_arn(params["ResourceName"]),), keys, "tag an existing resource")
            ]
        if operation in ("ModifyDBClusterParameterGroup", "ModifyDBParameterGroup"):
            kind = "cluster-pg" if "Cluster" in operation else "pg"
            name = params[f"DB{'Cluster' if kind == 'cluster-pg' else ''}ParameterGroupName"]
            return [Request(action, (self.existing(region, kind, name),), why="write a parameter group")]
        if operation == "ModifyDBCluster":
            resources = [self.existing(region, "cluster", params["DBClusterIdentifier"])]
            for kind, parameter in (
                ("cluster-pg", "DBClusterParameterGroupName"),
                ("pg", "DBInstanceParameterGroupName"),
            ):
                if params.get(parameter):
                    resources.append(self.existing(region, kind, params[parameter]))
            return [Request(action, tuple(resources), why="modify a cluster")]
        if operation == "DeleteDBInstance":
            resource = self.existing(region, "db", params["DBInstanceIdentifier"])
            return [Request(action, (resource,), why="delete an instance")]
        if operation == "DeleteDBCluster":
            cluster_id = params["DBClusterIdentifier"]
            # The reference requires cluster-snapshot* too; it does not say which ARN RDS
            # authorizes when no final snapshot is taken, so the cluster's name stands for it.
            snapshot = self.rds_arn(
                region, "cluster-snapshot", params.get("FinalDBSnapshotIdentifier", cluster_id)
            )
            resources = (self.existing(region, "cluster", cluster_id), Resource(snapshot))
            return [Request(action, resources, why="delete a cluster")]
        creates = self._rds_creates(operation, params, region, tags)
        if creates is None:
            return None
        new, others = creates
        requests = [Request(action, (new, *others), keys, "create")]
        if tags:
            on_create = {**keys, "rds:TagsFromRequest": ("true",)}
            requests.append(Request("rds:AddTagsToResource", (new,), on_create, f"tags in {operation}"))
        return requests

    def _rds_creates(
        self, operation: str, params: Mapping[str, Any], region: str, tags: Mapping[str, str]
    ) -> tuple[Resource, list[Resource]] | None:
        """The new resource a create call makes, and the existing ones it names."""
        if operation == "RestoreDBClusterToPointInTime":
            others = [self.existing(region, "cluster", params["SourceDBClusterIdentifier"])]
            if params.get("DBClusterParameterGroupName"):
                others.append(self.existing(region, "cluster-pg", params["DBClusterParameterGroupName"]))
            if params.get("DBSubnetGroupName"):
                others.append(self.existing(region, "subgrp", params["DBSubnetGroupName"]))
            return self.new(region, "cluster", params["DBClusterIdentifier"], tags), others
        if operation == "CreateDBInstance":
            others = []
            if params.get("DBClusterIdentifier"):
                others.append(self.existing(region, "cluster", params["DBClusterIdentifier"]))
            if params.get("DBParameterGroupName"):
                others.append(self.existing(region, "pg", params["DBParameterGroupName"]))
            return self.new(region, "db", params["DBInstanceIdentifier"], tags), others
        if operation == "CreateDBClusterSnapshot":
            blue = self.existing(region, "cluster", params["DBClusterIdentifier"])
            new = self.new(region, "cluster-snapshot", params["DBClusterSnapshotIdentifier"], tags)
            return new, [blue]
        for kind, infix in (("cluster-pg", "Cluster"), ("pg", "")):
            if operation == f"CreateDB{infix}ParameterGroup":
                return self.new(region, kind, params[f"DB{infix}ParameterGroupName"], tags), []
            if operation == f"CopyDB{infix}ParameterGroup":
                source = self.existing(region, kind, params[f"SourceDB{infix}ParameterGroupIdentifier"])
                target = self.new(region, kind, params[f"TargetDB{infix}ParameterGroupIdentifier"], tags)
                return target, [source]
        return None

    def _by_arn(self, arn: str) -> Resource:
        kind = arn.split(":")[5]
        return Resource(arn, resource_tag_keys(kind, self.tags_of(arn)))

    # -- the other services -------------------------------------------------------------------

    def _ec2(self, operation: str, params: Mapping[str, Any], region: str) -> list[Request] | None:
        if operation == "DescribeSecurityGroups":
            return [Request("ec2:DescribeSecurityGroups", (Resource("*"),), why="read")]
        return None

    def _cloudwatch(self, operation: str, params: Mapping[str, Any], region: str) -> list[Request] | None:
        names = {
            "PutDashboard": [params.get("DashboardName")],
            "DeleteDashboards": params.get("DashboardNames"),
        }
        if operation not in names:
            return None
        resources = tuple(
            Resource(f"arn:aws:cloudwatch::{self.account}:dashboard/{name}") for name in names[operation]
        )
        return [Request(f"cloudwatch:{operation}", resources, why="dashboard")]

    def _route53(self, operation: str, params: Mapping[str, Any], region: str) -> list[Request] | None:
        zone = params.get("Id") or params.get("HostedZoneId") or ""
        resource = Resource(f"arn:aws:route53:::hostedzone/{zone.rsplit('/', 1)[-1]}")
        if operation in ("GetHostedZone", "ListResourceRecordSets"):
            return [Request(f"route53:{operation}", (resource,), why="read")]
        if operation == "ChangeResourceRecordSets":
            changes = params["ChangeBatch"]["Changes"]
            keys: dict[str, Values] = {
                # "normalized": lower case, no trailing dot (Route 53's IAM condition keys)
                "route53:ChangeResourceRecordSetsNormalizedRecordNames": tuple(
                    c["ResourceRecordSet"]["Name"].rstrip(".").lower() for c in changes
                ),
                "route53:ChangeResourceRecordSetsRecordTypes": tuple(
                    c["ResourceRecordSet"]["Type"] for c in changes
                ),
                "route53:ChangeResourceRecordSetsActions": tuple(c["Action"] for c in changes),
            }
            return [Request("route53:ChangeResourceRecordSets", (resource,), keys, "repoint")]
        return None

    def _secretsmanager(self, operation: str, params: Mapping[str, Any], region: str) -> list[Request] | None:
        if operation in ("GetSecretValue", "PutSecretValue"):
            resource = Resource(self.secret_arn(params["SecretId"]))
            return [Request(f"secretsmanager:{operation}", (resource,), why="secret")]
        return None


@contextmanager
def enforced(policy: Mapping[str, Any], access_key: str, model: CallModel) -> Iterator[list[Decision]]:
    """Judge every call signed with ``access_key`` by ``policy``; yields the decisions, in order."""
    decisions: list[Decision] = []
    original = BaseClient._make_api_call

    def checked(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        credentials = client._request_signer._credentials
        if credentials is not None and credentials.access_key == access_key:
            service = client.meta.service_model.service_name
            for request in model.requests(service, operation_name, api_params, client.meta.region_name):
                decision = evaluate(policy, request)
                decisions.append(decision)
                if not decision.allowed:
                    raise ClientError(
                        {
                            "Error": {"Code": "AccessDenied", "Message": f"not authorized: {decision}"},
                            "ResponseMetadata": {"HTTPStatusCode": 403},
                        },
                        operation_name,
                    )
        return original(client, operation_name, api_params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", checked)
        yield decisions


@dataclass
class PolicyUser:
    """An IAM user in moto that holds the shipped policy, and what was decided for its calls."""

    key_id: str
    secret: str
    policy: dict[str, Any]
    decisions: list[Decision]

    def client(self, service: str, region: str) -> Any:
        import boto3

        return boto3.client(
            service, region_name=region, aws_access_key_id=self.key_id, aws_secret_access_key=self.secret
        )

    def actions(self) -> set[str]:
        return {decision.request.action for decision in self.decisions}

    def refused(self) -> list[str]:
        return [str(decision) for decision in self.decisions if not decision.allowed]


@contextmanager
def policy_user(
    name: str, values: Mapping[str, str], region: str, account: str, conn_id: str, extra: Mapping[str, Any]
) -> Iterator[PolicyUser]:
    """Under moto: an IAM user holding docs/iam-policy.json (placeholders from ``values``), the
    Airflow connection ``conn_id`` signing with its keys, and its calls judged by the policy."""
    import boto3

    iam = boto3.client("iam", region_name=region)
    rds = boto3.client("rds", region_name=region)
    secrets = boto3.client("secretsmanager", region_name=region)

    def tags_of(arn: str) -> dict[str, str]:
        return tag_dict(rds.list_tags_for_resource(ResourceName=arn)["TagList"])

    def secret_arn(secret_id: str) -> str:
        try:
            return secrets.describe_secret(SecretId=secret_id)["ARN"]
        except ClientError:
            prefix = f"arn:aws:secretsmanager:{region}:{account}:secret:"
            return secret_id if secret_id.startswith("arn:") else prefix + secret_id

    iam.create_user(UserName=name)
    # moto checks the document's grammar as IAM does (operators, ARN formats, Sids).
    iam.put_user_policy(
        UserName=name, PolicyName="aurora-bluegreen", PolicyDocument=json.dumps(load_policy(values))
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    attached = iam.get_user_policy(UserName=name, PolicyName="aurora-bluegreen")["PolicyDocument"]
    connection = {
        "conn_type": "aws",
        "login": key["AccessKeyId"],
        "password": key["SecretAccessKey"],
        "extra": dict(extra),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        model = CallModel(account, tags_of, secret_arn)
        with enforced(attached, key["AccessKeyId"], model) as decisions:
            yield PolicyUser(key["AccessKeyId"], key["SecretAccessKey"], attached, decisions)
