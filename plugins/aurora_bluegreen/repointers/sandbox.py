"""``sandbox:<endpoint name>``: the sandbox's stand-in for DNS, a file the load generator follows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aurora_bluegreen.repointers.protocol import RepointerKind
from aurora_bluegreen.validation import SQL_IDENTIFIER_PATTERN, sql_identifier


@dataclass(frozen=True)
class SandboxEndpointRepointer:
    """A small file the load generator re-reads on every reconnect, as an application re-resolves DNS."""

    state_dir: str
    name: str

    def check(self) -> None:
        """The endpoint file lives in the sandbox's state directory, which the backend proved exists."""

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        from aurora_bluegreen.sandbox.endpoints import Endpoint, endpoint_file, write_endpoint

        path = endpoint_file(self.state_dir, self.name)
        write_endpoint(path, Endpoint(host=host, port=port, cluster_id=cluster_id))
        return f"endpoint {self.name!r} -> {host}:{port} ({cluster_id}) in {path}"


def _parse(name: str, field: str) -> str:
    return sql_identifier(field, name)


def _build(name: str, backend: Any) -> SandboxEndpointRepointer:
    from aurora_bluegreen.control_plane.sandbox import SandboxBackend

    if not isinstance(backend, SandboxBackend):
        raise ValueError(f"repoint='sandbox:{name}' needs the sandbox control plane")
    return SandboxEndpointRepointer(str(backend.state_dir), name)


KIND = RepointerKind(
    name_pattern=SQL_IDENTIFIER_PATTERN, rule="'sandbox:<endpoint name>'", parse=_parse, build=_build
)
