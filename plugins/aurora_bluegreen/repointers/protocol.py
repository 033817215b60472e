"""What every repointer does, and how a kind of repointer is described to the registry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class Repointer(Protocol):
    def check(self) -> None:
        """Prove, before the freeze, that ``repoint`` can succeed; raise with the field's name if not."""

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        """Send the application to this endpoint; return a short description of what changed (no secret)."""


@dataclass(frozen=True)
class RepointerKind:
    """One kind of target, ``<word>:<name>``.

    :param name_pattern: a JSON-schema (ECMA) regular expression for the name, for the trigger
        form; None for a kind that takes no name (``none``).
    :param rule: the target's form in words, for error messages.
    :param parse: checks a name (raising ``InvalidInput`` for ``field``) and returns it normalised.
    :param build: the repointer for a parsed name, given the task's control plane; raises when that
        plane cannot serve this kind.
    """

    name_pattern: str | None
    rule: str
    parse: Callable[[str, str], str]
    build: Callable[[str, Any], Repointer]
