"""The IAM evaluator the policy tests rely on: it must refuse what IAM refuses, or they prove nothing."""

from __future__ import annotations

from typing import Any

import pytest
from iam_policy import Request, Resource, Unsupported, evaluate, load_policy

ARN = "arn:aws:rds:eu-west-1:123456789012:cluster:green"


def statement(effect: str = "Allow", action: Any = "rds:DeleteDBCluster", resource: Any = "*", **condition):
    body = {"Sid": "S", "Effect": effect, "Action": action, "Resource": resource}
    if condition:
        body["Condition"] = condition
    return body


def allowed(statements: list[dict]) -> bool:
    return evaluate({"Statement": statements}, Request("rds:DeleteDBCluster", (Resource(ARN),))).allowed


def test_nothing_is_allowed_without_an_allow_and_a_deny_beats_any_allow():
    assert not allowed([])
    assert allowed([statement()])
    assert not allowed([statement(), statement("Deny")])
    assert not allowed([statement(action="rds:DeleteDBInstance")])


@pytest.mark.parametrize(
    ("action", "resource", "expected"),
    [
        ("rds:deletedbcluster", "*", True),  # actions ignore case
        ("rds:Delete*", "*", True),
        ("rds:Describe*", "*", False),
        ("rds:DeleteDBCluste?", "*", True),
        ("rds:DeleteDBCluster", "arn:aws:rds:*:*:cluster:*", True),
        ("rds:DeleteDBCluster", "arn:aws:rds:*:*:cluster:Green", False),  # resources do not
        ("rds:DeleteDBCluster", "arn:aws:rds:*:*:db:*", False),
        ("rds:DeleteDBCluster", ["arn:aws:rds:*:*:db:*", "arn:aws:rds:*:*:cluster:gr??n"], True),
    ],
)
def test_action_and_resource_patterns(action, resource, expected):
    assert allowed([statement(action=action, resource=resource)]) is expected


def test_every_resource_of_a_request_must_be_allowed():
    request = Request(
        "rds:DeleteDBCluster", (Resource(ARN), Resource(ARN.replace("cluster:", "cluster-snapshot:")))
    )
    only_clusters = {"Statement": [statement(resource="arn:aws:rds:*:*:cluster:*")]}
    both = {
        "Statement": [*only_clusters["Statement"], statement(resource="arn:aws:rds:*:*:cluster-snapshot:*")]
    }
    assert evaluate(only_clusters, request).not_allowed == (ARN.replace("cluster:", "cluster-snapshot:"),)
    assert evaluate(both, request).allowed


OURS = {"StringEquals": {"rds:cluster-tag/managed-by": "aurora-bluegreen"}}


@pytest.mark.parametrize(
    ("condition", "keys", "expected"),
    [
        (OURS, {"rds:cluster-tag/managed-by": ("aurora-bluegreen",)}, True),
        (OURS, {"rds:cluster-tag/managed-by": ("Aurora-Bluegreen",)}, False),
        (OURS, {}, False),  # a missing key fails a positive operator...
        ({"StringNotEquals": OURS["StringEquals"]}, {}, True),  # ...and passes a negated one
        ({"StringNotEquals": OURS["StringEquals"]}, {"rds:cluster-tag/managed-by": ("other",)}, True),
        (
            {"StringNotEquals": OURS["StringEquals"]},
            {"rds:cluster-tag/managed-by": ("aurora-bluegreen",)},
            False,
        ),
        (OURS, {"RDS:Cluster-Tag/Managed-By": ("aurora-bluegreen",)}, True),  # key names ignore case
        ({"StringEquals": {"k": ["a", "b"]}}, {"k": ("b",)}, True),  # values of one key: any
        ({"StringEquals": {"k": "a", "j": "b"}}, {"k": ("a",)}, False),  # keys: all
        ({"StringEquals": {"k": "a"}, "StringLike": {"j": "b*"}}, {"k": ("a",), "j": ("bc",)}, True),
        ({"StringEqualsIgnoreCase": {"k": "ABC"}}, {"k": ("abc",)}, True),
        ({"StringNotEqualsIgnoreCase": {"k": "ABC"}}, {"k": ("abc",)}, False),
        ({"StringLike": {"k": "rds.*.amazonaws.com"}}, {"k": ("rds.eu-west-1.amazonaws.com",)}, True),
        ({"StringLike": {"k": "rds.*.amazonaws.com"}}, {"k": ("s3.amazonaws.com",)}, False),
        ({"StringNotLike": {"k": "a*"}}, {"k": ("ab",)}, False),
        ({"Null": {"k": "true"}}, {}, True),
        ({"Null": {"k": "true"}}, {"k": ("x",)}, False),
        ({"Null": {"k": "false"}}, {"k": ("x",)}, True),
        ({"StringEqualsIfExists": {"k": "a"}}, {}, True),
        ({"StringEqualsIfExists": {"k": "a"}}, {"k": ("b",)}, False),
        ({"ForAnyValue:StringEquals": {"k": ["a"]}}, {"k": ("b", "a")}, True),
        ({"ForAnyValue:StringEquals": {"k": ["a"]}}, {"k": ("b",)}, False),
        ({"ForAnyValue:StringEquals": {"k": ["a"]}}, {}, False),
        ({"ForAllValues:StringEquals": {"k": ["a", "b"]}}, {"k": ("b", "a")}, True),
        ({"ForAllValues:StringEquals": {"k": ["a"]}}, {"k": ("a", "c")}, False),
        ({"ForAllValues:StringEquals": {"k": ["a"]}}, {}, True),  # vacuously, as IAM does
        ({"ForAnyValue:StringEqualsIgnoreCase": {"k": ["managed-by"]}}, {"k": ("role", "Managed-By")}, True),
        ({"Bool": {"k": "true"}}, {"k": ("True",)}, True),
    ],
)
def test_conditions(condition, keys, expected):
    policy = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition}]}
    assert evaluate(policy, Request("rds:X", (Resource(ARN),), keys)).allowed is expected


@pytest.mark.parametrize(
    "body",
    [
        {"Effect": "Allow", "NotAction": "rds:X", "Resource": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"},
        {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:rds:*:${aws:userid}:*"},
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"k": "1"}}},
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"multi": "a"}}},
        {"Effect": "Maybe", "Action": "*", "Resource": "*"},
    ],
)
def test_what_it_cannot_judge_it_refuses_to_judge(body):
    request = Request("rds:X", (Resource(ARN),), {"multi": ("a", "b")})
    with pytest.raises(Unsupported):
        evaluate({"Statement": [body]}, request)


def test_the_shipped_policy_loads_only_with_every_placeholder_filled():
    with pytest.raises(KeyError, match="HOSTED-ZONE-ID"):
        load_policy({})
