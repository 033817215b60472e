"""Where the application finds its database, and how the cutover moves it to green."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aurora_bluegreen.control_plane.protocol import ClusterBackend
    from aurora_bluegreen.cutover import Repointer

REPOINT_RULE = (
    "'none', 'sandbox:<endpoint name>', 'route53:<hosted zone id>/<record name>' "
    "or 'secretsmanager:<secret name or ARN>'"
)


class NoRepointer:
    """The application is moved by someone else (for example a deploy of the new code)."""

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        return f"not repointed: send the application to {host}:{port} yourself"


@dataclass(frozen=True)
class SandboxEndpointRepointer:
    """The sandbox's stand-in for DNS: a small file the load generator re-reads on every reconnect."""

    state_dir: str
    name: str

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        from aurora_bluegreen.sandbox.endpoints import Endpoint, endpoint_file, write_endpoint

        path = endpoint_file(self.state_dir, self.name)
        write_endpoint(path, Endpoint(host=host, port=port, cluster_id=cluster_id))
        return f"endpoint {self.name!r} -> {host}:{port} ({cluster_id}) in {path}"


def parse_repoint_target(target: str, field: str = "repoint") -> tuple[str, str]:
    """Split and check a target like 'sandbox:app' before anything changes; errors name ``field``."""
    from aurora_bluegreen.errors import InvalidInput
    from aurora_bluegreen.validation import sql_identifier

    kind, _, name = (target or "").partition(":")
    if kind == "none" and not name:
        return kind, ""
    if kind == "sandbox" and name:
        sql_identifier(field, name)
        return kind, name
    if kind == "route53" and name:
        from aurora_bluegreen.repointers_aws import parse_route53_target

        parse_route53_target(name)
        return kind, name
    if kind == "secretsmanager" and name:
        from aurora_bluegreen.repointers_aws import check_secret_id

        return kind, check_secret_id(name)
    raise InvalidInput(field, target, REPOINT_RULE)


def repointer_for(target: str, backend: ClusterBackend) -> Repointer:
    """The repointer for ``target``, checked against the place it will change before it is returned."""
    kind, name = parse_repoint_target(target)
    if kind == "none":
        return NoRepointer()
    if kind in ("route53", "secretsmanager"):
        from aurora_bluegreen.repointers_aws import Route53Repointer, SecretsManagerRepointer

        aws = getattr(backend, "aws_hook_params", None)
        if aws is None:
            raise ValueError(f"repoint={target!r} needs the aws control plane")
        repointer = (Route53Repointer if kind == "route53" else SecretsManagerRepointer).for_target(
            name, **aws
        )
        repointer.check()
        return repointer
    state_dir = getattr(backend, "state_dir", None)
    if state_dir is None:
        raise ValueError(f"repoint={target!r} needs the sandbox control plane")
    return SandboxEndpointRepointer(str(state_dir), name)
