"""A small IAM evaluator for ``docs/iam-policy.json``: what AWS would decide for one request.

Moto cannot judge this policy (``test_iam_policy.py`` pins why: it authorizes RDS requests against
the resource ``*`` and treats every ``Condition`` as met), so the tests evaluate it here, with
the rules of https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
for one identity-based policy:

- an explicit Deny that matches wins; otherwise a request is allowed only if an Allow matches;
- a request that names several resources (RDS's DeleteDBCluster names the cluster and a
  cluster-snapshot) is allowed only if each of them is;
- ``Action`` matches without regard to case, ``Resource`` with it; ``*`` and ``?`` are wildcards;
- condition operators are ANDed, the keys of one operator are ANDed, the values of one key ORed;
- a key missing from the request makes a condition false, except for the negated operators
  (``StringNotEquals``...), which are then true, ``Null``, ``...IfExists`` and ``ForAllValues``;
- condition key names are case-insensitive (``aws:ResourceTag/Managed-By`` is
  ``aws:ResourceTag/managed-by``), values are compared as the operator says.

Only what the shipped policy uses is implemented; anything else (``NotAction``, ``Principal``, policy
variables, an unknown operator, a multivalued key without a set operator) raises ``Unsupported``,
so a policy change the evaluator cannot judge fails the tests instead of passing unjudged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

POLICY_FILE = Path(__file__).resolve().parents[2] / "docs" / "iam-policy.json"
PLACEHOLDER = re.compile(r"<([A-Z0-9-]+)>")


class Unsupported(ValueError):
    """The policy or the request uses something this evaluator does not implement."""


def placeholders(text: str | None = None) -> set[str]:
    """The ``<NAME>`` placeholders the shipped policy asks the user to replace."""
    return set(PLACEHOLDER.findall(POLICY_FILE.read_text() if text is None else text))


def load_policy(values: Mapping[str, str]) -> dict[str, Any]:
    """The shipped policy with every ``<NAME>`` replaced by ``values[NAME]``."""
    text = POLICY_FILE.read_text()
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for the placeholders {sorted(missing)}")
    return json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], text))


Values = tuple[str, ...]


@dataclass(frozen=True)
class Resource:
    """One resource a request acts on, with the condition keys it brings (its tags)."""

    arn: str
    keys: Mapping[str, Values] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    """What IAM is asked: an action on resources, with the request's own condition keys."""

    action: str
    resources: tuple[Resource, ...]
    keys: Mapping[str, Values] = field(default_factory=dict)
    why: str = ""


@dataclass(frozen=True)
class Decision:
    request: Request
    denied_by: tuple[str, ...]
    """Sids of the Deny statements that matched."""
    not_allowed: tuple[str, ...]
    """ARNs no Allow statement matched."""
    allowed_by: tuple[str, ...]
    """Sids of the Allow statements that matched some resource."""

    @property
    def allowed(self) -> bool:
        return not self.denied_by and not self.not_allowed

    def __str__(self) -> str:
        arns = ", ".join(r.arn for r in self.request.resources)
        if self.allowed:
            return f"{self.request.action} on {arns}: allowed by {', '.join(self.allowed_by)}"
        if self.denied_by:
            return f"{self.request.action} on {arns}: explicitly denied by {', '.join(self.denied_by)}"
        return f"{self.request.action} on {arns}: no statement allows it on {', '.join(self.not_allowed)}"


def evaluate(policy: Mapping[str, Any], request: Request) -> Decision:
    statements = policy["Statement"]
    if isinstance(statements, Mapping):
        statements = [statements]
    denied: list[str] = []
    allowed: list[str] = []
    not_allowed: list[str] = []
    for resource in request.resources:
        context = _context(request.keys, resource.keys)
        allows = False
        for number, statement in enumerate(statements):
            if not _matches(statement, request.action, resource.arn, context):
                continue
            sid = statement.get("Sid", f"statement {number}")
            if statement["Effect"] == "Deny":
                denied.append(sid)
            elif statement["Effect"] == "Allow":
                allows = True
                allowed.append(sid)
            else:
                raise Unsupported(f"Effect {statement['Effect']!r}")
        if not allows:
            not_allowed.append(resource.arn)
    return Decision(request, tuple(dict.fromkeys(denied)), tuple(not_allowed), tuple(dict.fromkeys(allowed)))


def _context(*parts: Mapping[str, Values]) -> dict[str, Values]:
    """The request context, keyed by lower-case key name (IAM compares key names case-insensitively)."""
    context: dict[str, Values] = {}
    for part in parts:
        for key, values in part.items():
            if isinstance(values, str):
                raise Unsupported(f"context key {key}: give a tuple of values, not a string")
            name = key.lower()
            context[name] = (*context.get(name, ()), *values)
    return context


_SUPPORTED_ELEMENTS = {"Sid", "Effect", "Action", "Resource", "Condition"}


def _matches(statement: Mapping[str, Any], action: str, arn: str, context: Mapping[str, Values]) -> bool:
    unknown = set(statement) - _SUPPORTED_ELEMENTS
    if unknown:
        raise Unsupported(f"statement {statement.get('Sid')}: {sorted(unknown)}")
    if not any(_glob(pattern, action, ignore_case=True) for pattern in _listed(statement["Action"])):
        return False
    if not any(_glob(pattern, arn, ignore_case=False) for pattern in _listed(statement["Resource"])):
        return False
    return all(
        _condition(operator, key, _listed(expected), context)
        for operator, block in statement.get("Condition", {}).items()
        for key, expected in block.items()
    )


def _listed(value: str | Sequence[str]) -> list[str]:
    values = [value] if isinstance(value, str) else list(value)
    for item in values:
        if not isinstance(item, str):
            raise Unsupported(f"non-string value {item!r}")
        if "${" in item:
            raise Unsupported(f"policy variable in {item!r}")
    return values


def _glob(pattern: str, value: str, ignore_case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _string_equals(expected: str, actual: str) -> bool:
    return expected == actual


def _string_equals_ignore_case(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


def _string_like(expected: str, actual: str) -> bool:
    return _glob(expected, actual, ignore_case=False)


def _bool(expected: str, actual: str) -> bool:
    return expected.lower() == actual.lower()


# operator -> (how one expected value matches one actual value, negated)
_OPERATORS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "ArnEquals": (_string_like, False),
    "ArnLike": (_string_like, False),
    "ArnNotEquals": (_string_like, True),
    "ArnNotLike": (_string_like, True),
    "Bool": (_bool, False),
}


def _condition(operator: str, key: str, expected: list[str], context: Mapping[str, Values]) -> bool:
    actual = context.get(key.lower())
    qualifier, _, name = operator.rpartition(":")
    if qualifier not in ("", "ForAnyValue", "ForAllValues"):
        raise Unsupported(f"condition operator {operator}")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    if name == "Null":
        if qualifier or if_exists or len(expected) != 1 or expected[0].lower() not in ("true", "false"):
            raise Unsupported(f"{operator}: {expected}")
        return (actual is None) == (expected[0].lower() == "true")
    if name not in _OPERATORS:
        raise Unsupported(f"condition operator {operator}")
    match, negated = _OPERATORS[name]

    def one(value: str) -> bool:
        hit = any(match(candidate, value) for candidate in expected)
        return not hit if negated else hit

    if actual is None:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated
    if qualifier == "ForAnyValue":
        return any(one(value) for value in actual)
    if qualifier == "ForAllValues":
        return all(one(value) for value in actual)
    if len(actual) != 1:
        raise Unsupported(f"{operator} on the multivalued key {key} needs ForAnyValue or ForAllValues")
    return one(actual[0])
