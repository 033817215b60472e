"""The CloudWatch dashboard of green's replication lag, named as in the original blog post."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.errors import AwsCallFailed
from aurora_bluegreen.links import BinlogLagDashboardLink
from aurora_bluegreen.operators.aws_base import LazyAwsOperator, aws_template_fields

LAG_METRIC = "AuroraBinlogReplicaLag"


def dashboard_name(region: str, writer_instance_id: str) -> str:
    return f"Aurora-Binlog-Replication-Lag-{region}-{writer_instance_id}"


def dashboard_body(region: str, writer_instance_id: str, period: int = 60) -> dict[str, Any]:
    """One graph of ``AuroraBinlogReplicaLag`` on green's writer, and a note on what it is for."""
    return {
        "widgets": [
            {
                "type": "metric",
                "x": 0,
                "y": 0,
                "width": 18,
                "height": 8,
                "properties": {
                    "title": f"Binlog replication lag of {writer_instance_id} behind blue (seconds)",
                    "region": region,
                    "view": "timeSeries",
                    "stat": "Maximum",
                    "period": period,
                    "metrics": [["AWS/RDS", LAG_METRIC, "DBInstanceIdentifier", writer_instance_id]],
                    "yAxis": {"left": {"min": 0, "label": "seconds"}},
                },
            },
            {
                "type": "text",
                "x": 18,
                "y": 0,
                "width": 6,
                "height": 8,
                "properties": {
                    "markdown": (
                        f"**{LAG_METRIC}** is Seconds_Behind_Source on green, sampled once a minute: "
                        "for people watching the catch-up. The cutover never trusts it; it waits until "
                        "green has executed blue's exact final binlog position."
                    )
                },
            },
        ]
    }


class _LagDashboardOperator(LazyAwsOperator):
    aws_hook_class_path = "airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook"
    template_fields: Sequence[str] = aws_template_fields("writer_instance_id")

    def __init__(self, *, writer_instance_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.writer_instance_id = writer_instance_id

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "cloudwatch"}

    def _name(self) -> str:
        validation.cluster_identifier("writer_instance_id", self.writer_instance_id)
        return dashboard_name(self.hook.conn_region_name, self.writer_instance_id)


class BinlogLagDashboardOperator(_LagDashboardOperator):
    """Create (or update) ``Aurora-Binlog-Replication-Lag-<region>-<writer>`` for green's writer.

    Idempotent: a retry overwrites the dashboard with the same content. Skipped when the control
    plane is not AWS (the sandbox has no CloudWatch).

    :param writer_instance_id: green's writer instance, whose lag metric is plotted.
    :param period: seconds per data point.
    :return: ``{"dashboard_name": ..., "region": ...}``
    """

    operator_extra_links = (BinlogLagDashboardLink(),)
    template_fields: Sequence[str] = aws_template_fields("writer_instance_id", "period")
    ui_color = "#ead1dc"

    def __init__(self, *, period: int = 60, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.period = period

    def execute(self, context: Any) -> dict[str, str]:
        from airflow.providers.amazon.aws.hooks.rds import RdsHook

        from aurora_bluegreen.control_plane.aws_calls import aws_call, skip_unless_aws

        skip_unless_aws(self.aws_conn_id, "a CloudWatch dashboard")
        name = self._name()
        region = self.hook.conn_region_name
        # A dashboard of an instance that is not in this region would stay empty forever: say so now.
        rds = RdsHook(**self._hook_parameters).conn
        try:
            aws_call(rds, "describe_db_instances", DBInstanceIdentifier=self.writer_instance_id)
        except AwsCallFailed as error:
            if error.not_found:
                raise validation.InvalidInput(
                    "writer_instance_id", self.writer_instance_id, f"an instance in region {region}"
                ) from None
            raise
        response = aws_call(
            self.hook.conn,
            "put_dashboard",
            DashboardName=name,
            DashboardBody=json.dumps(dashboard_body(region, self.writer_instance_id, int(self.period))),
        )
        for message in response.get("DashboardValidationMessages", []):
            self.log.warning("CloudWatch on %s: %s", name, message.get("Message"))
        BinlogLagDashboardLink.persist(
            context=context,
            operator=self,
            region_name=region,
            aws_partition=self.hook.conn_partition,
            dashboard_name=name,
        )
        self.log.info("Dashboard %s shows %s of %s", name, LAG_METRIC, self.writer_instance_id)
        return {"dashboard_name": name, "region": region}


class DeleteBinlogLagDashboardOperator(_LagDashboardOperator):
    """Delete green's lag dashboard; a dashboard that is already gone is fine (teardown may re-run)."""

    ui_color = "#ead1dc"

    def execute(self, context: Any) -> str | None:
        from aurora_bluegreen.control_plane.aws_calls import aws_call, skip_unless_aws

        skip_unless_aws(self.aws_conn_id, "a CloudWatch dashboard")
        name = self._name()
        try:
            aws_call(self.hook.conn, "delete_dashboards", DashboardNames=[name])
        except AwsCallFailed as error:
            if error.not_found:
                self.log.info("Dashboard %s does not exist; nothing to delete", name)
                return None
            raise
        self.log.info("Deleted dashboard %s", name)
        return name
