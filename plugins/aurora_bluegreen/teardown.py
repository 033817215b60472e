"""The clean way out: remove what a deployment or a QA refresh made, and put blue back as it was.

Guarantee: only what this tool made is removed (``ownership``), and blue gets back exactly what
was changed on it (its binlog retention as recorded before the first change, our replication user
gone), but only once no clone of ours replicates from it any more.

Everything is found through tags and the clusters themselves, so a teardown works on a half-built
deployment, on a rejected one and after an approved one; running it twice changes nothing the
second time (resume is running it again). What it does depends on what it finds:

- green replicating, rejected or half-built: replication on green is stopped and reset, blue's
  replication user dropped, blue's binlog retention put back, and green deleted with its
  instances (its users go with it);
- green took over (the cutover ran: green writable and not a replica, blue read-only): green is
  the production writer and is kept. The way back is closed: the replication user is dropped on
  green (where MariaDB replays the drop on old blue), reverse replication on old blue is stopped
  and reset, and blue's retention put back. A user left on a read-only old blue whose master user
  cannot write there is reported, not forced: old blue stays frozen;
- green already gone: only what is left on blue is cleaned up;
- green unreachable while blue is read-only is ambiguous (green may be the writer): nothing is
  changed, and the error says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aurora_bluegreen.errors import ClusterStateError, InvalidInput, StatementFailed
from aurora_bluegreen.models import ClusterInfo
from aurora_bluegreen.ownership import (
    READY_TAG,
    REPLICATES_TAG,
    RETENTION_TAG,
    RETENTION_UNSET,
    Role,
    clones_of,
    is_the_writer,
    require_clone_of,
)
from aurora_bluegreen.timing import Stopwatch, run_step

log = logging.getLogger(__name__)

_READ_ONLY_REFUSED = 1290
# How long old blue may take to apply green's last writes before reverse replication is ended.
REVERSE_CATCH_UP_SECONDS = 30


def sibling_replicas(backend: Any, source_id: str, except_id: str | None = None) -> list[ClusterInfo]:
    """Our other clones that replicate from ``source_id``: they still need its user and retention."""
    found = backend.list_clusters(clones_of(source_id, replicating=True))
    return [info for info in found if info.cluster_id != except_id]


def record_source_retention(access: Any, source_id: str, clone_id: str) -> str:
    """Tag the clone with the source's binlog retention from before anything of ours changed it.

    A retry keeps the first record. When another clone of ours replicates from the same source,
    the source's retention was already changed by us, so that clone's record is the original.
    """
    watch = Stopwatch()
    backend = access.backend
    clone = backend.describe(clone_id)
    if RETENTION_TAG in clone.tags:
        log.info("%s already records %s's retention: %s", clone_id, source_id, clone.tags[RETENTION_TAG])
        return clone.tags[RETENTION_TAG]
    recorded = [
        s.tags[RETENTION_TAG]
        for s in sibling_replicas(backend, source_id, clone_id)
        if RETENTION_TAG in s.tags
    ]
    if recorded:
        value, origin = recorded[0], "as recorded by an earlier clone of ours still replicating from it"
    else:
        hours = access.sql(source_id, "blue").binlog_retention_hours()
        value, origin = (RETENTION_UNSET if hours is None else str(hours)), "read from it now"
    backend.add_tags(clone_id, {RETENTION_TAG: value})
    log.info(
        "Recorded on %s: %s's binlog retention before this deployment is %s (%s) (%.2fs)",
        clone_id,
        source_id,
        value,
        origin,
        watch.seconds,
    )
    return value


@dataclass(frozen=True)
class _Found:
    """What a deployment left, read without changing anything."""

    blue: Any
    green_info: ClusterInfo | None
    green: Any
    """Green's SQL hook; None when green does not exist or does not answer."""
    took_over: bool
    others: list[str]


