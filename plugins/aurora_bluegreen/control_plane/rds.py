"""One region's RDS as the Aurora backend's parts see it: lookups that answer None for "not there"."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aurora_bluegreen.control_plane.aws_calls import aws_call
from aurora_bluegreen.errors import AwsCallFailed, ClusterNotFound, WaitTimedOut

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.rds import RdsHook


class Rds:
    """The RDS client of one ``RdsHook``, and the lookups every part of the Aurora backend shares."""

    def __init__(self, hook: RdsHook) -> None:
        self.hook = hook

    @property
    def client(self) -> Any:
        return self.hook.conn

    @property
    def region(self) -> str:
        return self.hook.conn_region_name

    @property
    def log(self) -> Any:
        return self.hook.log

    @property
    def aws_hook_params(self) -> dict[str, Any]:
        """The connection settings, for the other AWS hooks that act for the same deployment."""
        return {
            "aws_conn_id": self.hook.aws_conn_id,
            "region_name": self.hook.region_name,
            "verify": self.hook.verify,
            "config": self.hook.config,
        }

    def where(self) -> str:
        return f"region {self.region} (AWS connection {self.hook.aws_conn_id!r})"

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        return aws_call(self.client, operation, **kwargs)

    def cluster(self, cluster_id: str) -> dict[str, Any] | None:
        try:
            return self.call("describe_db_clusters", DBClusterIdentifier=cluster_id)["DBClusters"][0]
        except AwsCallFailed as error:
            if error.not_found:
                return None
            raise

    def require_cluster(self, cluster_id: str) -> dict[str, Any]:
        cluster = self.cluster(cluster_id)
        if cluster is None:
            raise ClusterNotFound(f"no cluster {cluster_id} in {self.where()}")
        return cluster

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        try:
            return self.call("describe_db_instances", DBInstanceIdentifier=instance_id)["DBInstances"][0]
        except AwsCallFailed as error:
            if error.not_found:
                return None
            raise

    def writer(self, cluster: Mapping[str, Any]) -> dict[str, Any] | None:
        writer_id = writer_id_of(cluster)
        return self.instance(writer_id) if writer_id else None


def writer_id_of(cluster: Mapping[str, Any]) -> str | None:
    return next(
        (m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m["IsClusterWriter"]), None
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str, interval: float = 2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise WaitTimedOut(f"waited {timeout:.0f}s for {what}")
        time.sleep(interval)
