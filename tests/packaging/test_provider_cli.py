"""The provider as this checkout's Airflow lists it: ``airflow providers`` and ``airflow config``.

Run against the environment the tests run in, with this checkout's plugins/ first on the path, so
a change to get_provider_info.py shows here in seconds; test_wheel_install.py checks the same for
the built wheel in a fresh virtualenv.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from packaging_helpers import REPO_ROOT, clean_environment, run

from aurora_bluegreen.get_provider_info import get_provider_info


def airflow_command(tmp_path: Path, *args: str, **env: str) -> str:
    environment = clean_environment(tmp_path / "airflow_home", PYTHONPATH=str(REPO_ROOT / "plugins"), **env)
    return run([sys.executable, "-m", "airflow", *args], env=environment, cwd=tmp_path)


def json_output(out: str) -> list | dict:
    """Airflow may log warnings before its JSON; the JSON is the last line."""
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("provider_cli")


def test_providers_get_shows_every_section(home):
    full = json_output(airflow_command(home, "providers", "get", "aurora-bluegreen", "--full", "-o", "json"))
    assert len(full) == 1
    shown = full[0]
    expected = get_provider_info()
    for section in (
        "integrations",
        "operators",
        "sensors",
        "hooks",
        "triggers",
        "connection-types",
        "notifications",
        "extra-links",
        "config",
    ):
        assert shown[section] == expected[section], section
    assert shown["versions"] == expected["versions"]


def test_connection_type_and_its_form_are_registered(home):
    hooks = json_output(airflow_command(home, "providers", "hooks", "-o", "json"))
    sandbox = next(h for h in hooks if h["connection_type"] == "aurora_sandbox")
    assert sandbox["hook_name"] == "Aurora sandbox (local MySQL or MariaDB)"
    assert sandbox["package_name"] == "aurora-bluegreen"
    behaviours = json_output(airflow_command(home, "providers", "behaviours", "-o", "json"))
    assert {"field_behaviours": "aurora_sandbox"} in behaviours


def test_config_option_default_and_its_environment_variable(home):
    assert airflow_command(
        home, "config", "get-value", "aurora_bluegreen", "qa_refresh_schedule"
    ).strip() == ("0 2 * * *")
    overridden = airflow_command(
        home,
        "config",
        "get-value",
        "aurora_bluegreen",
        "qa_refresh_schedule",
        AIRFLOW__AURORA_BLUEGREEN__QA_REFRESH_SCHEDULE="30 3 * * 1-5",
    )
    assert overridden.strip() == "30 3 * * 1-5"
