"""What the domain modules (cutover, replication set-up, teardown) need of the outside world.

Small protocols, so the domain runs against the real hooks in production and against anything that
behaves the same in a test. ``hooks.cluster_sql.ClusterSqlHook`` is the ``ClusterSql`` of a real
cluster; ``cluster_access.ClusterReadOnly`` its ``ReadOnlySwitch``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

from aurora_bluegreen.gtid import GtidSet
from aurora_bluegreen.guardrails import GtidHistory
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus


class ReadOnlySwitch(Protocol):
    def set_read_only(self, read_only: bool) -> None:
        """Switch read_only and return only once it is in effect."""


class ClusterSql(Protocol):
    """The data-plane operations the cutover needs on either cluster (``ClusterSqlHook`` has them).

    Blue and green swap roles when reverse replication runs, or on a switch back, so both get
    the same interface.
    """

    def logs_held(self, into: list) -> AbstractContextManager[None]: ...
    def replica_status(self) -> ReplicaStatus | None: ...
    def source_position(self) -> BinlogPosition: ...
    def gtid_history(self) -> GtidHistory | None: ...
    def executed_gtid_set(self) -> GtidSet: ...
    def read_only(self) -> bool: ...
    def long_running_transactions(self, min_seconds: float) -> list[Any]: ...
    def running_ddl(self) -> list[Any]: ...
    def replication_user_exists(self, user: str) -> bool: ...
    def ensure_replication_user(self, user: str, password: str) -> bool: ...
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
