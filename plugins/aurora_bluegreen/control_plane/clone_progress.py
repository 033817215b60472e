"""Whether a clone is ready to replicate from: the one definition the operator and its trigger share.

Ready means the cluster is available and the coordinates of its data on blue are known; a clone
can be available before RDS has told where its data ends, and is no use until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_bluegreen.control_plane.protocol import ClusterBackend
from aurora_bluegreen.models import CloneCoordinates, ClusterInfo

# States a clone does not come back from by waiting.
_DEAD_ENDS = ("failed", "deleting", "stopped")


@dataclass(frozen=True)
class CloneProgress:
    info: ClusterInfo
    coordinates: CloneCoordinates | None

    @property
    def ready(self) -> bool:
        return self.info.is_available and self.coordinates is not None

    @property
    def dead_end(self) -> bool:
        return self.info.status in _DEAD_ENDS

    def summary(self) -> str:
        known = "known" if self.coordinates is not None else "unknown"
        return f"clone {self.info.cluster_id} is {self.info.status}; coordinates {known}"


def clone_progress(backend: ClusterBackend, cluster_id: str) -> CloneProgress:
    info = backend.describe(cluster_id)
    coordinates = backend.clone_coordinates(cluster_id) if info.is_available else None
    return CloneProgress(info, coordinates)
