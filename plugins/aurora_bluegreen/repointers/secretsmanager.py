"""``secretsmanager:<secret name or ARN>``: green's endpoint written into the application's JSON secret.

Applications that read their connection from the secret, or rotate it through RDS's secret format,
pick green up on their next reconnect. Checked before the freeze; one write inside it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.repointers.protocol import RepointerKind

_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@!-]{1,512}$")
_SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:(?P<region>[a-z0-9-]+):\d{12}:secret:[A-Za-z0-9/_+=.@!-]+$"
)
SECRET_RULE = "secretsmanager:<secret name or ARN>"


def check_secret_id(secret_id: str, field: str = "repoint") -> str:
    if not (
        _SECRET_ARN.match(secret_id) or (_SECRET_NAME.match(secret_id) and not secret_id.startswith("arn:"))
    ):
        raise InvalidInput(field, f"secretsmanager:{secret_id}", SECRET_RULE)
    return secret_id


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


def _build(name: str, backend: Any) -> SecretsManagerRepointer:
    from aurora_bluegreen.control_plane.aurora import AuroraBackend

    if not isinstance(backend, AuroraBackend):
        raise ValueError(f"repoint='secretsmanager:{name}' needs the aws control plane")
    return SecretsManagerRepointer.for_target(name, **backend.aws_hook_params)


KIND = RepointerKind(
    name_pattern="[A-Za-z0-9/_+=.@!:-]+", rule=f"'{SECRET_RULE}'", parse=check_secret_id, build=_build
)
