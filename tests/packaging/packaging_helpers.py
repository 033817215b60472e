"""What the packaging tests share: a clean environment for Airflow's commands, and running them."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def clean_environment(airflow_home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without Airflow settings or a PYTHONPATH, for ``airflow_home``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        and key not in ("AIRFLOW_HOME", "PYTHONPATH")
    }
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
            "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        }
    )
    env.update(extra)
    return env


def run(command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 300) -> str:
    """Runs ``command``; its stdout, or a failure that shows both streams."""
    result = subprocess.run(
        list(command), env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    shown = f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}\n{shown}"
    return result.stdout
