"""Green's reader instances: how many, named how, placed in which zones, and when they are ready.

The blog's best practice for production traffic: green starts with a single writer, which is enough
for testing, and gets readers in other zones before it takes over from blue. Pure rules; the
readers operator and trigger apply them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aurora_bluegreen.errors import NotManagedByUs
from aurora_bluegreen.models import InstanceInfo

MAX_READERS = 15
"""Aurora's limit of replicas per cluster."""
_BROKEN_STATUSES = ("failed", "incompatible-", "inaccessible-encryption-credentials", "deleting", "missing")


@dataclass(frozen=True)
class ReaderPlacement:
    instance_id: str
    zone: str | None
    exists: bool


def reader_ids(cluster_id: str, count: int) -> list[str]:
    """``<cluster>-reader-<n>``, with the cluster id shortened where needed to fit RDS's 63 characters."""
    ids = []
    for n in range(1, count + 1):
        suffix = f"-reader-{n}"
        ids.append(cluster_id[: 63 - len(suffix)].rstrip("-") + suffix)
    return ids


def place_readers(
    cluster_id: str,
    ids: Sequence[str],
    zones: Sequence[str],
    instances: Sequence[InstanceInfo],
    existing: Mapping[str, InstanceInfo],
) -> list[ReaderPlacement]:
    """Where each reader goes: an existing one of ours stays; a new one goes to the zone that holds
    the fewest of the cluster's instances, the writer included, so the first reader never shares
    the writer's zone while another zone is free.

    ``instances`` are the cluster's instances now; ``existing`` holds those of ``ids`` that exist
    anywhere in the region.
    """
    if not zones:
        raise ValueError(f"the DB subnet group of {cluster_id} covers no Availability Zone")
    load = {zone: 0 for zone in zones}
    for instance in instances:
        if instance.zone in load:
            load[instance.zone] += 1
    placements = []
    for instance_id in ids:
        found = existing.get(instance_id)
        if found is not None:
            if found.cluster_id != cluster_id or not found.is_managed:
                raise NotManagedByUs(
                    f"instance {instance_id} exists and is not a reader aurora-bluegreen added to "
                    f"{cluster_id}; delete or rename it, or ask for fewer readers"
                )
            placements.append(ReaderPlacement(instance_id, found.zone, exists=True))
            continue
        zone = min(zones, key=lambda candidate: (load[candidate], zones.index(candidate)))
        load[zone] += 1
        placements.append(ReaderPlacement(instance_id, zone, exists=False))
    return placements


def readers_verdict(statuses: Mapping[str, str]) -> tuple[str, str]:
    """``("ready"|"waiting"|"failed", message)`` for reader instances in the given states."""
    broken = {i: s for i, s in statuses.items() if s.startswith(_BROKEN_STATUSES)}
    if broken:
        return "failed", "readers that will not become available: " + ", ".join(
            f"{i} is {s}" for i, s in sorted(broken.items())
        )
    waiting = {i: s for i, s in statuses.items() if s != "available"}
    if waiting:
        return "waiting", "waiting for " + ", ".join(f"{i} ({s})" for i, s in sorted(waiting.items()))
    return "ready", f"{len(statuses)} reader(s) available: {', '.join(sorted(statuses))}"
