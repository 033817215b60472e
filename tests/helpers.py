"""Helpers the test folders share: the repository's DAG files loaded as the dag-processor would.

Importable as ``helpers`` from every test folder: pytest puts ``tests/`` on ``sys.path`` when it
loads ``tests/conftest.py`` (``rootdir`` conftest, prepend import mode), as for ``local_smtp``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pymysql

DAGS_DIR = Path(__file__).resolve().parents[1] / "dags"
DEPLOYMENT_DAG_FILE = DAGS_DIR / "aurora_bluegreen_deployment.py"

Connect = Callable[..., pymysql.connections.Connection]


# -- the DAG files -----------------------------------------------------------------------------------


def load_dag_module(path: Path, module_name: str) -> ModuleType:
    """Execute a DAG file as a module of its own (a new name runs the file again)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_dag(path: Path, module_name: str) -> Any:
    """The ``dag`` a DAG file defines."""
    return load_dag_module(path, module_name).dag
