"""Everything the deployment needs, checked before anything is changed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.errors import ClusterStateError, InvalidInput
from aurora_bluegreen.freeze_methods import DEFAULT_QUIET_SECONDS, FREEZE_METHODS, RDS_SET_READ_ONLY
from aurora_bluegreen.operators.cluster_task import BlueGreenTask
from aurora_bluegreen.ownership import require_reusable
from aurora_bluegreen.parameter_groups import EngineVersion
from aurora_bluegreen.replication_setup import ACCEPTED_BINLOG_FORMATS
from aurora_bluegreen.timing import Stopwatch


class PreflightOperator(BlueGreenTask):
    """Validate the inputs, then prove blue is reachable and writes binlogs green can replicate.

    It changes nothing. A failure names the field or the server setting at fault.
    """

    template_fields: Sequence[str] = (
        *BlueGreenTask.template_fields,
        "writer_instance_id",
        "binlog_retention_hours",
        "max_lag_seconds",
        "max_freeze_seconds",
        "replication_conn_id",
        "application_users",
        "freeze_method",
        "quiet_seconds",
        "target_engine_version",
    )
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        writer_instance_id: str,
        binlog_retention_hours: int,
        max_lag_seconds: float,
        max_freeze_seconds: float,
        replication_conn_id: str,
        application_users: Sequence[str] = (),
        freeze_method: str = RDS_SET_READ_ONLY,
        quiet_seconds: float = DEFAULT_QUIET_SECONDS,
        target_engine_version: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.target_engine_version = target_engine_version
        self.freeze_method = freeze_method
        self.quiet_seconds = quiet_seconds
        self.writer_instance_id = writer_instance_id
        self.binlog_retention_hours = binlog_retention_hours
        self.max_lag_seconds = max_lag_seconds
        self.max_freeze_seconds = max_freeze_seconds
        self.replication_conn_id = replication_conn_id
        self.application_users = application_users

    def execute(self, context: Any) -> dict[str, Any]:
        watch = Stopwatch()
        self._validate_inputs()
        access = self._access()
        blue = access.backend.describe(self.blue_cluster_id)
        engine = EngineVersion.reported(blue.engine, blue.engine_version)
        validation.retention_hours("binlog_retention_hours", self.binlog_retention_hours, engine)
        if not blue.is_available:
            raise ClusterStateError(
                f"blue {self.blue_cluster_id} at {blue.endpoint}:{blue.port} is {blue.status}, not available"
            )
        existing_green = access.backend.find(self.green_cluster_id)
        if existing_green is not None:
            require_reusable(
                "green_cluster_id", self.green_cluster_id, existing_green.tags, self.blue_cluster_id
            )
        hook = access.sql(self.blue_cluster_id, "blue")
        settings = hook.binlog_settings()
        if not settings.log_bin:
            raise ClusterStateError(
                f"blue {self.blue_cluster_id} has binary logging off; turn on binlogs first"
            )
        if settings.binlog_format.upper() not in ACCEPTED_BINLOG_FORMATS:
            raise ClusterStateError(
                f"blue {self.blue_cluster_id} has binlog_format={settings.binlog_format}; "
                f"replication to green needs one of {', '.join(ACCEPTED_BINLOG_FORMATS)}"
            )
        self._check_application_users(hook)
        self._check_upgrade_target(access.backend)
        refusal = access.freeze_refusal(
            self.freeze_method,
            self.blue_cluster_id,
            hook,
            # Green is a clone of blue, so it runs blue's version: it switches as blue could.
            green_switch_by_sql=hook.can_set_read_only,
            max_freeze_seconds=float(self.max_freeze_seconds),
            quiet_seconds=float(self.quiet_seconds),
        )
        if refusal:
            raise ClusterStateError(refusal)
        result = {
            "blue_endpoint": f"{blue.endpoint}:{blue.port}",
            "dialect": hook.dialect.value,
            "binlog_format": settings.binlog_format,
            "gtid_mode": settings.gtid_mode,
            "green_exists": existing_green is not None,
            "freeze_method": self.freeze_method,
            "target_engine_version": self.target_engine_version or None,
        }
        self.log.info(
            "Preflight passed for blue %s at %s (%s, binlog_format=%s, gtid=%s, frozen by %s) in %.2fs",
            self.blue_cluster_id,
            result["blue_endpoint"],
            result["dialect"],
            settings.binlog_format,
            "on" if settings.gtid_mode else "off",
            self.freeze_method,
            watch.seconds,
        )
        return result

    def _check_application_users(self, hook: Any) -> None:
        """The application must not be able to write through read_only, or the freeze is no freeze."""
        from aurora_bluegreen.guardrails import read_only_bypass

        for user in self.application_users or ():
            validation.mysql_user_name("application_users", user)
            grants = hook.grants_by_host(user)
            if not grants:
                raise ValueError(f"application_users: {user!r} is not a user on blue {self.blue_cluster_id}")
            bypass = read_only_bypass(grants)
            if bypass:
                raise ValueError(
                    f"application user {user!r} can write through read_only ({'; '.join(bypass)}), so the "
                    "cutover could not freeze its writes; revoke that privilege from the application's user"
                )

    def _check_upgrade_target(self, backend: Any) -> None:
        """Green is a clone of blue, so blue's valid upgrade targets are green's: an invalid target
        fails here, in seconds, before any clone exists."""
        from aurora_bluegreen.control_plane.protocol import EngineUpgrades
        from aurora_bluegreen.green_upgrade import target_refusal

        target = self.target_engine_version
        if not target:
            return
        if not isinstance(backend, EngineUpgrades):
            rule = f"empty: the control plane of {self.control_plane_conn_id!r} cannot upgrade engines"
            raise InvalidInput("target_engine_version", target, rule)
        rule = target_refusal(
            self.blue_cluster_id,
            target,
            backend.engine_upgrade_targets(self.blue_cluster_id),
            backend.engine_upgrade_refusal(self.blue_cluster_id),
        )
        if rule:
            raise InvalidInput("target_engine_version", target, rule)
        self.log.info("Green can be upgraded to %s: one of blue's valid upgrade targets", target)

    def _validate_inputs(self) -> None:
        self._check_pair()
        validation.cluster_identifier("writer_instance_id", self.writer_instance_id)
        validation.retention_hours("binlog_retention_hours", self.binlog_retention_hours)
        validation.positive_number("max_lag_seconds", self.max_lag_seconds)
        validation.positive_number("max_freeze_seconds", self.max_freeze_seconds)
        validation.positive_number("quiet_seconds", self.quiet_seconds)
        validation.one_of("freeze_method", self.freeze_method, FREEZE_METHODS)
        if self.target_engine_version:
            validation.engine_version("target_engine_version", self.target_engine_version)
        for field in ("control_plane_conn_id", "admin_conn_id"):
            validation.connection_exists(field, getattr(self, field))
        validation.replication_credentials(self.replication_conn_id)
