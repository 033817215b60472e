"""``none``: the application is moved by someone else (for example a deploy of the new code)."""

from __future__ import annotations

from typing import Any

from aurora_bluegreen.repointers.protocol import RepointerKind


class NoRepointer:
    def check(self) -> None:
        """Nothing to prove: nothing will be changed."""

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        return f"not repointed: send the application to {host}:{port} yourself"


def _parse(name: str, field: str) -> str:
    return name


def _build(name: str, backend: Any) -> NoRepointer:
    return NoRepointer()


KIND = RepointerKind(name_pattern=None, rule="'none'", parse=_parse, build=_build)
