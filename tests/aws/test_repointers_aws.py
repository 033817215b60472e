"""Repointing on AWS: a Route 53 CNAME or the host in a Secrets Manager secret, checked up front."""

from __future__ import annotations

import json

import boto3
import pytest
from moto_aws import REGION

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.repointers.registry import parse_repoint_target, repointer_for
from aurora_bluegreen.repointers.route53 import Route53Repointer
from aurora_bluegreen.repointers.secretsmanager import SecretsManagerRepointer

GREEN = "green.cluster-abc.eu-west-1.rds.amazonaws.com"
ARN = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:app/db-AbCdEf"


@pytest.mark.parametrize(
    ("target", "parsed"),
    [
        ("none", ("none", "")),
        ("sandbox:app", ("sandbox", "app")),
        ("route53:Z0123456789ABC/db.example.com", ("route53", "Z0123456789ABC/db.example.com")),
        ("route53:/hostedzone/Z01ABC/DB.Example.com.", ("route53", "/hostedzone/Z01ABC/DB.Example.com.")),
        ("secretsmanager:app/db", ("secretsmanager", "app/db")),
        (f"secretsmanager:{ARN}", ("secretsmanager", ARN)),
    ],
)
def test_targets_are_parsed(target, parsed):
    assert parse_repoint_target(target) == parsed


@pytest.mark.parametrize(
    "target",
    [
        "route53:",
        "route53:db.example.com",
        "route53:Z0123/",
        "route53:not-a-zone/db.example.com",
        "route53:Z0123/db.example.com/extra",
        "route53:Z0123/localhost",
        "route53:Z0123/bad..example.com",
        "route53:Z0123/-db.example.com",
        "secretsmanager:",
        "secretsmanager:has space",
        "secretsmanager:arn:aws:s3:::bucket",
        "dns:db.example.com",
    ],
)
def test_bad_targets_are_refused_naming_the_field(target):
    with pytest.raises(InvalidInput) as error:
        parse_repoint_target(target)
    assert error.value.field == "repoint"


@pytest.fixture
def zone(aws):
    route53 = boto3.client("route53")
    zone_id = route53.create_hosted_zone(Name="example.com", CallerReference="tests")["HostedZone"]["Id"]
    return route53, zone_id.rsplit("/", 1)[-1]


def cname(route53, zone_id, name):
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    return next(r for r in records if r["Name"].rstrip(".") == name and r["Type"] == "CNAME")


def test_route53_upserts_a_short_ttl_cname_to_green(backend, zone):
    route53, zone_id = zone
    repointer = repointer_for(f"route53:{zone_id}/db.example.com", backend)
    assert isinstance(repointer, Route53Repointer)

    described = repointer.repoint("blue.cluster-abc.eu-west-1.rds.amazonaws.com", 3306, "blue")
    described = repointer.repoint(GREEN, 3306, "green")

    record = cname(route53, zone_id, "db.example.com")
    assert (record["TTL"], record["ResourceRecords"]) == (5, [{"Value": GREEN}])
    assert f"db.example.com CNAME -> {GREEN}" in described


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("db.other.org", "inside the zone example.com"),
        ("apex.example.com", "no other record than a CNAME (it has A)"),
    ],
)
def test_route53_refuses_before_the_cutover(backend, zone, name, rule):
    route53, zone_id = zone
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "apex.example.com",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "10.0.0.1"}],
                    },
                }
            ]
        },
    )
    with pytest.raises(InvalidInput, match=rule.replace("(", r"\(").replace(")", r"\)")):
        repointer_for(f"route53:{zone_id}/{name}", backend)


def test_route53_zone_must_exist(backend, aws):
    with pytest.raises(InvalidInput, match="existing hosted zone"):
        repointer_for("route53:Z0000000000NONE/db.example.com", backend)


@pytest.fixture
def secrets(aws):
    return boto3.client("secretsmanager", region_name=REGION)


def test_secrets_manager_moves_host_port_and_cluster_and_keeps_the_rest(backend, secrets):
    secrets.create_secret(
        Name="app/db",
        SecretString=json.dumps(
            {
                "host": "blue.example",
                "port": 3306,
                "username": "app",
                "password": "s3cr3t!",
                "dbClusterIdentifier": "blue",
            }
        ),
    )
    repointer = repointer_for("secretsmanager:app/db", backend)
    assert isinstance(repointer, SecretsManagerRepointer)

    described = repointer.repoint(GREEN, 3307, "green")

    values = json.loads(secrets.get_secret_value(SecretId="app/db")["SecretString"])
    assert values == {
        "host": GREEN,
        "port": 3307,
        "username": "app",
        "password": "s3cr3t!",
        "dbClusterIdentifier": "green",
    }
    assert "s3cr3t!" not in described and "host, port, dbClusterIdentifier" in described


@pytest.mark.parametrize(
    ("secret_id", "value", "rule"),
    [
        ("app/missing", None, "an existing secret"),
        ("app/plain", "password=s3cr3t!", 'a JSON object with a "host" string'),
        ("app/nohost", json.dumps({"password": "s3cr3t!"}), 'a JSON object with a "host" string'),
        (ARN.replace(REGION, "us-east-1"), None, f"a secret in {REGION}"),
    ],
)
def test_secrets_manager_refuses_before_the_cutover_without_showing_the_secret(
    backend, secrets, secret_id, value, rule
):
    if value is not None:
        secrets.create_secret(Name=secret_id, SecretString=value)
    with pytest.raises(InvalidInput, match=rule) as error:
        repointer_for(f"secretsmanager:{secret_id}", backend)
    assert "s3cr3t!" not in str(error.value)


def test_aws_targets_need_the_aws_control_plane(tmp_path):
    from aurora_bluegreen.control_plane.sandbox import SandboxBackend
    from aurora_bluegreen.sandbox.sandbox import Sandbox

    with pytest.raises(ValueError, match="needs the aws control plane"):
        repointer_for("route53:Z0123/db.example.com", SandboxBackend(Sandbox(tmp_path)))
