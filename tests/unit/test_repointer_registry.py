"""Repoint target kinds come from one table: the form's pattern, the checks and the builder follow it."""

import re

import pytest

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.params import REPOINT_SCHEMA
from aurora_bluegreen.repointers.protocol import RepointerKind
from aurora_bluegreen.repointers.registry import (
    KINDS,
    REPOINT_RULE,
    parse_repoint_target,
    repoint_schema,
    repointer_for,
)


class _Recorder:
    def __init__(self, name: str) -> None:
        self.name, self.checked = name, False

    def check(self) -> None:
        self.checked = True

    def repoint(self, host: str, port: int, cluster_id: str) -> str:
        return f"{self.name} -> {host}:{port}"


def _refuse_upper(name: str, field: str) -> str:
    if name != name.lower():
        raise InvalidInput(field, name, "lower case")
    return name


FAKE = RepointerKind(
    name_pattern="[a-z]+",
    rule="'fake:<name>'",
    parse=_refuse_upper,
    build=lambda name, backend: _Recorder(name),
)


def _form_accepts(schema: dict, value: str) -> bool:
    return re.search(schema["pattern"], value) is not None


def test_the_dags_form_pattern_is_the_registrys():
    assert repoint_schema() == REPOINT_SCHEMA
    for word in KINDS:
        assert word in REPOINT_RULE


def test_a_kind_added_to_the_table_is_in_the_form_the_checks_and_the_builder(monkeypatch):
    assert not _form_accepts(repoint_schema(), "fake:abc")
    monkeypatch.setitem(KINDS, "fake", FAKE)

    schema = repoint_schema()
    assert _form_accepts(schema, "fake:abc") and not _form_accepts(schema, "fake:ABC1")
    assert parse_repoint_target("fake:abc") == ("fake", "abc")
    with pytest.raises(InvalidInput, match="qa_endpoint='ABC' is invalid"):
        parse_repoint_target("fake:ABC", field="qa_endpoint")
    repointer = repointer_for("fake:abc", backend=None)
    assert repointer.checked and repointer.repoint("h", 1, "green") == "abc -> h:1"


@pytest.mark.parametrize("target", ["", "fake:abc", "none:x", "sandbox:", "sandbox", "route53"])
def test_unknown_kinds_and_missing_or_extra_names_are_refused_with_the_rule(target):
    with pytest.raises(InvalidInput, match="is invalid: must be 'none', 'sandbox:"):
        parse_repoint_target(target)


def test_every_kind_sample_passes_both_the_form_and_the_check():
    samples = {
        "none": "none",
        "sandbox": "sandbox:app",
        "route53": "route53:Z0123456789ABC/db.example.com",
        "secretsmanager": "secretsmanager:app/db",
    }
    assert set(samples) == set(KINDS)
    for word, target in samples.items():
        assert _form_accepts(repoint_schema(), target), target
        assert parse_repoint_target(target)[0] == word
