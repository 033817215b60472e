"""The Celery e2e stack's cluster policy: consecutive tasks of a run on different workers.

Airflow imports ``airflow_local_settings`` from its path (the stack puts this folder on every
process's PYTHONPATH); the hook runs where task instances are created (the api-server for a
triggered run, the scheduler). In runs whose id starts with ``ALTERNATE_RUN_PREFIX`` each task goes
to a worker's own queue by its depth in the DAG, so a task and the one after it never share a
worker. Other runs leave every task on the shared default queue, which both workers serve.
"""

from __future__ import annotations

from aurora_bluegreen.demo.celery_stack import WORKERS

ALTERNATE_RUN_PREFIX = "alternate__"


def task_instance_mutation_hook(task_instance, dag_run=None) -> None:
    if task_instance.run_id.startswith(ALTERNATE_RUN_PREFIX):
        worker = WORKERS[_depth(task_instance.task) % len(WORKERS)]
        task_instance.queue = worker.queue


def _depth(task) -> int:
    """Edges on the longest path from a root task: one more than the deepest upstream task's."""
    upstream = [task.dag.get_task(task_id) for task_id in task.upstream_task_ids]
    return 1 + max(map(_depth, upstream)) if upstream else 0
