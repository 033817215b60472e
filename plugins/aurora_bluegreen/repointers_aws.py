"""Repointing the application on AWS at cutover: a Route 53 record, or the host in a Secrets Manager secret.

Both are built and checked against AWS when the cutover task starts, before blue is frozen, so a
wrong zone or secret fails the task while nothing has changed. ``repoint`` then makes exactly one
write, inside the cutover, and returns a description that holds no secret value.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aurora_bluegreen.errors import InvalidInput

DEFAULT_TTL = 5
"""Seconds resolvers may keep the old answer after the cutover: short, so clients move quickly."""

_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_DNS_LABEL = re.compile(r"^(?:\*|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$")
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@!-]{1,512}$")
_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:secret:[A-Za-z0-9/_+=.@!-]+$"
)
ROUTE53_RULE = "route53:<hosted zone id>/<record name>, e.g. route53:Z0123456789ABC/db.example.com"
SECRET_RULE = "secretsmanager:<secret name or ARN>"


def parse_route53_target(target: str) -> tuple[str, str]:
    """``"Z123/db.example.com"`` -> zone id and record name (lower case, no trailing dot)."""
    zone, _, record = target.removeprefix("/hostedzone/").partition("/")
    name = record.rstrip(".").lower()
    labels = name.split(".")
    valid_name = len(name) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels)
    if not _ZONE_ID.match(zone) or not valid_name:
        raise InvalidInput("repoint", f"route53:{target}", ROUTE53_RULE)
    return zone, name


def check_secret_id(secret_id: str) -> str:
    if not (
        _SECRET_ARN.match(secret_id) or (_SECRET_NAME.match(secret_id) and not secret_id.startswith("arn:"))
    ):
        raise InvalidInput("repoint", f"secretsmanager:{secret_id}", SECRET_RULE)
    return secret_id


@dataclass(frozen=True)
class Route53Repointer:
    """UPSERT a CNAME from the application's name to green's writer endpoint, with a short TTL."""

    zone_id: str
    record_name: str
    aws_conn_id: str | None
    ttl: int = DEFAULT_TTL
    verify: bool | str | None = None
    config: Any = None

    @classmethod
    def for_target(cls, target: str, **aws: Any) -> Route53Repointer:
        zone_id, record_name = parse_route53_target(target)
        return cls(
            zone_id, record_name, aws["aws_conn_id"], verify=aws.get("verify"), config=aws.get("config")
        )

    @cached_property
    def _client(self) -> Any:
        """Made once, by ``check()`` before the freeze: building a boto3 client takes tens of ms."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        # Route 53 is a global service; the connection's region does not apply to it.
        return AwsBaseHook(
            aws_conn_id=self.aws_conn_id, client_type="route53", verify=self.verify, config=self.config
        ).conn

    def check(self) -> None:
        """The zone exists and holds the name, and the name is free or already a CNAME."""
        from aurora_bluegreen.control_plane.aws_calls import aws_call
        from aurora_bluegreen.errors import AwsCallFailed

        client = self._client
        target = f"route53:{self.zone_id}/{self.record_name}"
        try:
            zone = (
                aws_call(client, "get_hosted_zone", Id=self.zone_id)["HostedZone"]["Name"].rstrip(".").lower()
            )
        except AwsCallFailed as error:
            if error.not_found:
                raise InvalidInput("repoint", target, f"{ROUTE53_RULE}, in an existing hosted zone") from None
            raise
        if self.record_name != zone and not self.record_name.endswith(f".{zone}"):
            raise InvalidInput("repoint", target, f"a record name inside the zone {zone}")
        records = aws_call(
            client,
            "list_resource_record_sets",
            HostedZoneId=self.zone_id,
            StartRecordName=self.record_name,
            MaxItems="10",
        )["ResourceRecordSets"]
        taken = sorted(
            record["Type"]
            for record in records
            if record["Name"].rstrip(".").lower() == self.record_name and record["Type"] != "CNAME"
        )
        if taken:
            raise InvalidInput(
                "repoint", target, f"a name with no other record than a CNAME (it has {', '.join(taken)})"
            )

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        from aurora_bluegreen.control_plane.aws_calls import aws_call

        change = aws_call(
            self._client,
            "change_resource_record_sets",
            HostedZoneId=self.zone_id,
            ChangeBatch={
                "Comment": f"aurora-bluegreen cutover to {cluster_id}",
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": self.record_name,
                            "Type": "CNAME",
                            "TTL": self.ttl,
                            "ResourceRecords": [{"Value": host}],
                        },
                    }
                ],
            },
        )["ChangeInfo"]
        return (
            f"Route 53 {self.zone_id} {self.record_name} CNAME -> {host} (TTL {self.ttl}s, change "
            f"{change['Id'].rsplit('/', 1)[-1]} {change['Status']}); the application keeps port {port}"
        )


