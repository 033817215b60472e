"""The docs say what the code does: the README's form reference, the operator pages' arguments and
the troubleshooting messages are checked against the code, so a change to either shows up here."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / "README.md"
OPERATOR_DOCS = REPO_ROOT / "docs" / "operators"
PLUGINS = REPO_ROOT / "plugins" / "aurora_bluegreen"

# Page -> the class it documents.
PAGES = {
    "preflight.md": "aurora_bluegreen.operators.preflight.PreflightOperator",
    "clone.md": "aurora_bluegreen.operators.clone.CloneClusterOperator",
    "start_replication.md": "aurora_bluegreen.operators.replication.StartBinlogReplicationOperator",
    "replica_lag_sensor.md": "aurora_bluegreen.sensors.replica_lag.ReplicaLagSensor",
    "cutover.md": "aurora_bluegreen.operators.cutover.CutoverOperator",
    "verify_cutover.md": "aurora_bluegreen.operators.cutover.VerifyCutoverOperator",
    "validate_sql_files.md": "aurora_bluegreen.operators.sql_inputs.ValidateSqlFilesOperator",
    "apply_migrations.md": "aurora_bluegreen.operators.migrations.ApplyMigrationsOperator",
    "run_checks.md": "aurora_bluegreen.operators.checks.RunChecksOperator",
    "record_teardown_facts.md": "aurora_bluegreen.operators.teardown.RecordTeardownFactsOperator",
    "lag_dashboard.md": "aurora_bluegreen.operators.dashboard.BinlogLagDashboardOperator",
    "readers.md": "aurora_bluegreen.operators.readers.AuroraReadersOperator",
    "teardown.md": "aurora_bluegreen.operators.teardown.TeardownDeploymentOperator",
    "delete_lag_dashboard.md": "aurora_bluegreen.operators.dashboard.DeleteBinlogLagDashboardOperator",
    "plan_qa_refresh.md": "aurora_bluegreen.operators.qa.PlanQaRefreshOperator",
    "mask_qa_clone.md": "aurora_bluegreen.operators.qa.MaskQaCloneOperator",
    "start_qa_replication.md": "aurora_bluegreen.operators.qa.StartQaReplicationOperator",
    "publish_qa_clone.md": "aurora_bluegreen.operators.qa.PublishQaCloneOperator",
    "retire_qa_clones.md": "aurora_bluegreen.operators.qa.RetireQaClonesOperator",
}
# Base-class arguments a page may document because the class changes their default.
BASE_ARGUMENTS = {"poke_interval", "timeout"}

# Each troubleshooting entry quotes a message; these pieces of them must be in the code verbatim.
QUOTED_MESSAGES = (
    "is in use; is another Airflow (a demo left running?) on it?",
    "not found on PATH or in",
    "the id of an existing Airflow connection",
    "does not exist; ",
    "run `aurora-bluegreen sandbox up --state-dir ...` first",
    "the control plane supports ",
    "no sandbox cluster ",
    "4-16 letters, digits or underscores; first a letter",
    "aurora-bluegreen did not create; choose another id",
    "replication to green needs one of ",
    "has binary logging off; turn on binlogs first",
    "refusing to change or drop a user aurora-bluegreen did not create. Choose another ",
    " is broken: ",
    " thread error ",
    "green did not reach ",
    "s freeze budget",
    "cutover failed: ",
    "s, over the ",
    "blue has long-running transactions that the freeze would cut off: ",
)


def section(text: str, heading: str) -> str:
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)(?=^#+ |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"no section {heading!r}"
    return match.group(1)


def table_rows(markdown: str) -> dict[str, list[str]]:
    """First-column name (in backticks) -> the row's other cells."""
    rows = {}
    for line in markdown.splitlines():
        match = re.match(r"^\| `([A-Za-z_][A-Za-z0-9_]*)` \|(.*)\|$", line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in match.group(2).split("|")]
    return rows


def documented_default(cell: str) -> Any:
    if cell in ("required", "empty"):
        return {"required": inspect.Parameter.empty, "empty": None}[cell]
    text = cell.strip("`").replace('"', "")
    return {"false": False, "true": True, "None": None, "()": (), "[]": []}.get(text, text)


def same_default(documented: Any, actual: Any) -> bool:
    if isinstance(documented, str) and not isinstance(actual, str):
        return documented.split(" ")[0] == str(actual)
    return documented == actual or (documented == () and actual in ((), None))


def keyword_arguments(cls: type) -> dict[str, inspect.Parameter]:
    """The keyword-only arguments of ``cls`` and of its bases up to (not including) BaseOperator."""
    from airflow.sdk import BaseOperator, BaseSensorOperator

    found: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if klass in (BaseOperator, BaseSensorOperator):
            break
        if "__init__" in vars(klass):
            for name, parameter in inspect.signature(klass.__init__).parameters.items():
                if parameter.kind is parameter.KEYWORD_ONLY:
                    found.setdefault(name, parameter)
    return found


def load_class(path: str) -> type:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_operator_page_lists_every_argument_with_its_default(page):
    cls = load_class(PAGES[page])
    text = (OPERATOR_DOCS / page).read_text()
    assert text.startswith(f"# {cls.__name__}\n"), page
    documented = table_rows(section(text, "Arguments"))
    parameters = keyword_arguments(cls)
    missing = set(parameters) - set(documented)
    unknown = set(documented) - set(parameters) - BASE_ARGUMENTS
    assert not missing and not unknown, (
        f"{page}: undocumented {sorted(missing)}, not arguments {sorted(unknown)}"
    )
    for name, parameter in parameters.items():
        default = documented_default(documented[name][0])
        assert same_default(default, parameter.default), f"{page}: {name} default {parameter.default!r}"
        templated = "Templated." in documented[name][-1]
        assert templated == (name in cls.template_fields), f"{page}: is {name} templated?"


def test_every_operator_page_is_linked_from_the_readme():
    text = README.read_text()
    for page in PAGES:
        assert f"(docs/operators/{page})" in text, page
    assert {path.name for path in OPERATOR_DOCS.glob("*.md")} == set(PAGES)


def test_readme_form_reference_matches_the_deployment_dags_params(deployment_dag):
    params = deployment_dag.params
    documented = table_rows(section(README.read_text(), "The trigger form (Params)"))
    assert set(documented) == set(params), "README's form reference and the DAG's Params differ"
    for name, cells in documented.items():
        assert same_default(documented_default(cells[0]), params[name]), f"{name}: {params[name]!r}"


def test_troubleshooting_quotes_messages_the_code_really_raises():
    code = "\n".join(path.read_text() for path in PLUGINS.rglob("*.py"))
    troubleshooting = section(README.read_text(), "Troubleshooting")
    for message in QUOTED_MESSAGES:
        assert message in code, f"the code no longer says {message!r}"
        assert message in troubleshooting, f"the README does not quote {message!r}"


def test_readme_opens_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert lines[0] == "# aurora-bluegreen"
    assert lines[4:8] == [
        "```sh",
        "make demo   # a full deployment through real Airflow, under write load, with a report",
        "make test   # unit, integration (real MariaDB) and end-to-end (real Airflow) tests",
        "```",
    ]


def test_relative_links_in_the_docs_resolve():
    for doc in [README, *OPERATOR_DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
