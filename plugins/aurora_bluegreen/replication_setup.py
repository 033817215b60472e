"""Binlog replication from blue to green, starting exactly where the clone's data ends.

Guarantee: green applies every transaction blue committed after the clone point, once. It starts
from the clone's exact coordinates (binlog file and position, or GTID auto-position where blue runs
GTIDs), so nothing is skipped and nothing is applied twice. Blue keeps its binlogs long enough
(``retention_hours``) for green to read them after a pause.

The phases, each logged with its duration: binlog retention on blue; a replication user on blue
with REPLICATION SLAVE only; green read-only; the external source on green; start; both threads
confirmed running. Before them, where green will be cut over to (``require_green_binlogs``), a check
that changes nothing: green writes binlogs, since after the cutover old blue replicates from it.

Resume: every phase is idempotent. A retry that finds green already replicating from blue leaves
it alone, and an existing replication user is reused only if it holds nothing but REPLICATION SLAVE
(any other user is someone else's and is refused).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from aurora_bluegreen.errors import ClusterStateError, InvalidInput, ReplicationBroken, WaitTimedOut
from aurora_bluegreen.models import CloneCoordinates, ReplicaStatus, ReplicationSummary, SourceEndpoint
from aurora_bluegreen.protocols import ClusterSql, ReadOnlySwitch
from aurora_bluegreen.timing import Stopwatch, logged_step

log = logging.getLogger(__name__)

ACCEPTED_BINLOG_FORMATS = ("ROW", "MIXED")
"""The binlog formats a replica can follow exactly, on either side of the cutover."""


def green_binlog_refusal(
    green_cluster_id: str, log_bin: bool, binlog_format: str, parameter_group: str | None
) -> str | None:
    """Why green cannot be cut over to for want of binlogs, or None if it writes usable ones.

    Checked before the approval, because the first statement that needs green's binlogs runs inside
    the cutover's write freeze: old blue starts replicating from green there (reverse replication).
    On Aurora, ``binlog_format`` lives in the cluster parameter group, so the message names it.
    """
    if log_bin and binlog_format.upper() in ACCEPTED_BINLOG_FORMATS:
        return None
    state = f"binlog_format={binlog_format}" if log_bin else "binary logging off"
    where = f"its cluster parameter group {parameter_group}" if parameter_group else "its server's settings"
    return (
        f"green {green_cluster_id} does not write binlogs old blue could replicate from ({state}, set by "
        f"{where}); after the cutover old blue replicates from green, so green needs binlog_format "
        f"{' or '.join(ACCEPTED_BINLOG_FORMATS)}. Set it in {parameter_group or 'its settings'} and reboot "
        "green's writer, or delete green and clone again with a cluster_parameter_group that sets it "
        "(empty: a copy of blue's). Nothing was changed"
    )


@dataclass
class ReplicationSetup:
    blue_cluster_id: str
    green_cluster_id: str
    blue: ClusterSql
    green: ClusterSql
    green_read_only: ReadOnlySwitch
    source: SourceEndpoint
    """Blue's endpoint, and the replication user green connects as."""
    coordinates: CloneCoordinates
    retention_hours: int
    use_gtid: bool | None = None
    """None: GTID auto-position exactly where blue runs gtid_mode=ON, else file and position."""
    ssl: bool | None = None
    """None: TLS wherever blue offers it and green can use it without imported certificates."""
    start_timeout: float = 60
    require_green_binlogs: bool = False
    """Refuse, before any change, a green that writes no binlogs (``green_binlog_refusal``)."""
    green_parameter_group: str | None = None
    """Green's cluster parameter group, where binlogs are turned on (None on the sandbox)."""

    def run(self) -> ReplicationSummary:
        if self.require_green_binlogs:
            settings = self.green.binlog_settings()
            refusal = green_binlog_refusal(
                self.green_cluster_id, settings.log_bin, settings.binlog_format, self.green_parameter_group
            )
            if refusal:
                raise ClusterStateError(refusal)
        tls = self._tls()
        with logged_step(
            log, "Binlog retention on %s set to %sh", self.blue_cluster_id, self.retention_hours
        ) as note:
            previous = self.blue.binlog_retention_hours()
            self.blue.set_binlog_retention_hours(self.retention_hours)
            note(f"was {previous}")
        with logged_step(log, "Replication user %s on %s", self.source.user, self.blue_cluster_id) as note:
            created = self.blue.ensure_replication_user(
                self.source.user, self.source.password, require_ssl=tls
            )
            note(
                "created with REPLICATION SLAVE only" if created else "reused: it has REPLICATION SLAVE only"
            )
        with logged_step(log, "Green %s made read-only", self.green_cluster_id):
            self.green_read_only.set_read_only(True)
        use_gtid = self._gtid_or_position()
        self._attach_green(use_gtid, tls)
        self._confirm_running()
        return ReplicationSummary(
            green_cluster_id=self.green_cluster_id,
            source_host=self.source.host,
            source_port=self.source.port,
            start_position=None if use_gtid else self.coordinates.position,
            start_gtid_set=self.coordinates.gtid_set if use_gtid else None,
            replication_user=self.source.user,
            binlog_retention_hours=self.retention_hours,
            previous_binlog_retention_hours=previous,
            dialect=self.green.dialect.value,
            tls=tls,
        )

    def _tls(self) -> bool:
        """Replication between clusters is encrypted wherever it can be (Aurora 3.06+ natively)."""
        if self.ssl is not None:
            return self.ssl
        return self.green.can_encrypt_replication and self.blue.offers_tls()

    def _gtid_or_position(self) -> bool:
        if self.use_gtid is not None:
            if self.use_gtid and not self.coordinates.gtid_set:
                raise InvalidInput("use_gtid", True, "false: the clone has no GTID set to start from")
            return self.use_gtid
        # File/position is exact for every clone; GTID is only used where blue runs gtid_mode=ON.
        return (
            bool(self.blue.binlog_settings().gtid_mode and self.coordinates.gtid_set)
            or self.coordinates.position is None
        )

    def _attach_green(self, use_gtid: bool, tls: bool) -> None:
        status = self.green.replica_status()
        if (
            status is not None
            and status.replicates_from(self.source.host, self.source.port)
            and status.is_running
        ):
            log.info(
                "Green %s already replicates from %s:%s (%s); leaving it as it is",
                self.green_cluster_id,
                status.source_host,
                status.source_port,
                status.summary(),
            )
            return
        start = "GTID auto-position" if use_gtid else self.coordinates.position
        with logged_step(
            log,
            "Replication on %s started from %s:%s at %s%s",
            self.green_cluster_id,
            self.source.host,
            self.source.port,
            start,
            " over TLS" if tls else " (not encrypted: blue offers no TLS, or green cannot use it)",
        ):
            if status is not None:
                self.green.stop_replication()
                self.green.reset_external_source()
            self.green.set_external_source(
                self.source.host,
                self.source.port,
                self.source.user,
                self.source.password,
                None if use_gtid else self.coordinates.position,
                gtid=use_gtid,
                ssl=tls,
            )
            self.green.start_replication()

    def _confirm_running(self) -> ReplicaStatus:
        watch = Stopwatch()
        while True:
            status = self.green.replica_status()
            if status is not None and status.error:
                raise ReplicationBroken(f"replication on {self.green_cluster_id} failed: {status.error}")
            if status is not None and status.is_running:
                log.info(
                    "Both replication threads run on %s: %s (%.2fs)",
                    self.green_cluster_id,
                    status.summary(),
                    watch.seconds,
                )
                return status
            if watch.seconds > self.start_timeout:
                raise WaitTimedOut(
                    f"replication threads on {self.green_cluster_id} not running after "
                    f"{self.start_timeout}s: {status.summary() if status else 'not configured'}"
                )
            time.sleep(0.2)
