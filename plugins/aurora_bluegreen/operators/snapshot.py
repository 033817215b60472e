"""A manual cluster snapshot of blue before anything changes, tagged as ours (AWS only).

The amazon provider's ``RdsCreateDbSnapshotOperator`` does this too, but importing it costs about
0.3 s on every parse of the deployment DAG (boto3, the provider's waiters and triggers) for a task
that is off by default. This one makes the same call through the same ``RdsHook``, imported when
the task runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.operators.aws_base import LazyAwsOperator, aws_template_fields
from aurora_bluegreen.timing import Stopwatch


class ClusterSnapshotOperator(LazyAwsOperator):
    """Take snapshot ``snapshot_id`` of cluster ``cluster_id`` and wait until it is available.

    Skipped when the control plane is not AWS (the sandbox takes no snapshots).

    :param cluster_id: the cluster to snapshot (blue).
    :param snapshot_id: the new snapshot's identifier.
    :param tags: tags for the snapshot.
    :param wait_for_completion: wait until the snapshot is ``available``.
    :param waiter_delay: seconds between checks while waiting.
    :param waiter_max_attempts: checks before the task fails.
    :return: ``{"snapshot_id", "cluster_id", "status"}``
    """

    aws_hook_class_path = "airflow.providers.amazon.aws.hooks.rds.RdsHook"
    template_fields: Sequence[str] = aws_template_fields("cluster_id", "snapshot_id", "tags")
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        cluster_id: str,
        snapshot_id: str,
        tags: dict[str, str] | None = None,
        wait_for_completion: bool = True,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.cluster_id = cluster_id
        self.snapshot_id = snapshot_id
        self.tags = tags
        self.wait_for_completion = wait_for_completion
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Any) -> dict[str, str]:
        from aurora_bluegreen.control_plane.aws_calls import aws_call, skip_unless_aws, tag_list

        skip_unless_aws(self.aws_conn_id, "a cluster snapshot")
        validation.cluster_identifier("cluster_id", self.cluster_id)
        validation.snapshot_identifier("snapshot_id", self.snapshot_id)
        watch = Stopwatch()
        response = aws_call(
            self.hook.conn,
            "create_db_cluster_snapshot",
            DBClusterIdentifier=self.cluster_id,
            DBClusterSnapshotIdentifier=self.snapshot_id,
            Tags=tag_list(self.tags or {}),
        )
        status = response["DBClusterSnapshot"]["Status"]
        if self.wait_for_completion:
            self.hook.wait_for_db_cluster_snapshot_state(
                self.snapshot_id,
                target_state="available",
                check_interval=self.waiter_delay,
                max_attempts=self.waiter_max_attempts,
            )
            status = "available"
        self.log.info(
            "Snapshot %s of cluster %s: %s after %.1f s",
            self.snapshot_id,
            self.cluster_id,
            status,
            watch.seconds,
        )
        return {"snapshot_id": self.snapshot_id, "cluster_id": self.cluster_id, "status": status}
