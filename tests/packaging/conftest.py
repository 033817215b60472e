"""Packaging tests: the provider as Airflow's own commands see it.

``test_wheel_install.py`` builds the wheel and installs it into a fresh virtualenv (about a minute,
most of it pip); the other files run Airflow's commands or its plugin loader against this checkout
in a subprocess (seconds). All are marked ``packaging``: ``pytest -m "not packaging"`` leaves them out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

PACKAGING_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PACKAGING_DIR in Path(item.path).parents:
            item.add_marker(pytest.mark.packaging)
