"""get_provider_info(): valid for Airflow's schema, and every name in it is real.

Airflow reads the provider info without importing what it names, so a typo there shows up only
when someone opens the connection form or lists the providers; here it fails at once. The
installed provider's ``airflow providers`` and ``airflow config`` output is checked by
tests/packaging/.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import airflow
import jsonschema
import pytest
import tomllib

from aurora_bluegreen.get_provider_info import get_provider_info
from aurora_bluegreen.qa_clones import DEFAULT_SCHEDULE

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_DIR = Path(airflow.__file__).parent
INFO = get_provider_info()


def import_class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_valid_for_airflows_provider_info_schema():
    schema = json.loads((AIRFLOW_DIR / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)


def test_names_the_package_and_the_version_pyproject_builds():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    assert INFO["package-name"] == project["name"]
    assert INFO["versions"][0] == project["version"]
    entry_point = project["entry-points"]["apache_airflow_provider"]["provider_info"]
    assert entry_point == "aurora_bluegreen.get_provider_info:get_provider_info"


@pytest.mark.parametrize("section", ["operators", "sensors", "hooks", "triggers"])
def test_every_listed_module_imports_under_a_declared_integration(section):
    integrations = {item["integration-name"] for item in INFO["integrations"]}
    for group in INFO[section]:
        assert group["integration-name"] in integrations
        for module in group["python-modules"]:
            importlib.import_module(module)


def test_every_module_with_an_operator_sensor_hook_or_trigger_is_listed():
    listed = {
        m
        for section in ("operators", "sensors", "hooks", "triggers")
        for g in INFO[section]
        for m in g["python-modules"]
    }
    plugins = REPO_ROOT / "plugins"
    for folder in ("operators", "sensors", "triggers"):
        for path in (plugins / "aurora_bluegreen" / folder).glob("*.py"):
            source = path.read_text()
            if path.stem != "__init__" and re.search(
                r"^class \w+\(.*(Operator|Task|Sensor|Trigger)", source, re.M
            ):
                assert ".".join(path.relative_to(plugins).with_suffix("").parts) in listed, path


def test_named_classes_exist_with_the_right_base():
    from airflow.sdk import BaseHook, BaseNotifier, BaseOperatorLink

    for path in INFO["extra-links"]:
        assert issubclass(import_class(path), BaseOperatorLink), path
    for path in INFO["notifications"]:
        assert issubclass(import_class(path), BaseNotifier), path
    for connection in INFO["connection-types"]:
        hook = import_class(connection["hook-class-name"])
        assert issubclass(hook, BaseHook)
        assert hook.conn_type == connection["connection-type"]
        assert hook.hook_name == connection["hook-name"]
        # Airflow 3.2+ reads the form from the provider info; the hook method is deprecated.
        assert "get_ui_field_behaviour" not in hook.__dict__


def test_connection_form_is_valid_for_airflows_field_behaviour_schema():
    schema = json.loads((AIRFLOW_DIR / "customized_form_field_behaviours.schema.json").read_text())
    for connection in INFO["connection-types"]:
        behaviour = connection["ui-field-behaviour"]
        assert set(behaviour) <= {"hidden-fields", "relabeling", "placeholders"}
        # The ProvidersManager's own conversion from the kebab-case keys.
        converted = {
            "hidden_fields": behaviour.get("hidden-fields", []),
            "relabeling": behaviour.get("relabeling", {}),
            "placeholders": behaviour.get("placeholders", {}),
        }
        jsonschema.validate(converted, schema)
        json.loads(behaviour["placeholders"]["extra"])


def test_config_section_declares_every_option_the_code_reads():
    read = set()
    for path in [*(REPO_ROOT / "plugins").rglob("*.py"), *(REPO_ROOT / "dags").glob("*.py")]:
        read |= set(
            re.findall(r"""conf\.\w+\(\s*["']aurora_bluegreen["']\s*,\s*["'](\w+)["']""", path.read_text())
        )
    declared = INFO["config"]["aurora_bluegreen"]["options"]
    assert read, "no conf.get('aurora_bluegreen', ...) found: the pattern is out of date"
    assert read == set(declared)
    for name, option in declared.items():
        assert option["description"] and option["version_added"], name
        assert option["example"] != option["default"], name


def test_qa_refresh_schedule_default_is_the_dags_own():
    option = INFO["config"]["aurora_bluegreen"]["options"]["qa_refresh_schedule"]
    assert option["default"] == DEFAULT_SCHEDULE
