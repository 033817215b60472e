"""Each sandbox cluster's parameter group: values a restart applies, changes that take a while.

On Aurora, ``read_only`` set at runtime (``mysql.rds_set_read_only``, 3.06+) "doesn't persist on
rebooting. To make permanent changes to read_only, you must use the read_only DB cluster
parameter." (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-replicating.html#mysql_rds_set_read_only).
So a sandbox cluster has parameter-group values (``ClusterRecord.parameters``) that every start
applies, and whatever ``SET GLOBAL`` or the rds procedures did at runtime is forgotten.

A change through the control plane (``Sandbox.set_parameter``) is written to the group at once
and reaches the running server only after a delay, the sandbox-wide setting
``parameter_apply_seconds`` (default 2 s; 0 applies at once). Until then its status says "not
applied", as RDS reports a modified group "applying" and then "in-sync" (``DBClusterParameterGroupStatus``):
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_WorkingWithParamGroups.AssociatingCluster.html
AWS gives no figure for that delay (the ModifyDBClusterParameterGroup API page says only
"immediately"); the sandbox's is there so that code which does not wait fails here.

The delay is kept by an applier: a small detached process (``python -m
aurora_bluegreen.sandbox.parameter_applier``) that sleeps until the change is due, then applies it,
unless a newer change of the same parameter, a restart or a delete came first. A change whose
applier died is applied by the next look at the status once it is overdue by ``OVERDUE_SECONDS``.
"""

from __future__ import annotations

import logging
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pymysql

from aurora_bluegreen import validation
from aurora_bluegreen.errors import InvalidInput, SandboxError, WaitTimedOut
from aurora_bluegreen.models import ParameterStatus
from aurora_bluegreen.parameter_groups import (
    DEFAULT_GROUP_PREFIX,
    GroupFacts,
    Level,
    owned_group_name,
    read_only_refusal,
)
from aurora_bluegreen.sandbox import server
from aurora_bluegreen.sandbox.state import ClusterRecord

log = logging.getLogger(__name__)

READ_ONLY = "read_only"
# What the sandbox lets a cluster parameter group hold, and the values it takes. Aurora's
# read_only also takes {TrueIfClusterReplica} (and {TrueIfReplica} on version 2), which the sandbox
# does not play: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Reference.ParameterGroups.html
MODIFIABLE = {READ_ONLY: ("0", "1")}
APPLY_SECONDS_SETTING = "parameter_apply_seconds"
DEFAULT_APPLY_SECONDS = 2.0
MAX_APPLY_SECONDS = 600.0
OVERDUE_SECONDS = 10.0
APPLIER_MODULE = "aurora_bluegreen.sandbox.parameter_applier"


def checked(name: str, value: str) -> str:
    """``value`` if the sandbox's parameter group may hold it for ``name``; InvalidInput otherwise."""
    if name not in MODIFIABLE:
        raise InvalidInput("parameter", name, f"one of {', '.join(sorted(MODIFIABLE))}")
    if str(value) not in MODIFIABLE[name]:
        raise InvalidInput(name, value, f"one of {', '.join(MODIFIABLE[name])}")
    return str(value)


def checked_delay(seconds: float) -> float:
    if not 0 <= seconds <= MAX_APPLY_SECONDS:
        raise InvalidInput(APPLY_SECONDS_SETTING, seconds, f"from 0 to {MAX_APPLY_SECONDS:g} seconds")
    return float(seconds)


def initial(read_only: bool) -> dict[str, str]:
    """A new cluster's group: read_only as the clone spec (or blue: off) says."""
    return {READ_ONLY: str(int(read_only))}


def read_only_of(parameters: Mapping[str, str]) -> bool:
    """What a start applies: the group's read_only ("0", Aurora 3's default, when it holds none)."""
    return parameters.get(READ_ONLY, "0") == "1"


def group_name(record: ClusterRecord) -> str:
    """The name of the cluster's parameter group: blue has a custom one of its own (on Aurora a
    cluster that writes binlogs must: the default group turns them off), a clone ours."""
    if record.parameter_group:
        return record.parameter_group
    if record.created_by_sandbox:
        return f"{record.cluster_id}-cluster-params"
    return owned_group_name(record.cluster_id, Level.CLUSTER)


def pending_change(delay: float, token: str) -> dict[str, Any]:
    return {"applies_at": time.time() + delay, "token": token}


def is_overdue(change: Mapping[str, Any]) -> bool:
    return time.time() > float(change["applies_at"]) + OVERDUE_SECONDS


def apply(root: pymysql.connections.Connection, name: str, value: str) -> None:
    """Put one parameter's group value into effect on a running server."""
    checked(name, value)
    with root.cursor() as cursor:
        # name is one of MODIFIABLE's keys, never caller text.
        cursor.execute(f"SET GLOBAL {name} = %s", (int(value),))


def spawn_applier(state_dir: Path, cluster_id: str, name: str, token: str) -> None:
    """Start the detached process that applies this change when it is due; it outlives the caller.

    Through a shell that puts it in the background and exits at once: the applier is then no
    child of the caller's (no zombie for a long-lived caller to reap), in a session of its own.
    """
    subprocess.run(
        [
            *("/bin/sh", "-c", '"$@" </dev/null >/dev/null 2>&1 &', "applier"),
            *(sys.executable, "-m", APPLIER_MODULE, str(state_dir), cluster_id, name, token),
        ],
        start_new_session=True,
        check=True,
        timeout=30,
    )


