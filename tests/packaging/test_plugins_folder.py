"""plugins/ mounted as Airflow's plugins folder imports nothing as a bare top-level module.

Airflow's plugin loader (``airflow._shared.plugins_manager._load_plugins_from_plugin_directory``)
walks the folder and imports every ``.py`` file under it by its file name alone: ``models``,
``cli``, ``errors``, ``markdown`` (shadowing the Markdown library), two ``cutover``s... It skips what
``.airflowignore`` in that folder matches, in either ``[core] dag_ignore_file_syntax``. These tests
run the loader as Airflow does, with ``AIRFLOW__CORE__PLUGINS_FOLDER`` pointing at the repository's
plugins/, and once without the ignore file to show what it prevents.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from packaging_helpers import REPO_ROOT, clean_environment, run

PLUGINS = REPO_ROOT / "plugins"

# Loads the plugins as Airflow's components do, then reports every module whose file is in the
# plugins folder, by the name it was imported under.
PROBE = """
import json, sys
from pathlib import Path
from airflow import plugins_manager, settings
plugins, errors = plugins_manager._get_plugins()
folder = Path(settings.PLUGINS_FOLDER).resolve()
from_folder = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and Path(module.__file__).resolve().is_relative_to(folder)
)
print(json.dumps({"folder": str(folder), "plugins": [p.name for p in plugins], "errors": errors,
                  "modules": from_folder}))
"""


def load_plugins(tmp_path: Path, folder: Path, syntax: str = "glob") -> dict:
    env = clean_environment(
        tmp_path / "airflow_home",
        AIRFLOW__CORE__PLUGINS_FOLDER=str(folder),
        AIRFLOW__CORE__DAG_IGNORE_FILE_SYNTAX=syntax,
    )
    out = run([sys.executable, "-c", PROBE], env=env, cwd=tmp_path)
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("syntax", ["glob", "regexp"])
def test_the_plugin_loader_imports_no_bare_module_from_plugins(tmp_path, syntax):
    loaded = load_plugins(tmp_path, PLUGINS, syntax)
    assert loaded["folder"] == str(PLUGINS.resolve())
    assert loaded["errors"] == {}
    assert loaded["plugins"] == []
    bare = [name for name in loaded["modules"] if name.split(".")[0] != "aurora_bluegreen"]
    assert bare == [], f"imported from plugins/ as top-level modules: {bare}"


def test_without_the_ignore_file_the_loader_would_import_the_package_module_by_module(tmp_path):
    """The control: the same tree without .airflowignore, so the test above can fail."""
    folder = tmp_path / "plugins"
    shutil.copytree(
        PLUGINS, folder, ignore=shutil.ignore_patterns(".airflowignore", "__pycache__", "*.egg-info")
    )
    loaded = load_plugins(tmp_path, folder)
    bare = set(loaded["modules"]) - {m for m in loaded["modules"] if m.startswith("aurora_bluegreen")}
    assert {"models", "cli", "cutover", "errors", "markdown", "__init__"} <= bare
