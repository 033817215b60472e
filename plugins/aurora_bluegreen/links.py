"""Operator extra links to the AWS console, in the amazon provider's ``BaseAwsLink`` style."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink
from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.sdk import BaseOperator

CUTOVER_TASK_ID = "cutover"


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


class CutoverReportLink(BaseOperatorLink):
    """The cutover task of the same run, whose log holds the step table: works on the sandbox too."""

    name = "Cutover report"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from aurora_bluegreen.notifications import ui_base_url

        dag_id, run_id = quote(ti_key.dag_id, safe=""), quote(ti_key.run_id, safe="")
        return f"{ui_base_url()}/dags/{dag_id}/runs/{run_id}/tasks/{CUTOVER_TASK_ID}"
