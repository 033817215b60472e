"""What the wheel is built from: pyproject's package list and data, the license, the base install.

Building and installing the wheel itself is tests/packaging/test_wheel_install.py; these checks are
quick and catch the usual slips first: a new subpackage missing from pyproject's list, a data file
no package-data pattern covers, a module of the base install importing pymysql.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

import tomllib

REPO_ROOT = Path(__file__).resolve().parents[2]
PLUGINS = REPO_ROOT / "plugins"
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]

# Only the sandbox, the demo and the sandbox's control plane may need the [sandbox] extra.
SANDBOX_ONLY = ("aurora_bluegreen.sandbox", "aurora_bluegreen.demo", "aurora_bluegreen.control_plane.sandbox")


def package_dir(package: str) -> Path:
    mapping = SETUPTOOLS["package-dir"]
    if package in mapping:
        return REPO_ROOT / mapping[package]
    return REPO_ROOT / mapping[""] / Path(*package.split("."))


def source_packages() -> set[str]:
    return {
        ".".join(init.parent.relative_to(PLUGINS).parts)
        for init in (PLUGINS / "aurora_bluegreen").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_pyproject_lists_every_package_under_plugins_and_the_dags():
    assert set(SETUPTOOLS["packages"]) == source_packages() | {"aurora_bluegreen.dags"}
    assert SETUPTOOLS["package-dir"] == {"": "plugins", "aurora_bluegreen.dags": "dags"}


def test_every_data_file_in_a_package_is_covered_by_package_data():
    """A file no pattern names would be missing from the wheel (and its DAG or sandbox broken)."""
    patterns = SETUPTOOLS["package-data"]

    def covered(path: Path) -> bool:
        # setuptools matches a package's patterns against paths relative to the package's folder.
        for package, globs in patterns.items():
            root = package_dir(package)
            if path.is_relative_to(root):
                relative = path.relative_to(root).as_posix()
                if any(fnmatch.fnmatch(relative, g) and relative.count("/") == g.count("/") for g in globs):
                    return True
        return False

    for package in SETUPTOOLS["packages"]:
        for path in package_dir(package).rglob("*"):
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts:
                assert covered(path), f"{path.relative_to(REPO_ROOT)}: no package-data pattern covers it"


def test_the_dags_travel_with_their_sql_folder():
    dags = package_dir("aurora_bluegreen.dags")
    assert sorted(p.name for p in dags.glob("*.py")) == [
        "aurora_bluegreen_deployment.py",
        "aurora_bluegreen_fleet.py",
        "aurora_bluegreen_rollback.py",
        "aurora_bluegreen_teardown.py",
        "aurora_qa_refresh.py",
    ]
    assert (dags / "sql" / "migrations").is_dir() and (dags / "sql" / "checks").is_dir()
    assert not (PLUGINS / "aurora_bluegreen" / "dags").exists(), "a second copy of the DAGs would drift"


def test_license_and_changelog():
    license_text = (REPO_ROOT / "LICENSE").read_text()
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert PYPROJECT["project"]["license-files"] == ["LICENSE"]
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert f"## {PYPROJECT['project']['version']}" in changelog


def test_dependencies_base_and_extras():
    project = PYPROJECT["project"]
    base = " ".join(project["dependencies"]).lower()
    for sandbox_only in ("pymysql", "httpx", "cryptography", "moto", "pytest"):
        assert sandbox_only not in base, sandbox_only
    assert "<3.4" not in base.replace(" ", "")
    for provider in ("amazon", "mysql", "standard"):
        assert f"apache-airflow-providers-{provider}>=" in base, provider
    extras = project["optional-dependencies"]
    assert "aurora-bluegreen[sandbox,celery]" in extras["test"], "make test / setup.sh install .[test]"
    assert any(
        requirement.startswith("apache-airflow-providers-celery>=") for requirement in extras["celery"]
    )
    assert {"pymysql>=1.1", "cryptography", "httpx"} <= set(extras["sandbox"])
    assert "Framework :: Apache Airflow :: Provider" in project["classifiers"]
    assert project["requires-python"] == ">=3.11"


def test_base_install_imports_nothing_of_the_sandbox_extra():
    """Every module outside the sandbox and the demo, the CLI and the DAGs, with pymysql and httpx gone."""
    script = f"""
import importlib, pkgutil, runpy, sys
sys.modules["pymysql"] = None
sys.modules["httpx"] = None
import aurora_bluegreen
failed = []
for info in pkgutil.walk_packages(aurora_bluegreen.__path__, "aurora_bluegreen."):
    if info.name.startswith({SANDBOX_ONLY!r}):
        continue
    try:
        importlib.import_module(info.name)
    except Exception as error:
        failed.append(f"{{info.name}}: {{error!r}}")
for dag in {sorted(str(p) for p in (REPO_ROOT / "dags").glob("*.py"))!r}:
    try:
        runpy.run_path(dag)
    except Exception as error:
        failed.append(f"{{dag}}: {{error!r}}")
assert "pymysql" not in [m for m in sys.modules if sys.modules[m] is not None]
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""
    result = run_python(script)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cli_without_the_sandbox_extra_names_it():
    script = """
import sys
sys.modules["pymysql"] = None
sys.modules["httpx"] = None
from aurora_bluegreen.cli import main
assert main(["dags", "path"]) == 0
assert main(["sandbox", "status"]) == 1
assert main(["demo", "--help"]) == 1
"""
    result = run_python(script)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.count("pip install 'aurora-bluegreen[sandbox]'") == 2, result.stderr


def run_python(script: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PLUGINS), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120, check=False
    )
