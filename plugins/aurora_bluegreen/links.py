"""Operator extra links to the AWS console, in the amazon provider's ``BaseAwsLink`` style."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink
from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

CUTOVER_OPERATOR = "CutoverOperator"


class AuroraClusterLink(BaseAwsLink):
    """The cluster's page in the RDS console: its instances, endpoints, events and parameter groups."""

    name = "Aurora cluster"
    key = "aurora_cluster"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/rds/home?region={region_name}#database:id={cluster_id};is-cluster=true"
    )


class BinlogLagDashboardLink(BaseAwsLink):
    """The CloudWatch dashboard that plots green's binlog replication lag."""

    name = "Replication lag dashboard"
    key = "binlog_lag_dashboard"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/cloudwatch/home?region={region_name}#dashboards/dashboard/{dashboard_name}"
    )


def report_task_id(task_id: str, task_type: str, upstream_task_ids: set[str]) -> str:
    """The task whose log holds the step table: a cutover task itself, or the one a check follows.

    By type and neighbours, not by a fixed id: the rollback DAG's cutover task is ``switch_back``.
    The API server hands links a serialized operator, which keeps these three but not the class.
    """
    if task_type == CUTOVER_OPERATOR or len(upstream_task_ids) != 1:
        return task_id
    (upstream,) = upstream_task_ids
    return upstream


class CutoverReportLink(BaseOperatorLink):
    """The cutover task of the same run, whose log holds the step table: works on the sandbox too."""

    name = "Cutover report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from aurora_bluegreen.notifications import ui_base_url

        task_id = report_task_id(operator.task_id, operator.task_type, set(operator.upstream_task_ids))
        dag_id, run_id = quote(ti_key.dag_id, safe=""), quote(ti_key.run_id, safe="")
        return f"{ui_base_url()}/dags/{dag_id}/runs/{run_id}/tasks/{quote(task_id, safe='')}"
