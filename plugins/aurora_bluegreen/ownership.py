"""What aurora-bluegreen made, and may therefore change: the home of "never touch what we did not make".

Every cluster, instance, parameter group and snapshot the tool creates carries the ownership tags
from its first moment (``managed-by=aurora-bluegreen``, ``role``, ``source-cluster``, ``dag-run``).
A retry finds its earlier work by them, and every modify, tag or delete asks this module first:
nothing without ``managed-by=aurora-bluegreen`` is ever changed.

Pure rules over tag mappings; the control planes and operators apply them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from enum import Enum

from aurora_bluegreen.errors import InvalidInput, NotManagedByUs

MANAGED_BY_TAG = "managed-by"
MANAGED_BY_VALUE = "aurora-bluegreen"
ROLE_TAG = "role"
SOURCE_CLUSTER_TAG = "source-cluster"
DAG_RUN_TAG = "dag-run"
REPLICATES_TAG = "replicates-from-source"
"""On every clone that replicates (or will) from its source: while one exists, the source's
replication user and binlog retention are still needed."""
RETENTION_TAG = "blue-binlog-retention-hours"
"""The source's binlog retention from before the tool first changed it, kept on the clone."""
RETENTION_UNSET = "unset"
WRITER_SINCE_TAG = "writer-since"
"""On our clone once a cutover made it the writer (ISO 8601 in UTC), ``switched back ...`` after a
switch back: teardown never deletes a clone that is the writer, whatever else it finds."""
SWITCHED_BACK = "switched back"
STAMP_TAG = "qa-stamp"
"""When the run that made a QA clone was due, ISO 8601 in UTC: orders clones newest first."""
READY_TAG = "qa-ready"
"""Set once a QA clone is cloned, masked and published; a clone without it is a failed run's leftover."""
CREATED_AT_TAG = "created-at"
"""On every parameter group the tool creates: when, in UTC. AWS asks for minutes between creating a
group and creating a cluster that uses it; a retry reads this to wait only what is left."""
_CREATED_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_MAX_TAG_VALUE = 256  # RDS's limit on a tag value


class Role(str, Enum):
    GREEN = "green"
    QA = "qa"
    SNAPSHOT = "snapshot"


def reader_tags(cluster_tags: Mapping[str, str]) -> dict[str, str]:
    """The tags a reader we add to our cluster carries: the cluster's ownership tags."""
    kept = {
        key: cluster_tags[key] for key in (ROLE_TAG, SOURCE_CLUSTER_TAG, DAG_RUN_TAG) if key in cluster_tags
    }
    return {**kept, MANAGED_BY_TAG: MANAGED_BY_VALUE}


def is_ours(tags: Mapping[str, str]) -> bool:
    return tags.get(MANAGED_BY_TAG) == MANAGED_BY_VALUE


def created_at_tag(when: datetime) -> dict[str, str]:
    return {CREATED_AT_TAG: when.astimezone(timezone.utc).strftime(_CREATED_AT_FORMAT)}


def created_at(tags: Mapping[str, str]) -> datetime | None:
    """When the resource was created, by its ``created-at`` tag; None without a readable one."""
    try:
        return datetime.strptime(tags[CREATED_AT_TAG], _CREATED_AT_FORMAT).replace(tzinfo=timezone.utc)
    except (KeyError, ValueError):
        return None


def ownership_tags(role: Role | str, source_cluster_id: str, dag_run_id: str | None = None) -> dict[str, str]:
    """The tags that mark a resource made from ``source_cluster_id`` as ours."""
    tags = {
        MANAGED_BY_TAG: MANAGED_BY_VALUE,
        ROLE_TAG: Role(role).value,
        SOURCE_CLUSTER_TAG: source_cluster_id,
    }
    if dag_run_id is not None:
        tags[DAG_RUN_TAG] = str(dag_run_id)[:_MAX_TAG_VALUE]
    return tags


