"""The clean way out of a deployment: what teardown needs recorded, and the teardown itself.

Teardown finds everything through tags, so it works on a half-built deployment, on a rejected
one and after an approved one, and running it twice changes nothing the second time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.cluster_access import ClusterAccess
from aurora_bluegreen.errors import ClusterStateError
from aurora_bluegreen.models import ClusterInfo
from aurora_bluegreen.operators.cluster_task import BlueGreenTask
from aurora_bluegreen.ownership import (
    MANAGED_BY_TAG,
    MANAGED_BY_VALUE,
    RETENTION_TAG,
    RETENTION_UNSET,
    clones_of,
)

_READ_ONLY_REFUSED = 1290
# How long old blue may take to apply green's last writes before reverse replication is ended.
REVERSE_CATCH_UP_SECONDS = 30


def sibling_replicas(backend: Any, source_id: str, except_id: str | None = None) -> list[ClusterInfo]:
    """Our other clones that replicate from ``source_id``: they still need its user and retention."""
    found = backend.list_clusters(clones_of(source_id, replicating=True))
    return [info for info in found if info.cluster_id != except_id]


def record_source_retention(access: ClusterAccess, source_id: str, clone_id: str, log: Any) -> str:
    """Tag the clone with the source's binlog retention from before anything of ours changed it.

    A retry keeps the first record. When another clone of ours replicates from the same source,
    the source's retention was already changed by us, so that clone's record is the original.
    """
    started = time.monotonic()
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
        hours = access.sql(source_id).binlog_retention_hours()
        value, origin = (RETENTION_UNSET if hours is None else str(hours)), "read from it now"
    backend.add_tags(clone_id, {RETENTION_TAG: value})
    log.info(
        "Recorded on %s: %s's binlog retention before this deployment is %s (%s), in %.2fs",
        clone_id,
        source_id,
        value,
        origin,
        time.monotonic() - started,
    )
    return value


class RecordTeardownFactsOperator(BlueGreenTask):
    """Before replication changes blue, note on green what teardown must put back (blue's binlog retention).

    Idempotent: a retry keeps the value recorded first.
    """

    ui_color = "#efefef"

    def execute(self, context: Any) -> dict[str, str]:
        self._check_pair()
        value = record_source_retention(self._access(), self.blue_cluster_id, self.green_cluster_id, self.log)
        return {RETENTION_TAG: value}


class TeardownDeploymentOperator(BlueGreenTask):
    """Undo a deployment: green, the replication user, blue's binlog retention. Safe at any stage.

    What it does depends on what it finds, and each step logs one line:

    - green must be ours (tags ``managed-by``, ``role=green``, ``source-cluster=<blue>``), else
      nothing is changed;
    - green replicating, rejected or half-built: replication on green is stopped and reset,
      blue's replication user dropped, blue's binlog retention put back to the value recorded
      before the deployment, and green deleted with its instances (its users go with it);
    - green took over (the cutover ran: green writable and not a replica, blue read-only): green
      is the production writer now and is kept. The way back is closed: the replication user is
      dropped on green (where MariaDB replays the drop on old blue), reverse replication on old
      blue is stopped and reset, and blue's retention put back. A user left on a read-only old
      blue whose master user cannot write there is reported, not forced: old blue stays frozen;
    - green already gone: only what is left on blue is cleaned up.

    While another clone of ours still replicates from blue, blue's replication user and retention
    stay, because that clone needs them. Green unreachable while blue is read-only is ambiguous
    (green may be the writer): nothing is changed and the task says so.

    :param writer_instance_id: green's writer as the user names it (the lag dashboard is named
        after it); refused if green exists with another writer.
    :return: what was done, step by step, as a dict.
    """

    template_fields: Sequence[str] = (
        *BlueGreenTask.template_fields,
        "writer_instance_id",
        "replication_conn_id",
    )
    ui_color = "#f4cccc"

    def __init__(
        self, *, replication_conn_id: str, writer_instance_id: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.replication_conn_id = replication_conn_id
        self.writer_instance_id = writer_instance_id

    def execute(self, context: Any) -> dict[str, Any]:
        user = self._check_inputs()
        access = self._access()
        found = self._inspect(access)
        done: dict[str, Any] = {"green_cluster_id": self.green_cluster_id, "green_took_over": found.took_over}
        done.update(self._close_replication(found, user))
        done.update(self._clean_blue(found, user))
        if found.green_info is None:
            done["green"] = "absent: nothing to delete"
        elif found.took_over:
            done["green"] = "kept: it is the writer since the cutover"
        else:
            green_info = found.green_info
            done["green"] = self._step(
                f"delete green {self.green_cluster_id}", lambda: _delete(access.backend, green_info)
            )
        self.log.info("Teardown of %s done: %s", self.green_cluster_id, done)
        return done

    def _check_inputs(self) -> str:
        """Everything checked before anything changes; returns the replication user's name."""
        self._check_pair()
        if self.writer_instance_id is not None:
            validation.cluster_identifier("writer_instance_id", self.writer_instance_id)
        for field in ("control_plane_conn_id", "admin_conn_id"):
            validation.connection_exists(field, getattr(self, field))
        return validation.replication_credentials(self.replication_conn_id).user

    def _inspect(self, access: ClusterAccess) -> _Found:
        """What the deployment left, read without changing anything; refuses what is not ours."""
        backend = access.backend
        backend.describe(self.blue_cluster_id)  # blue must exist: ClusterNotFound names it
        green_info = backend.find(self.green_cluster_id)
        if green_info is not None:
            self._refuse_unless_our_green(green_info)
        blue = access.sql(self.blue_cluster_id)
        green = self._reachable_green(access, green_info)
        blue_read_only = blue.read_only()
        if green_info is not None and green is None and blue_read_only:
            raise ClusterStateError(
                f"green {self.green_cluster_id} is {green_info.status} and cannot be reached, and blue "
                f"{self.blue_cluster_id} is read-only: green may have taken over as the writer. Nothing "
                "was changed; check both clusters and run the teardown again once green is reachable."
            )
        # The cutover leaves exactly this: blue frozen, green writable and no longer a replica.
        took_over = (
            green is not None and blue_read_only and not green.read_only() and green.replica_status() is None
        )
        if blue_read_only and not took_over:
            self.log.warning(
                "Blue %s is read-only but green did not take over (a cutover that could not roll back?); "
                "teardown leaves blue's read_only as it is",
                self.blue_cluster_id,
            )
        others = [
            c.cluster_id for c in sibling_replicas(backend, self.blue_cluster_id, self.green_cluster_id)
        ]
        return _Found(blue, green_info, green, took_over, others)

    def _close_replication(self, found: _Found, user: str) -> dict[str, str]:
        green, green_info = found.green, found.green_info
        if green is None or green_info is None:
            return {}
        if not found.took_over:
            return {
                "replication_on_green": self._step(
                    "stop replication on green", lambda: _stop_replication(green)
                )
            }
        return {
            "replication_user_on_green": self._step(
                "drop the replication user on green", lambda: drop_user_unless_read_only(green, user)
            ),
            "reverse_replication": self._step(
                "end reverse replication on old blue",
                lambda: self._end_reverse(found.blue, green, green_info),
            ),
        }

    def _clean_blue(self, found: _Found, user: str) -> dict[str, str]:
        return release_source(
            self.blue_cluster_id,
            found.others,
            lambda: found.blue,
            user,
            found.green_info,
            self._step,
            self.log,
        )

    def _refuse_unless_our_green(self, info: ClusterInfo) -> None:
        expected = {MANAGED_BY_TAG: MANAGED_BY_VALUE, "role": "green", "source-cluster": self.blue_cluster_id}
        wrong = {key: info.tags.get(key) for key, value in expected.items() if info.tags.get(key) != value}
        if wrong:
            from aurora_bluegreen.errors import NotManagedByUs

            raise NotManagedByUs(
                f"green_cluster_id={self.green_cluster_id!r} is not a green that aurora-bluegreen made from "
                f"{self.blue_cluster_id}: its tags have {wrong}, expected {expected}; nothing was changed"
            )
        if self.writer_instance_id is not None and info.writer_instance_id not in (
            None,
            self.writer_instance_id,
        ):
            raise validation.InvalidInput(
                "writer_instance_id", self.writer_instance_id, f"green's writer, {info.writer_instance_id}"
            )

    def _reachable_green(self, access: ClusterAccess, info: ClusterInfo | None) -> Any:
        """Green's SQL hook if it answers; None if it does not exist or cannot be reached."""
        if info is None or not info.is_available:
            return None
        try:
            green = access.sql(self.green_cluster_id)
            green.read_only()
        except Exception as error:  # a dead or half-made server: any driver error means "unreachable"
            self.log.info("Green %s does not answer (%s)", self.green_cluster_id, error)
            return None
        return green

    def _end_reverse(self, blue: Any, green: Any, green_info: ClusterInfo) -> str:
        status = blue.replica_status()
        if status is None:
            return "none: old blue is not a replica"
        if not status.replicates_from(green_info.endpoint, green_info.port):
            return (
                f"left alone: old blue replicates from {status.source_host}:{status.source_port}, not green"
            )
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

    def _step(self, what: str, action: Callable[[], str]) -> str:
        return timed_step(self.log, "Teardown")(what, action)


