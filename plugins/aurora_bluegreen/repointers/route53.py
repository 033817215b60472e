"""``route53:<hosted zone id>/<record name>``: a CNAME from the application's name to green's writer.

Built and checked against AWS when the cutover task starts, before blue is frozen, so a wrong zone
fails the task while nothing has changed. ``repoint`` then makes exactly one write, inside the
cutover, and says what changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.repointers.protocol import RepointerKind

DEFAULT_TTL = 5
"""Seconds resolvers may keep the old answer after the cutover: short, so clients move quickly."""

_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_DNS_LABEL = re.compile(r"^(?:\*|[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)$")
ROUTE53_RULE = "route53:<hosted zone id>/<record name>, e.g. route53:Z0123456789ABC/db.example.com"


def parse_route53_target(target: str, field: str = "repoint") -> tuple[str, str]:
    """``"Z123/db.example.com"`` -> zone id and record name (lower case, no trailing dot)."""
    zone, _, record = target.removeprefix("/hostedzone/").partition("/")
    name = record.rstrip(".").lower()
    labels = name.split(".")
    valid_name = len(name) <= 253 and len(labels) >= 2 and all(_DNS_LABEL.match(label) for label in labels)
    if not _ZONE_ID.match(zone) or not valid_name:
        raise InvalidInput(field, f"route53:{target}", ROUTE53_RULE)
    return zone, name


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


def _parse(name: str, field: str) -> str:
    parse_route53_target(name, field)
    return name


def _build(name: str, backend: Any) -> Route53Repointer:
    from aurora_bluegreen.control_plane.aurora import AuroraBackend

    if not isinstance(backend, AuroraBackend):
        raise ValueError(f"repoint='route53:{name}' needs the aws control plane")
    return Route53Repointer.for_target(name, **backend.aws_hook_params)


KIND = RepointerKind(
    name_pattern="(/hostedzone/)?[A-Z0-9]{1,32}/[A-Za-z0-9_.*-]+",
    rule="'route53:<hosted zone id>/<record name>'",
    parse=_parse,
    build=_build,
)
