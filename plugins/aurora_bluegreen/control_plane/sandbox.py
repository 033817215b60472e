"""The control plane for the local sandbox: ``ClusterBackend`` over ``aurora_bluegreen.sandbox``.

Chosen for Airflow connections of type ``aurora_sandbox``; the connection's extra names the
sandbox's state directory, and may name its engine: ``{"state_dir": "/path/to/.sandbox", "engine":
"mysql"}``. An engine that differs from the one the sandbox runs is refused, not silently used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_bluegreen.models import CloneCoordinates, CloneSpec, ClusterInfo, ParameterStatus
from aurora_bluegreen.ownership import require_ours
from aurora_bluegreen.sandbox.sandbox import Sandbox
from aurora_bluegreen.sandbox.state import STATE_DIR_ENV

if TYPE_CHECKING:
    from airflow.sdk import Connection


class SandboxBackend:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @classmethod
    def from_connection(cls, conn: Connection) -> SandboxBackend:
        state_dir = conn.extra_dejson.get("state_dir") or os.environ.get(STATE_DIR_ENV)
        if not state_dir:
            raise ValueError(
                f"connection {conn.conn_id!r} needs the sandbox's directory in its extra, "
                f'e.g. {{"state_dir": "/path/to/.sandbox"}} (or ${STATE_DIR_ENV} set for the worker)'
            )
        if not Path(state_dir).is_dir():
            raise ValueError(
                f"connection {conn.conn_id!r}: sandbox state_dir {state_dir} does not exist; "
                "run `aurora-bluegreen sandbox up --state-dir ...` first"
            )
        sandbox = Sandbox(state_dir, engine=conn.extra_dejson.get("engine"))
        _ = sandbox.engine  # refuses an engine the sandbox does not run, naming both
        return cls(sandbox)

    @property
    def state_dir(self) -> Path:
        """Where the sandbox lives; the sandbox endpoint repointer writes under it."""
        return self.sandbox.state_dir

    def clone(self, spec: CloneSpec) -> ClusterInfo:
        return self.sandbox.clone(spec)

    def describe(self, cluster_id: str) -> ClusterInfo:
        return self.sandbox.describe(cluster_id)

    def find(self, cluster_id: str) -> ClusterInfo | None:
        return self.sandbox.find(cluster_id)

    def clone_coordinates(self, cluster_id: str) -> CloneCoordinates | None:
        return self.sandbox.clone_coordinates(cluster_id)

    def set_read_only(self, cluster_id: str, read_only: bool) -> None:
        """Through the cluster's parameter group, only for a cluster we made, as on AWS.

        The Aurora backend writes only a group aurora-bluegreen created for that cluster
        (``aurora_parameter_groups.switch_read_only``); each sandbox cluster has its own group, so
        here that means a cluster tagged as ours. Blue's group is never written.
        """
        require_ours(
            cluster_id,
            self.sandbox.describe(cluster_id).tags,
            "its parameter group is not written; on Aurora MySQL 3.06 and later the cutover uses "
            "mysql.rds_set_read_only instead (docs/aws.md)",
        )
        self.sandbox.set_read_only(cluster_id, read_only)

    def parameter_status(self, cluster_id: str) -> dict[str, ParameterStatus]:
        return self.sandbox.parameter_status(cluster_id)

    def engine_upgrade_targets(self, cluster_id: str) -> list[str]:
        """MariaDB release series the cluster can be upgraded to (``["11.8"]`` on Debian 12); [] else.

        ``sandbox.upgrade_refusal(cluster_id)`` says why a list is empty.
        """
        return self.sandbox.upgrade_targets(cluster_id)

    def upgrade_engine(self, cluster_id: str, target_version: str) -> ClusterInfo:
        """A real major MariaDB upgrade of a cluster we made (``sandbox/upgrade.py``); returns when done."""
        require_ours(cluster_id, self.sandbox.describe(cluster_id).tags, "its engine is not upgraded")
        self.sandbox.upgrade(cluster_id, target_version)
        return self.sandbox.describe(cluster_id)

    def runs_engine_version(self, cluster_id: str, target_version: str) -> bool:
        return self.sandbox.runs_engine_version(cluster_id, target_version)

    def restart(self, cluster_id: str) -> ClusterInfo:
        """Reboot the cluster's writer as Aurora does (sandbox only: not part of ``ClusterBackend``)."""
        return self.sandbox.restart(cluster_id)

    def delete(self, cluster_id: str) -> None:
        self.sandbox.delete(cluster_id)

    def list_clusters(self, tags: Mapping[str, str]) -> list[ClusterInfo]:
        return self.sandbox.list_clusters(tags)

    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None:
        self.sandbox.add_tags(cluster_id, tags)
