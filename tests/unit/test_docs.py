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
    "upgrade_green.md": "aurora_bluegreen.operators.upgrade.UpgradeGreenOperator",
    "approval.md": "aurora_bluegreen.operators.approval.CutoverApprovalOperator",
    "snapshot.md": "aurora_bluegreen.operators.snapshot.ClusterSnapshotOperator",
}
# Base-class arguments a page may document because the class changes their default.
BASE_ARGUMENTS = {"poke_interval", "timeout"}

# Each troubleshooting entry quotes a message: (the module that says it, the message), with ``{}``
# where the code fills in a value. The message's fixed text must be in that module, with an
# f-string field at each ``{}`` inside it, and the README must quote the message whole.
QUOTED_MESSAGES = (
    ("demo/airflow_stack.py", "port {} is in use; is another Airflow (a demo left running?) on it?"),
    ("sandbox/server.py", "{} not found on PATH or in {}"),
    ("validation.py", "is invalid: must be the id of an existing Airflow connection"),
    (
        "control_plane/sandbox.py",
        "connection {}: sandbox state_dir {} does not exist; "
        "run `aurora-bluegreen sandbox up --state-dir ...` first",
    ),
    (
        "control_plane/factory.py",
        "connection {} has type {}; the control plane supports {} and {} connections",
    ),
    ("sandbox/sandbox.py", "no sandbox cluster {} in {}"),
    ("validation.py", "is invalid: must be 4-16 letters, digits or underscores; first a letter"),
    ("validation.py", "is invalid: must be a non-empty password"),
    ("ownership.py", "{} names an existing cluster that aurora-bluegreen did not create; choose another id"),
    ("operators/preflight.py", "blue {} has binlog_format={}; replication to green needs one of {}"),
    ("operators/preflight.py", "{} has binary logging off; turn on binlogs first"),
    (
        "hooks/cluster_sql.py",
        "user {}@{} exists with more than REPLICATION SLAVE on *.* ({}); refusing to change or drop "
        "a user aurora-bluegreen did not create. Choose another replication user name.",
    ),
    ("sensors/replica_lag.py", "replication on {} is broken: {}"),
    ("catchup.py", "{} thread error {}: {}"),
    ("cutover.py", "cutover failed: {}"),
    ("cutover.py", "green did not reach {} within the {}s freeze budget"),
    ("guardrails.py", "green lags {}s, over the {}s threshold"),
    ("guardrails.py", "blue has long-running transactions that the freeze would cut off: {}"),
)
# InvalidInput's message is "{field}={value!r} is invalid: must be {rule}": the rule is in the module
# that checks it, the words around it in errors.py.
INVALID_INPUT = "is invalid: must be "


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


def joined_string_literals(source: str) -> str:
    """``source`` with string literals that continue on the next line joined, as Python joins them."""
    return re.sub(r"\"\s*\n\s*[fr]*\"", "", source)


def code_says(source: str, message: str) -> bool:
    """Whether ``source`` builds ``message``: its fixed text, with an f-string field at each inner ``{}``.

    A ``{}`` at either end may be filled in any way (a value put in front, a list joined after).
    """
    fixed = message.removeprefix("{}").removesuffix("{}")
    if fixed.startswith(INVALID_INPUT):
        fixed = fixed.removeprefix(INVALID_INPUT)
    pattern = r"\{[^{}\n]*\}".join(re.escape(piece) for piece in fixed.split("{}"))
    return re.search(pattern, joined_string_literals(source)) is not None


def readme_quotes(text: str, message: str) -> bool:
    """Whether ``text`` quotes ``message`` on one line, with something in place of each ``{}``."""
    pattern = r"[^\n]+?".join(re.escape(piece) for piece in message.split("{}"))
    return re.search(pattern, text) is not None


def test_the_message_check_finds_a_message_only_where_it_is_built():
    state_dir_missing = next(message for _, message in QUOTED_MESSAGES if "state_dir {} does not" in message)
    sandbox = (PLUGINS / "control_plane" / "sandbox.py").read_text()
    dashboard = (PLUGINS / "operators" / "dashboard.py").read_text()
    assert code_says(sandbox, state_dir_missing)
    # "Dashboard %s does not exist; nothing to delete" shares words with it, not the message.
    assert "does not exist; " in dashboard and not code_says(dashboard, state_dir_missing)
    assert not code_says(sandbox, state_dir_missing.replace("sandbox up", "sandbox start"))
    lags = "green lags {}s, over the {}s threshold"
    assert code_says('f"green lags {lag}s, over the {limit}s threshold"', lags)
    assert not code_says('f"green lags {lag}s, over the 5s threshold"', lags)
    assert not code_says('f"{name} has about {rows} rows, over the {max_rows} bound"', lags)
    assert readme_quotes("`green lags 12s, over the 5s threshold`", lags)
    assert not readme_quotes("`green lags 12s, above the 5s threshold`", lags)


@pytest.mark.parametrize(("module", "message"), QUOTED_MESSAGES, ids=[m for _, m in QUOTED_MESSAGES])
def test_troubleshooting_quotes_messages_the_code_really_raises(module, message):
    assert code_says((PLUGINS / module).read_text(), message), f"{module} no longer says {message!r}"
    if message.startswith(INVALID_INPUT):
        errors = (PLUGINS / "errors.py").read_text()
        assert code_says(errors, "{}={} " + INVALID_INPUT + "{}"), "InvalidInput's message changed"
    troubleshooting = section(README.read_text(), "Troubleshooting")
    assert readme_quotes(troubleshooting, message), f"the README does not quote {message!r}"


def test_readme_opens_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert lines[0] == "# aurora-bluegreen"
    assert lines[4:8] == [
        "```sh",
        "make demo   # a full deployment through real Airflow, under write load, with a report",
        "make test   # unit, integration (real MySQL 9.7 and MariaDB) and end-to-end (real Airflow) tests",
        "```",
    ]


def test_relative_links_in_the_docs_resolve():
    for doc in [README, *OPERATOR_DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", doc.read_text()):
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"
