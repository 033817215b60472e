"""The one table of repoint target kinds, and everything derived from it.

To add a kind: write its module (a repointer with ``check`` and ``repoint``, and its ``KIND``), and
add one line to ``KINDS``. The checks before anything changes (``parse_repoint_target``), the
builder (``repointer_for``) and the trigger form's pattern (``repoint_schema``) all follow.
"""

from __future__ import annotations

from typing import Any

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.repointers import none, route53, sandbox, secretsmanager
from aurora_bluegreen.repointers.protocol import Repointer, RepointerKind

KINDS: dict[str, RepointerKind] = {
    "none": none.KIND,
    "sandbox": sandbox.KIND,
    "route53": route53.KIND,
    "secretsmanager": secretsmanager.KIND,
}

_RULES = [kind.rule for kind in KINDS.values()]
REPOINT_RULE = ", ".join(_RULES[:-1]) + " or " + _RULES[-1]


def parse_repoint_target(target: str, field: str = "repoint") -> tuple[str, str]:
    """Split and check a target like 'sandbox:app' before anything changes; errors name ``field``."""
    word, _, name = (target or "").partition(":")
    kind = KINDS.get(word)
    if kind is None or (kind.name_pattern is None) != (not name):
        raise InvalidInput(field, target, REPOINT_RULE)
    return word, kind.parse(name, field)


def repointer_for(target: str, backend: Any) -> Repointer:
    """The repointer for ``target``, checked against the place it will change before it is returned."""
    word, name = parse_repoint_target(target)
    repointer = KINDS[word].build(name, backend)
    repointer.check()
    return repointer


def repoint_schema() -> dict[str, str]:
    """The trigger form's JSON schema for a repoint target, built from ``KINDS``."""
    forms = [
        word if kind.name_pattern is None else f"{word}:{kind.name_pattern}" for word, kind in KINDS.items()
    ]
    return {"type": "string", "pattern": f"^({'|'.join(forms)})$"}