@dataclass
class DeploymentTeardown:
    """Undo one deployment: green, the replication user, blue's binlog retention (see the module)."""

    access: Any
    """Where clusters are and how to reach them: ``operators.cluster_access.ClusterAccess``."""
    blue_cluster_id: str
    green_cluster_id: str
    replication_user: str
    writer_instance_id: str | None = None

    def run(self) -> dict[str, Any]:
        found = self._inspect()
        done: dict[str, Any] = {"green_cluster_id": self.green_cluster_id, "green_took_over": found.took_over}
        if found.took_over and found.green is not None:
            done["old_blue_writes"] = _old_blue_writes(found.blue, found.green)
        done.update(self._close_replication(found))
        done.update(
            release_source(
                self.blue_cluster_id,
                found.others,
                lambda: found.blue,
                self.replication_user,
                found.green_info,
            )
        )
        if found.green_info is None:
            done["green"] = "absent: nothing to delete"
        elif found.took_over:
            done["green"] = "kept: it is the writer since the cutover"
        else:
            green_info = found.green_info
            done["green"] = run_step(
                log, f"delete green {self.green_cluster_id}", lambda: _delete(self.access.backend, green_info)
            )
        log.info("Teardown of %s done: %s", self.green_cluster_id, done)
        return done

    def _inspect(self) -> _Found:
        """What the deployment left, read without changing anything; refuses what is not ours."""
        backend = self.access.backend
        backend.describe(self.blue_cluster_id)  # blue must exist: ClusterNotFound names it
        green_info = backend.find(self.green_cluster_id)
        if green_info is not None:
            self._refuse_unless_our_green(green_info)
        blue = self.access.sql(self.blue_cluster_id, "blue")
        green = self._reachable_green(green_info)
        blue_read_only = blue.read_only()
        blue_status = blue.replica_status()
        took_over = green_is_the_writer(
            green_answers=green is not None,
            green_writable=green is not None and not green.read_only(),
            green_replicates=green is not None and green.replica_status() is not None,
            blue_read_only=blue_read_only,
            blue_replicates_from_green=(
                green_info is not None
                and blue_status is not None
                and blue_status.replicates_from(green_info.endpoint, green_info.port)
            ),
            tagged_writer=green_info is not None and is_the_writer(green_info.tags),
        )
        if green_info is not None and took_over is None:
            raise ClusterStateError(
                f"green {self.green_cluster_id} is {green_info.status} and cannot be reached, and blue "
                f"{self.blue_cluster_id} is read-only: green may have taken over as the writer. Nothing "
                "was changed; check both clusters and run the teardown again once green is reachable."
            )
        took_over = bool(took_over)
        if blue_read_only and not took_over:
            log.warning(
                "Blue %s is read-only but green did not take over (a cutover that could not roll back?); "
                "teardown leaves blue's read_only as it is",
                self.blue_cluster_id,
            )
        others = [
            c.cluster_id for c in sibling_replicas(backend, self.blue_cluster_id, self.green_cluster_id)
        ]
        return _Found(blue, green_info, green, took_over, others)

    def _refuse_unless_our_green(self, info: ClusterInfo) -> None:
        require_clone_of(
            "green_cluster_id", self.green_cluster_id, info.tags, Role.GREEN, self.blue_cluster_id
        )
        if self.writer_instance_id is not None and info.writer_instance_id not in (
            None,
            self.writer_instance_id,
        ):
            raise InvalidInput(
                "writer_instance_id", self.writer_instance_id, f"green's writer, {info.writer_instance_id}"
            )

    def _reachable_green(self, info: ClusterInfo | None) -> Any:
        """Green's SQL hook if it answers; None if it does not exist or cannot be reached."""
        if info is None or not info.is_available:
            return None
        try:
            green = self.access.sql(self.green_cluster_id, "green")
            green.read_only()
        except Exception as error:  # a dead or half-made server: any driver error means "unreachable"
            log.info("Green %s does not answer (%s)", self.green_cluster_id, error)
            return None
        return green

    def _close_replication(self, found: _Found) -> dict[str, str]:
        green, green_info = found.green, found.green_info
        if green is None or green_info is None:
            return {}
        if not found.took_over:
            return {"replication_on_green": run_step(log, "stop replication on green", lambda: _stop(green))}
        user = self.replication_user
        return {
            "replication_user_on_green": run_step(
                log, "drop the replication user on green", lambda: drop_user_unless_read_only(green, user)
            ),
            "reverse_replication": run_step(
                log,
                "end reverse replication on old blue",
                lambda: _end_reverse(found.blue, green, green_info),
            ),
        }


def green_is_the_writer(
    *,
    green_answers: bool,
    green_writable: bool,
    green_replicates: bool,
    blue_read_only: bool,
    blue_replicates_from_green: bool,
    tagged_writer: bool,
) -> bool | None:
    """Whether a cutover made green the writer; None when nothing proves it either way.

    Blue's read_only is no proof: the cutover freezes blue with a runtime switch that a reboot
    forgets, so an old blue can be writable again. So the proofs are green's tag (set when the
    cutover finished), old blue replicating from green, or green writable and no replica; a
    green that does not answer beside a frozen blue could be either.
    """
    if tagged_writer or blue_replicates_from_green:
        return True
    if green_answers:
        return green_writable and not green_replicates
    return None if blue_read_only else False


def retire_qa_clones(
    backend: Any, source_sql: Callable[[], Any], blue_id: str, retire: list[ClusterInfo], user: str | None
) -> tuple[dict[str, str], list[str]]:
    """Delete QA clones of ours; blue's user and retention go with the last that replicated from it.

    Blue is cleaned up first: the retention to restore is recorded on the clones being deleted, and
    a retry after a kill still finds them. Every deletion is tried; returns what was done on blue
    and the deletions that failed.
    """
    blue = _release_for_retired(backend, source_sql, blue_id, retire, user)
    failed = []
    for clone in retire:
        ready = "ready" if clone.tags.get(READY_TAG) == "true" else "never made ready"
        try:
            run_step(
                log, f"Retire QA clone {clone.cluster_id} ({ready})", lambda c=clone: _delete(backend, c)
            )
        except Exception as error:
            failed.append(f"{clone.cluster_id}: {error}")
    return blue, failed


