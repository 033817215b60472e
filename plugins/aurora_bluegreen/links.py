"""Operator extra links to the AWS console, in the amazon provider's ``BaseAwsLink`` style."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


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
