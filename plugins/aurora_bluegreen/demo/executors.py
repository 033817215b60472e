"""The demo's two Airflow set-ups, by the name ``--executor`` takes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from aurora_bluegreen.demo.airflow_stack import AirflowStack
from aurora_bluegreen.errors import DemoError

LOCAL = "local"
CELERY = "celery"
EXECUTORS = (LOCAL, CELERY)
# What the Celery stack's processes import that only the celery extra brings.
CELERY_EXTRA_MODULES = ("airflow.providers.celery", "psycopg2", "asyncpg")


def demo_stack(executor: str, repo_root: Path, port: int) -> AirflowStack:
    """The demo's stack; each executor has its own home under ``.demo``, so a switch keeps both."""
    demo_dir = repo_root / ".demo"
    if executor == CELERY:
        missing = [name for name in CELERY_EXTRA_MODULES if not _importable(name)]
        if missing:
            raise DemoError(
                f"--executor celery needs the celery extra ({', '.join(missing)} missing): "
                "pip install 'aurora-bluegreen[celery]'"
            )
        from aurora_bluegreen.demo.celery_stack import CeleryStack

        return CeleryStack(repo_root, home=demo_dir / "airflow-celery", port=port)
    return AirflowStack(repo_root, home=demo_dir / "airflow", port=port)


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False