@dataclass(frozen=True)
class _Found:
    blue: Any
    green_info: ClusterInfo | None
    green: Any
    """Green's SQL hook; None when green does not exist or does not answer."""
    took_over: bool
    others: list[str]


def _stop_replication(green: Any) -> str:
    status = green.replica_status()
    if status is None:
        return "not a replica"
    green.stop_replication()
    green.reset_external_source()
    return f"stopped and reset ({status.summary()})"


def timed_step(log: Any, task: str) -> Callable[[str, Callable[[], str]], str]:
    """Runs one clean-up step and logs what it did, on what, and how long it took."""

    def step(what: str, action: Callable[[], str]) -> str:
        started = time.monotonic()
        outcome = action()
        log.info("%s: %s: %s (%.2fs)", task, what, outcome, time.monotonic() - started)
        return outcome

    return step


def release_source(
    source_id: str,
    replicas_left: list[str],
    source: Callable[[], Any],
    user: str,
    recorded_on: ClusterInfo | None,
    step: Callable[[str, Callable[[], str]], str],
    log: Any,
) -> dict[str, str]:
    """Drop our replication user on the source and put its binlog retention back, unless other
    clones of ours (``replicas_left``) still replicate from it; ``source`` gives its SQL hook."""
    if replicas_left:
        kept = f"kept: {', '.join(replicas_left)} still replicate from {source_id}"
        log.info("Replication user and binlog retention on %s %s", source_id, kept)
        return {"replication_user_on_blue": kept, "binlog_retention": kept}
    hook = source()
    return {
        "replication_user_on_blue": step(
            f"drop the replication user on {source_id}", lambda: drop_user_unless_read_only(hook, user)
        ),
        "binlog_retention": step(
            f"restore {source_id}'s binlog retention", lambda: restore_source_retention(hook, recorded_on)
        ),
    }


def drop_user_unless_read_only(hook: Any, user: str) -> str:
    from aurora_bluegreen.errors import StatementFailed

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


def _delete(backend: Any, info: ClusterInfo) -> str:
    backend.delete(info.cluster_id)
    return f"deleted (was {info.status}, writer {info.writer_instance_id})"