@dataclass(frozen=True)
class SecretsManagerRepointer:
    """Set ``host`` (and ``port``, ``dbClusterIdentifier`` where present) in a JSON secret.

    Applications that read their connection from the secret, or rotate it through RDS's secret
    format, pick green up on their next reconnect.
    """

    secret_id: str
    aws_conn_id: str | None
    region_name: str | None = None
    verify: bool | str | None = None
    config: Any = None

    @classmethod
    def for_target(cls, target: str, **aws: Any) -> SecretsManagerRepointer:
        return cls(
            check_secret_id(target),
            aws["aws_conn_id"],
            region_name=aws.get("region_name"),
            verify=aws.get("verify"),
            config=aws.get("config"),
        )

    @cached_property
    def _hook(self) -> Any:
        """Made once, by ``check()`` before the freeze: building a boto3 client takes tens of ms."""
        from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook

        return SecretsManagerHook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify, config=self.config
        )

    def check(self) -> None:
        """The secret exists in the connection's region and is a JSON object with a ``host``."""
        self._read(self._hook)

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        from aurora_bluegreen.control_plane.aws_calls import aws_call

        hook = self._hook
        values = self._read(hook)
        changed = ["host"]
        values["host"] = host
        if "port" in values:
            values["port"] = port if isinstance(values["port"], int) else str(port)
            changed.append("port")
        if "dbClusterIdentifier" in values:
            values["dbClusterIdentifier"] = cluster_id
            changed.append("dbClusterIdentifier")
        version = aws_call(
            hook.conn, "put_secret_value", SecretId=self.secret_id, SecretString=json.dumps(values)
        )
        return (
            f"secret {self.secret_id}: {', '.join(changed)} now point at {host}:{port} ({cluster_id}), "
            f"version {version['VersionId']}"
        )

    def _read(self, hook: Any) -> dict[str, Any]:
        from aurora_bluegreen.control_plane.aws_calls import aws_call
        from aurora_bluegreen.errors import AwsCallFailed

        target = f"secretsmanager:{self.secret_id}"
        arn = _SECRET_ARN.match(self.secret_id)
        region = hook.conn_region_name
        if arn and arn.group("region") != region:
            raise InvalidInput("repoint", target, f"a secret in {region}, the AWS connection's region")
        try:
            text = aws_call(hook.conn, "get_secret_value", SecretId=self.secret_id).get("SecretString")
        except AwsCallFailed as error:
            if error.not_found:
                raise InvalidInput(
                    "repoint", target, f"{SECRET_RULE} of an existing secret in {region}"
                ) from None
            raise
        try:
            values = json.loads(text or "")
        except ValueError:
            values = None
        if not isinstance(values, dict) or not isinstance(values.get("host"), str):
            # Never quote the secret's value: it may hold a password.
            raise InvalidInput(
                "repoint", target, 'a secret whose value is a JSON object with a "host" string'
            )
        return values
