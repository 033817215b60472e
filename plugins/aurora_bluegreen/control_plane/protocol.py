"""The control plane's one protocol: what every place clusters live must offer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol, runtime_checkable

from aurora_bluegreen.models import CloneCoordinates, CloneSpec, ClusterInfo, ParameterStatus


class ClusterBackend(Protocol):
    def clone(self, spec: CloneSpec) -> ClusterInfo:
        """Start a copy-on-write clone plus its writer; return the existing one if we made it already."""

    def describe(self, cluster_id: str) -> ClusterInfo:
        """Raise ClusterNotFound when there is no such cluster."""

    def find(self, cluster_id: str) -> ClusterInfo | None:
        """Like describe, but None when there is no such cluster."""

    def clone_coordinates(self, cluster_id: str) -> CloneCoordinates | None:
        """Blue's binlog position (and GTID set) that the clone's data ends at, once known."""

    def set_read_only(self, cluster_id: str, read_only: bool, *, user_consented: bool = False) -> None:
        """Persistently switch read_only for the cluster's writer: through the parameter group that
        holds it, so every reboot keeps it; returns once the change has applied.

        Raise NotManagedByUs for a group ``read_only_refusal`` refuses.
        """

    def read_only_refusal(self, cluster_id: str, *, user_consented: bool = False) -> str | None:
        """Why read_only may not be written in the parameter group that holds it for this cluster
        (``parameter_groups.read_only_refusal``), or None; ``user_consented``: the user chose
        ``freeze_method=parameter_group``, so a custom group of theirs that only this cluster uses may."""

    def parameter_status(self, cluster_id: str) -> Mapping[str, ParameterStatus]:
        """The parameters set in the cluster's parameter group (at least ``read_only`` once it was
        set), each with its value and whether the writer runs with it yet.

        For a verify step: ``read_only`` here is what a reboot will apply, whatever a runtime
        switch (``mysql.rds_set_read_only``) did since.
        """

    def delete(self, cluster_id: str) -> None:
        """Delete a cluster we created; raise NotManagedByUs for any other."""

    def list_clusters(self, tags: Mapping[str, str]) -> list[ClusterInfo]:
        """Every cluster carrying all of ``tags`` (key and value), in any status, half-made ones too.

        This is how QA refreshes and teardowns find earlier work: by our tags, never by name.
        """

    def add_tags(self, cluster_id: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite tags on a cluster we created; raise NotManagedByUs for any other."""


@runtime_checkable
class EngineUpgrades(Protocol):
    """Optional capability: upgrading a cluster's engine in place, keeping its data and replication.

    Not every backend has it: check with ``isinstance(backend, EngineUpgrades)``. The sandbox
    (``sandbox.SandboxBackend``) has it, and so has the Aurora backend (``aurora_upgrade``:
    ``modify_db_cluster(EngineVersion=..., AllowMajorVersionUpgrade=..., ApplyImmediately=True)``).
    ``green_upgrade`` drives it.

    How a caller drives it, the same on every backend::

        targets = backend.engine_upgrade_targets(green)        # [] -> nothing to upgrade to
        backend.upgrade_engine(green, targets[-1])
        while not backend.runs_engine_version(green, targets[-1]):   # a deferrable wait on AWS
            ...
        # then check replication and lag again
    """

    def engine_upgrade_targets(self, cluster_id: str) -> list[str]:
        """The versions ``upgrade_engine`` accepts for this cluster, oldest first; [] when none exists.

        In the backend's own spelling: on AWS the RDS ``EngineVersion`` of each valid upgrade target
        (``8.0.mysql_aurora.3.10.0``); on the sandbox a MariaDB release series (``11.8``).
        """

    def engine_upgrade_refusal(self, cluster_id: str) -> str | None:
        """Why ``engine_upgrade_targets`` is empty for this cluster, or None when it is not."""

    def upgrade_engine(self, cluster_id: str, target_version: str) -> ClusterInfo:
        """Upgrade the cluster's engine to ``target_version``, one of ``engine_upgrade_targets``.

        Only for a cluster we created (NotManagedByUs otherwise); InvalidInput for a version that is
        not a target; ``UpgradeUnavailable`` (errors.py) where the backend has no newer engine at all.
        Idempotent: a cluster that runs ``target_version`` already is left alone. A backend whose
        upgrade takes long (AWS) returns once it has started; the sandbox returns when it is done.
        The cluster's data, its binlog replication and the position replication had reached are
        kept: replication resumes from there once the cluster is available again.
        """

    def runs_engine_version(self, cluster_id: str, target_version: str) -> bool:
        """Whether the cluster is available and runs ``target_version``: the upgrade is finished."""

    def upgrade_failure(self, cluster_id: str, since: datetime) -> str | None:
        """The control plane's own words on an upgrade of the cluster that failed after ``since``
        (Aurora's precheck event), or None. A backend whose ``upgrade_engine`` raises on failure
        (the sandbox) always returns None."""