class ParameterGroupMixin:
    """``Sandbox``'s parameter-group methods: the control plane's persistent read_only and its wait.

    Uses the sandbox's ``store``, ``state_dir``, ``record``, ``clusters``, ``_files`` and ``_root``.
    """

    def set_read_only(self, cluster_id: str, read_only: bool) -> None:
        """Write read_only to the cluster's parameter group and return once the writer runs with it.

        The control plane's persistent switch: it takes ``parameter_apply_seconds`` to apply, and
        every later start applies it again.
        """
        self.set_parameter(cluster_id, READ_ONLY, str(int(read_only)))
        deadline = time.monotonic() + self.parameter_apply_seconds + OVERDUE_SECONDS + 5
        while not self.parameter_status(cluster_id)[READ_ONLY].applied:
            if time.monotonic() > deadline:
                raise WaitTimedOut(f"{cluster_id}: read_only={int(read_only)} did not apply in time")
            time.sleep(0.02)
        record = self.record(cluster_id)
        if not server.is_running(record.pid, self._files(record)):
            return  # the next start applies it
        with self._root(record) as root, root.cursor() as cursor:
            cursor.execute("SELECT @@GLOBAL.read_only")
            (actual,) = cursor.fetchone()
        if bool(actual) != read_only:
            raise SandboxError(f"{cluster_id}: read_only is {actual} after setting it to {int(read_only)}")

    def read_only_refusal(self, cluster_id: str, *, user_consented: bool = False) -> str | None:
        """Why read_only may not be written in the cluster's group: the same rule as on AWS."""
        record = self.record(cluster_id)
        name = group_name(record)
        facts = None
        if not name.startswith(DEFAULT_GROUP_PREFIX):
            used_by = frozenset(other.cluster_id for other in self.clusters() if group_name(other) == name)
            ours = not record.created_by_sandbox and name == owned_group_name(cluster_id, Level.CLUSTER)
            facts = GroupFacts(name, family="", managed=ours, used_by=used_by)
        return read_only_refusal(name, facts, cluster_id, user_consented=user_consented)

    def use_parameter_group(self, cluster_id: str, name: str) -> None:
        """Attach the cluster to the group ``name`` (as ``modify_db_cluster``); a group another
        cluster uses brings its values. For tests and people trying the rules: a default group
        (``default.aurora-mysql8.0``) or one shared with another cluster."""
        validation.parameter_group_name("parameter_group", name)
        with self.store.locked():
            record = self.record(cluster_id)
            sharer = next((other for other in self.clusters() if group_name(other) == name), None)
            record.parameter_group = name
            if sharer is not None and sharer.cluster_id != cluster_id:
                record.parameters = dict(sharer.parameters)
            self.store.write(record)
        log.info("%s: cluster parameter group is now %s", cluster_id, name)

    @property
    def parameter_apply_seconds(self) -> float:
        """How long a parameter-group change takes to reach the running server (sandbox-wide)."""
        configured = self.store.setting(APPLY_SECONDS_SETTING)
        return DEFAULT_APPLY_SECONDS if configured is None else float(configured)

    def set_parameter_apply_seconds(self, seconds: float) -> None:
        self.store.record_setting(APPLY_SECONDS_SETTING, checked_delay(seconds))

    def set_parameter(self, cluster_id: str, name: str, value: str) -> None:
        """Write one parameter of the cluster's parameter group; it applies after a delay.

        As ``modify_db_cluster_parameter_group`` with ApplyMethod ``immediate``: the group holds the
        value at once (every start applies it) and the running server gets it after
        ``parameter_apply_seconds``; ``parameter_status`` says when.
        """
        value = checked(name, value)
        delay, token = self.parameter_apply_seconds, secrets.token_hex(8)
        with self.store.locked():
            record = self.record(cluster_id)
            record.parameters = {**record.parameters, name: value}
            record.pending_parameters = {**record.pending_parameters, name: pending_change(delay, token)}
            self.store.write(record)
        log.info("%s: parameter group %s=%s, applying in %.1fs", cluster_id, name, value, delay)
        if delay == 0:
            self.apply_pending_parameter(cluster_id, name, token)
        else:
            spawn_applier(self.state_dir, cluster_id, name, token)

    def parameter_status(self, cluster_id: str) -> dict[str, ParameterStatus]:
        """The parameter group's values, each with whether the running writer has it yet."""
        record = self.record(cluster_id)
        for name, change in record.pending_parameters.items():
            if is_overdue(change):  # its applier died
                log.warning("%s: applying %s, overdue, without its applier", cluster_id, name)
                self.apply_pending_parameter(cluster_id, name, change["token"])
                record = self.record(cluster_id)
        return {
            name: ParameterStatus(value, applied=name not in record.pending_parameters)
            for name, value in sorted(record.parameters.items())
        }

    def apply_pending_parameter(self, cluster_id: str, name: str, token: str) -> None:
        """Put a pending change into effect, unless a newer change, a restart or a delete came first."""

        def still_pending(record: ClusterRecord | None) -> bool:
            return record is not None and record.pending_parameters.get(name, {}).get("token") == token

        if not still_pending(self.store.read(cluster_id)):
            return  # and no lock taken: a lock file would bring back a state directory `down` removed
        with self.store.cluster_lock(cluster_id):
            record = self.store.read(cluster_id)
            if not still_pending(record):
                return
            if server.is_running(record.pid, self._files(record)):  # a stopped one gets it at start
                with self._root(record) as root:
                    apply(root, name, record.parameters[name])
            with self.store.locked():
                record = self.store.read(cluster_id)
                if still_pending(record):
                    record.pending_parameters = {
                        key: change for key, change in record.pending_parameters.items() if key != name
                    }
                    self.store.write(record)