def _release_for_retired(
    backend: Any, source_sql: Callable[[], Any], blue_id: str, retire: list[ClusterInfo], user: str | None
) -> dict[str, str]:
    retired_replicas = [c for c in retire if c.tags.get(REPLICATES_TAG) == "true"]
    if not retired_replicas:
        return {}
    if user is None:
        return {"left": "no admin_conn_id and replication_conn_id given: blue was not cleaned up"}
    retired_ids = {c.cluster_id for c in retire}
    still = [
        info.cluster_id for info in sibling_replicas(backend, blue_id) if info.cluster_id not in retired_ids
    ]
    return release_source(blue_id, sorted(still), source_sql, user, retired_replicas[0])


def release_source(
    source_id: str,
    replicas_left: list[str],
    source: Callable[[], Any],
    user: str,
    recorded_on: ClusterInfo | None,
) -> dict[str, str]:
    """Drop our replication user on the source and put its binlog retention back, unless other
    clones of ours (``replicas_left``) still replicate from it; ``source`` gives its SQL hook."""
    if replicas_left:
        kept = f"kept: {', '.join(replicas_left)} still replicate from {source_id}"
        log.info("Replication user and binlog retention on %s %s", source_id, kept)
        return {"replication_user_on_blue": kept, "binlog_retention": kept}
    hook = source()
    return {
        "replication_user_on_blue": run_step(
            log, f"drop the replication user on {source_id}", lambda: drop_user_unless_read_only(hook, user)
        ),
        "binlog_retention": run_step(
            log,
            f"restore {source_id}'s binlog retention",
            lambda: restore_source_retention(hook, recorded_on),
        ),
    }


def drop_user_unless_read_only(hook: Any, user: str) -> str:
    try:
        return f"dropped {user}" if hook.drop_replication_user(user) else f"{user} did not exist"
    except StatementFailed as error:
        if error.errno != _READ_ONLY_REFUSED:
            raise
        return (
            f"LEFT {user}: the server is read-only and its master user cannot write there; drop it "
            "when this cluster is retired"
        )


def restore_source_retention(blue: Any, clone_info: ClusterInfo | None) -> str:
    """Put back the retention a clone of ours recorded before our first change to it."""
    recorded = (clone_info.tags if clone_info else {}).get(RETENTION_TAG)
    if recorded is None:
        return "left as it is: nothing recorded before the deployment (it never changed it, or green is gone)"
    hours = None if recorded == RETENTION_UNSET else int(recorded)
    blue.set_binlog_retention_hours(hours)
    return f"restored to {recorded}"


def _old_blue_writes(blue: Any, green: Any) -> str:
    """Writes old blue took itself after the cutover (its freeze does not survive a reboot): they
    are on no cluster the application uses, so a person must look at them before it is retired."""
    from aurora_bluegreen.guardrail_facts import green_local_writes

    writes = green_local_writes(blue=green, green=blue)
    if writes is None:
        return "not known: GTIDs give no evidence here"
    if not writes:
        return "none"
    log.warning("Old blue %s took writes of its own after the cutover: %s", blue.endpoint, writes)
    return f"FOUND: old blue took writes of its own after the cutover, not on green: {', '.join(writes)}"


def _stop(green: Any) -> str:
    status = green.replica_status()
    if status is None:
        return "not a replica"
    green.stop_replication()
    green.reset_external_source()
    return f"stopped and reset ({status.summary()})"


def _end_reverse(blue: Any, green: Any, green_info: ClusterInfo) -> str:
    status = blue.replica_status()
    if status is None:
        return "none: old blue is not a replica"
    if not status.replicates_from(green_info.endpoint, green_info.port):
        return f"left alone: old blue replicates from {status.source_host}:{status.source_port}, not green"
    caught_up = ""
    if status.is_running:
        # So that the replication user's DROP on green (replicated on MariaDB) is applied first.
        end = green.source_position()
        if not blue.wait_for_position(end, REVERSE_CATCH_UP_SECONDS):
            caught_up = (
                f"; it had not reached green's {end} after {REVERSE_CATCH_UP_SECONDS}s, so it lacks "
                "green's last writes"
            )
    blue.stop_replication()
    blue.reset_external_source()
    return f"ended: old blue no longer replicates from green ({status.summary()}){caught_up}"


def _delete(backend: Any, info: ClusterInfo) -> str:
    backend.delete(info.cluster_id)
    return f"deleted (was {info.status}, writer {info.writer_instance_id})"
