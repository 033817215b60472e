"""How an operator, sensor or trigger reaches a cluster: control plane for where, connection for who.

Green only exists at run time, so its SQL endpoint always comes from the control plane while the
credentials come from blue's master-user connection (a clone carries blue's users). Blue is
treated the same way, so one connection serves both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from aurora_bluegreen.errors import ClusterStateError, WaitTimedOut

if TYPE_CHECKING:
    from airflow.sdk import Connection

    from aurora_bluegreen.control_plane.protocol import ClusterBackend
    from aurora_bluegreen.hooks.cluster_sql import ClusterSqlHook
    from aurora_bluegreen.protocols import BlueFreeze

CONTROL_PLANE_READ_ONLY_SECONDS = 60


@dataclass
class ClusterAccess:
    control_plane_conn_id: str
    admin_conn_id: str
    dialect: str | None = None

    @cached_property
    def backend(self) -> ClusterBackend:
        from aurora_bluegreen.control_plane.factory import get_backend

        return get_backend(self.control_plane_conn_id)

    @cached_property
    def admin_connection(self) -> Connection:
        """The master user's connection; its password may be one RDS manages in Secrets Manager.

        A clone shares blue's master user, so blue's managed secret serves green too.
        """
        from airflow.sdk import BaseHook

        from aurora_bluegreen.control_plane.master_user import with_master_user_secret

        return with_master_user_secret(BaseHook.get_connection(self.admin_conn_id), lambda: self.backend)

    def sql(self, cluster_id: str, role: str) -> ClusterSqlHook:
        """The SQL side of ``cluster_id``, which plays ``role`` (blue, green, ...) in this task:
        both are named in every error, with the endpoint."""
        from aurora_bluegreen.hooks.cluster_sql import ClusterSqlHook

        info = self.backend.describe(cluster_id)
        if not info.endpoint or not info.port:
            raise ClusterStateError(f"{role} {cluster_id} has no endpoint yet (status {info.status})")
        return ClusterSqlHook(
            self.admin_conn_id,
            host=info.endpoint,
            port=info.port,
            dialect=self.dialect,
            connection=self.admin_connection,
            cluster=f"{role} {cluster_id}",
        )

    def persistent_read_only(
        self, cluster_id: str, *, user_consented: bool = False
    ) -> ParameterGroupReadOnly:
        """read_only as the cluster's parameter group holds it: what every reboot applies."""
        return ParameterGroupReadOnly(cluster_id, self.backend, user_consented)

    def read_only_switch(
        self, cluster_id: str, hook: ClusterSqlHook, *, user_consented: bool = False
    ) -> ClusterReadOnly:
        """Decided now (it asks the server what it runs), so a switch in the cutover's freeze
        costs only the switch."""
        return ClusterReadOnly(cluster_id, hook, self.backend, hook.can_set_read_only, user_consented)

    def blue_freeze(
        self, method: str, cluster_id: str, hook: ClusterSqlHook, quiet_seconds: float
    ) -> BlueFreeze:
        """How the cutover freezes blue, as the user chose (``freeze_methods``)."""
        from aurora_bluegreen import freeze_methods as methods

        if method == methods.APPLICATION_STOPS:
            return methods.QuietFreeze(hook, quiet_seconds)
        by_sql = method == methods.RDS_SET_READ_ONLY and hook.can_set_read_only
        switch = ClusterReadOnly(cluster_id, hook, self.backend, by_sql, method == methods.PARAMETER_GROUP)
        return methods.ReadOnlyFreeze(method, hook, switch)

    def freeze_refusal(
        self,
        method: str,
        blue_id: str,
        blue: ClusterSqlHook,
        *,
        green_switch_by_sql: bool,
        max_freeze_seconds: float,
        quiet_seconds: float,
    ) -> str | None:
        """Why ``method`` cannot freeze this blue within the budget (naming the ways out), or None."""
        from aurora_bluegreen import freeze_methods as methods

        return methods.freeze_refusal(
            method,
            blue_id=blue_id,
            blue_version=self.backend.describe(blue_id).engine_version,
            has_rds_set_read_only=blue.can_set_read_only,
            group_refusal=self.backend.read_only_refusal(blue_id, user_consented=True),
            max_freeze_seconds=max_freeze_seconds,
            minimum_seconds=methods.minimum_freeze_seconds(
                method, green_switch_by_sql=green_switch_by_sql, quiet_seconds=quiet_seconds
            ),
        )


@dataclass
class ClusterReadOnly:
    """Flip read_only by SQL where the engine allows it (fast), else through the control plane."""

    cluster_id: str
    hook: ClusterSqlHook
    backend: ClusterBackend
    by_sql: bool
    user_consented: bool = False
    """The user chose ``freeze_method=parameter_group``: their own group may hold read_only."""

    def set_read_only(self, read_only: bool) -> None:
        if self.by_sql:
            self.hook.set_read_only(read_only)
            return
        self.backend.set_read_only(self.cluster_id, read_only, user_consented=self.user_consented)
        # A parameter-group change can reach the server a little after RDS reports it in sync.
        deadline = time.monotonic() + CONTROL_PLANE_READ_ONLY_SECONDS
        while self.hook.read_only() != read_only:
            if time.monotonic() > deadline:
                raise WaitTimedOut(
                    f"{self.cluster_id}: read_only is still {not read_only} "
                    f"{CONTROL_PLANE_READ_ONLY_SECONDS}s after the control plane changed it"
                )
            time.sleep(1)


@dataclass
class ParameterGroupReadOnly:
    """read_only in the cluster's parameter group, so it survives reboots and failovers.

    ``mysql.rds_set_read_only`` "doesn't persist on rebooting. To make permanent changes to
    read_only, you must use the read_only DB cluster parameter"
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-replicating.html).
    A group that already says what is asked is left alone: a switch back to blue needs no write
    to blue's group, which this tool writes only with the user's consent (``freeze_methods``).
    """

    cluster_id: str
    backend: ClusterBackend
    user_consented: bool = False

    def set_read_only(self, read_only: bool) -> None:
        status = self.backend.parameter_status(self.cluster_id).get("read_only")
        if status is not None and status.value == str(int(read_only)) and status.applied:
            return
        self.backend.set_read_only(self.cluster_id, read_only, user_consented=self.user_consented)
