"""The demo's two Airflow set-ups, by the name ``--executor`` takes."""

from __future__ import annotations

from pathlib import Path

from aurora_bluegreen.demo.airflow_stack import AirflowStack

LOCAL = "local"
CELERY = "celery"
EXECUTORS = (LOCAL, CELERY)


def demo_stack(executor: str, repo_root: Path, port: int) -> AirflowStack:
    """The demo's stack; each executor has its own home under ``.demo``, so a switch keeps both."""
    demo_dir = repo_root / ".demo"
    if executor == CELERY:
        # Imported here: the local demo must not need the celery extra.
        from aurora_bluegreen.demo.celery_stack import CeleryStack

        return CeleryStack(repo_root, home=demo_dir / "airflow-celery", port=port)
    return AirflowStack(repo_root, home=demo_dir / "airflow", port=port)
