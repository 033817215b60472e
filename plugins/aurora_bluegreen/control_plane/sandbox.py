"""The control plane for the local sandbox: ``ClusterBackend`` over ``aurora_bluegreen.sandbox``.

Chosen for Airflow connections of type ``aurora_sandbox``; the connection's extra names the
sandbox's state directory, and may name its engine: ``{"state_dir": "/path/to/.sandbox", "engine":
"mysql"}``. An engine that differs from the one the sandbox runs is refused, not silently used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from aurora_bluegreen.errors import NotManagedByUs
from aurora_bluegreen.freeze_methods import WAYS_TO_FREEZE
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

    def set_read_only(self, cluster_id: str, read_only: bool, *, user_consented: bool = False) -> None:
        """Through the cluster's parameter group, under the rule the Aurora backend keeps: only a
        group we made, or with the user's consent their own; never one another cluster uses, never
        a default group."""
        refusal = self.read_only_refusal(cluster_id, user_consented=user_consented)
        if refusal:
            raise NotManagedByUs(
                f"cannot switch read_only on {cluster_id} through its parameter group: {refusal}, and "
                f"aurora-bluegreen never writes to such a group ({WAYS_TO_FREEZE})"
            )
        self.sandbox.set_read_only(cluster_id, read_only)

    def read_only_refusal(self, cluster_id: str, *, user_consented: bool = False) -> str | None:
        return self.sandbox.read_only_refusal(cluster_id, user_consented=user_consented)

    def parameter_status(self, cluster_id: str) -> dict[str, ParameterStatus]:
        return self.sandbox.parameter_status(cluster_id)

    def engine_upgrade_targets(self, cluster_id: str) -> list[str]:
        """MariaDB release series the cluster can be upgraded to (``["11.8"]`` on Debian 12); [] else.

        ``sandbox.upgrade_refusal(cluster_id)`` says why a list is empty.
        """
        return self.sandbox.upgrade_targets(cluster_id)

    def engine_upgrade_refusal(self, cluster_id: str) -> str | None:
        return self.sandbox.upgrade_refusal(cluster_id)

    def upgrade_engine(self, cluster_id: str, target_version: str) -> ClusterInfo:
        """A real major MariaDB upgrade of a cluster we made (``sandbox/upgrade.py``); returns when done."""
        require_ours(cluster_id, self.sandbox.describe(cluster_id).tags, "its engine is not upgraded")
        self.sandbox.upgrade(cluster_id, target_version)
        return self.sandbox.describe(cluster_id)

    def runs_engine_version(self, cluster_id: str, target_version: str) -> bool:
        return self.sandbox.runs_engine_version(cluster_id, target_version)

    def upgrade_failure(self, cluster_id: str, since: datetime) -> str | None:
        """None: the sandbox's upgrade runs inside ``upgrade_engine`` and raises there when it fails."""
        return None

    def restart(self, cluster_id: str) -> ClusterInfo:
        """Reboot the cluster's writer as Aurora does (sandbox only: not part of ``ClusterBackend``)."""
        return self.sandbox.restart(cluster_id)

    def delete(self, cluster_id: str) -> None:
        self.sandbox.delete(cluster_id)

    def list_clusters(self, tags: Mapping[str, str]) -> list[ClusterInfo]:
        return self.sandbox.list_clusters(tags)

    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None:
        self.sandbox.add_tags(cluster_id, tags)
