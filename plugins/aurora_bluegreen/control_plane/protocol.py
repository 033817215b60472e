"""The control plane's one protocol: what every place clusters live must offer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

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
