"""What the domain modules (cutover, replication set-up, teardown) need of the outside world.

Small protocols, so the domain runs against the real hooks in production and against anything that
behaves the same in a test. ``hooks.cluster_sql.ClusterSqlHook`` is the ``ClusterSql`` of a real
cluster; ``operators.cluster_access.ClusterReadOnly`` its ``ReadOnlySwitch``; ``freeze_methods``
the ``BlueFreeze`` choices.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from aurora_bluegreen.freeze_ledger import FreezeRecord
from aurora_bluegreen.gtid import GtidSet
from aurora_bluegreen.guardrails import GtidHistory
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus, SourceState


class ReadOnlySwitch(Protocol):
    def set_read_only(self, read_only: bool) -> None:
        """Switch read_only and return only once it is in effect."""


class BlueFreeze(Protocol):
    """How the cutover stops blue's writes (``freeze_methods``), and undoes that in a rollback."""

    method: str

    def freeze(self, deadline: float) -> str:
        """Return once blue takes no more writes, with a line for the log; raise if it cannot by
        ``deadline`` (a ``time.monotonic`` value)."""

    def thaw(self) -> str:
        """Let blue take writes again; return a line for the log."""

    def holds(self) -> bool:
        """Whether blue is frozen now, as a retry of the cutover finds it."""


class FreezeLedger(Protocol):
    """Where a freeze's start and deadline outlive the worker (``freeze_ledger``)."""

    def in_flight(self) -> FreezeRecord | None:
        """The freeze an earlier attempt started and did not end, if any."""

    def start(self, record: FreezeRecord) -> None:
        """Record a freeze about to start (before it does: it costs the freeze nothing)."""

    def end(self, at: datetime) -> None:
        """Record that the freeze is over."""


class ClusterSql(Protocol):
    """The data-plane operations the domain needs on either cluster (``ClusterSqlHook`` has them).

    Blue and green swap roles when reverse replication runs, or on a switch back, so both get
    the same interface.
    """

    @property
    def dialect(self) -> Any: ...
    def binlog_settings(self) -> Any: ...
    def binlog_retention_hours(self) -> int | None: ...
    def set_binlog_retention_hours(self, hours: int | None) -> None: ...
    def drop_replication_user(self, user: str) -> bool: ...
    @property
    def login(self) -> str: ...
    @property
    def session_id(self) -> int: ...
    def sessions(self) -> list[Any]: ...
    def end_session(self, thread_id: int) -> None: ...
    def set_lock_wait_timeout(self, seconds: float) -> None: ...
    def grants_by_host(self, user: str) -> dict[str, list[str]]: ...
    def logs_held(self, into: list) -> AbstractContextManager[None]: ...
    def replica_status(self) -> ReplicaStatus | None: ...
    def source_position(self) -> BinlogPosition: ...
    def source_state(self) -> SourceState: ...
    def wait_for_gtid_set(self, gtid_set: str, timeout_seconds: float) -> bool: ...
    def gtid_history(self) -> GtidHistory | None: ...
    def executed_gtid_set(self) -> GtidSet: ...
    def read_only(self) -> bool: ...
    def long_running_transactions(self, min_seconds: float) -> list[Any]: ...
    def running_ddl(self) -> list[Any]: ...
    def replication_user_exists(self, user: str) -> bool: ...
    def ensure_replication_user(self, user: str, password: str, require_ssl: bool = False) -> bool: ...
    def offers_tls(self) -> bool: ...
    @property
    def can_encrypt_replication(self) -> bool: ...
    def wait_for_position(self, position: BinlogPosition, timeout_seconds: float) -> bool: ...
    def stop_replication(self) -> None: ...
    def start_replication(self) -> None: ...
    def reset_external_source(self) -> None: ...
    def set_external_source(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        position: BinlogPosition | None,
        gtid: bool = False,
        ssl: bool = False,
    ) -> None: ...