def clones_of(
    source_cluster_id: str, role: Role | str | None = None, replicating: bool = False
) -> dict[str, str]:
    """The tags to list our clones of a source by: all of a role, or those that replicate from it."""
    tags = {MANAGED_BY_TAG: MANAGED_BY_VALUE, SOURCE_CLUSTER_TAG: source_cluster_id}
    if role is not None:
        tags[ROLE_TAG] = Role(role).value
    if replicating:
        tags[REPLICATES_TAG] = "true"
    return tags


def require_ours(subject: str, tags: Mapping[str, str], consequence: str) -> None:
    """Refuse (NotManagedByUs) unless ``tags`` mark the resource as ours; ``consequence`` says what
    is therefore not done, e.g. "it will not be deleted"."""
    if not is_ours(tags):
        raise NotManagedByUs(
            f"{subject} is not tagged {MANAGED_BY_TAG}={MANAGED_BY_VALUE}: aurora-bluegreen did not "
            f"create it, so {consequence}"
        )


def require_clone_of(
    field: str, cluster_id: str, tags: Mapping[str, str], role: Role | str, source_cluster_id: str
) -> None:
    """Refuse unless the cluster is a clone of ``source_cluster_id`` we made for ``role``."""
    expected = clones_of(source_cluster_id, role)
    wrong = {key: tags.get(key) for key, value in expected.items() if tags.get(key) != value}
    if wrong:
        raise NotManagedByUs(
            f"{field}={cluster_id!r} is not a {Role(role).value} that aurora-bluegreen made from "
            f"{source_cluster_id}: its tags have {wrong}, expected {expected}; nothing was changed"
        )


def require_role(cluster_id: str, tags: Mapping[str, str], role: Role | str) -> None:
    """Refuse unless the cluster is one we made for ``role`` (from whichever source)."""
    role = Role(role)
    if not is_ours(tags) or tags.get(ROLE_TAG) != role.value:
        raise NotManagedByUs(
            f"{cluster_id} is not a {role.value} clone made by aurora-bluegreen (tags {MANAGED_BY_TAG}="
            f"{tags.get(MANAGED_BY_TAG)}, {ROLE_TAG}={tags.get(ROLE_TAG)}); refusing to change it"
        )


def require_reusable(field: str, cluster_id: str, tags: Mapping[str, str], source_cluster_id: str) -> None:
    """An existing cluster may be taken up again (a retry) only if we made it from the same source."""
    if not is_ours(tags):
        raise NotManagedByUs(
            f"{field}={cluster_id!r} names an existing cluster that "
            "aurora-bluegreen did not create; choose another id"
        )
    if tags.get(SOURCE_CLUSTER_TAG) != source_cluster_id:
        raise InvalidInput(
            field,
            cluster_id,
            f"a clone of {source_cluster_id} (the existing {cluster_id} is a clone of "
            f"{tags.get(SOURCE_CLUSTER_TAG)})",
        )


def may_become_writer(target_id: str, target_tags: Mapping[str, str], writer_tags: Mapping[str, str]) -> bool:
    """A cutover may make a cluster writable only if it is our clone, or (switching back) the
    cluster that the current writer, our clone, was made from."""
    return is_ours(target_tags) or (is_ours(writer_tags) and writer_tags.get(SOURCE_CLUSTER_TAG) == target_id)


def is_the_writer(tags: Mapping[str, str]) -> bool:
    """Whether a cutover made this clone of ours the writer, and no switch back undid it."""
    since = tags.get(WRITER_SINCE_TAG, "")
    return bool(since) and not since.startswith(SWITCHED_BACK)


def writer_tags(
    target_tags: Mapping[str, str], source_tags: Mapping[str, str], now: str
) -> dict[str, dict[str, str]]:
    """Which of the two clusters of a finished cutover get which tag: ``{"target"|"source": tags}``.
    Only clusters of ours are tagged; blue, which is not, needs no mark."""
    marks: dict[str, dict[str, str]] = {}
    if is_ours(target_tags):
        marks["target"] = {WRITER_SINCE_TAG: now}
    if is_ours(source_tags):
        marks["source"] = {WRITER_SINCE_TAG: f"{SWITCHED_BACK} {now}"}
    return marks
