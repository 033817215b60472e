"""The load generator: plays the application during a deployment and keeps the receipts.

It inserts orders at a steady rate through whatever the endpoint file names, as an application
resolving a DNS name would. Every id the server acknowledged goes to an append-only file, so
"no acknowledged write was lost" can be checked afterwards with ``missing_writes``. On any error
it re-reads the endpoint, reconnects if needed and retries the same id; a duplicate-key error on a
retry proves the earlier attempt committed, so that id counts as acknowledged.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import pymysql
from pymysql.constants import ER

from aurora_bluegreen.errors import LoadError
from aurora_bluegreen.sandbox.connect import user_connection
from aurora_bluegreen.sandbox.credentials import load_credentials
from aurora_bluegreen.sandbox.demo_schema import INSERT_ORDER, ORDERS_TABLE, order_row
from aurora_bluegreen.sandbox.endpoints import Endpoint, endpoint_file, read_endpoint
from aurora_bluegreen.sandbox.state import StateStore

log = logging.getLogger(__name__)

# How long a resolved endpoint is trusted, like a DNS TTL; a repoint is followed within this.
ENDPOINT_TTL_SECONDS = 0.05
# Seconds between flushes of the acknowledged-ids file.
FLUSH_INTERVAL_SECONDS = 0.1
# Retry back-off bounds: short at first, because the freeze being measured lasts milliseconds.
FIRST_RETRY_DELAY_SECONDS = 0.0005
MAX_RETRY_DELAY_SECONDS = 0.05
# After a stall, catch up at most this much of the schedule at once instead of bursting.
MAX_CATCH_UP_SECONDS = 0.1
_CHECK_BATCH = 1000


@dataclass
class LoadCounters:
    attempted: int = 0  # distinct ids tried
    acknowledged: int = 0  # ids the server confirmed (recorded in the acked-ids file)
    errors: int = 0  # failed statements and failed connects
    reconnects: int = 0  # successful connects after the first
    duplicates_on_retry: int = 0  # retries that found the earlier attempt had committed
    max_ack_gap_ms: float = 0.0  # longest time between two consecutive acks: the write freeze
    max_ack_gap_ended_at: str | None = None
    errors_by_code: dict[str, int] = field(default_factory=dict)
    clusters_seen: list[str] = field(default_factory=list)  # endpoint targets, in order


@dataclass(frozen=True)
class LoadSummary:
    run_id: str
    endpoint_file: str
    acked_ids_file: str
    target_rate: float
    started_at: str
    stopped_at: str
    duration_s: float
    achieved_rate: float
    counters: LoadCounters

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class LoadGenerator:
    """One connection inserting into ``shop.orders`` at ``rate`` per second (0 = as fast as it can).

    Use ``run()`` to block, or ``start()`` / ``stop()`` to run it in a thread.
    """

    def __init__(
        self,
        endpoint_path: Path,
        user: str,
        password: str,
        acked_ids_file: Path,
        rate: float,
        summary_file: Path | None = None,
        run_id: str | None = None,
    ) -> None:
        if rate < 0:
            raise ValueError(f"rate must be 0 (unthrottled) or positive, not {rate}")
        self.endpoint_path = Path(endpoint_path)
        self.acked_ids_file = Path(acked_ids_file)
        self.summary_file = summary_file or self.acked_ids_file.with_suffix(".summary.json")
        self.rate = rate
        self.run_id = run_id or new_run_id()
        self._user = user
        self._password = password
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counters = LoadCounters()
        self._summary: LoadSummary | None = None
        self._connection: pymysql.connections.Connection | None = None
        self._endpoint: Endpoint | None = None
        self._endpoint_read_at = float("-inf")
        self._last_ack_at: float | None = None
        self._connected_before = False
        self._failure: Exception | None = None

    @classmethod
    def in_sandbox(
        cls, state_dir: Path, endpoint: str, rate: float, run_id: str | None = None
    ) -> LoadGenerator:
        """A generator for a sandbox: app user, ``<state_dir>/load/<run_id>.acked``."""
        store = StateStore(state_dir)
        credentials = load_credentials(store.credentials_file)
        if credentials is None:
            raise LoadError(f"no sandbox credentials in {state_dir}: run `aurora-bluegreen sandbox up`")
        run_id = run_id or new_run_id()
        return cls(
            endpoint_path=endpoint_file(state_dir, endpoint),
            user=credentials.app_user,
            password=credentials.app_password,
            acked_ids_file=store.load_dir / f"{run_id}.acked",
            rate=rate,
            run_id=run_id,
        )

    # -- control ----------------------------------------------------------------------------------

    def start(self, duration: float | None = None) -> None:
        if self._thread is not None:
            raise LoadError("this load generator was started already")
        self._thread = threading.Thread(
            target=self._run_in_thread, args=(duration,), name=f"load-{self.run_id}"
        )
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the run to end after the write in flight; safe to call from a signal handler."""
        self._stop.set()

    def stop(self, timeout: float = 30) -> LoadSummary:
        self.request_stop()
        summary = self.join(timeout)
        if summary is None:
            raise LoadError(f"load run {self.run_id} did not stop within {timeout}s")
        return summary

    def join(self, timeout: float | None = None) -> LoadSummary | None:
        """Wait for a ``start()``-ed run; its summary once it has ended, else None.

        Raises LoadError if the run ended because of an error.
        """
        if self._thread is None:
            raise LoadError("this load generator was not started")
        self._thread.join(timeout)
        if self._thread.is_alive():
            return None
        if self._failure is not None:
            raise LoadError(f"load run {self.run_id} failed: {self._failure}") from self._failure
        return self._summary

    def counters(self) -> LoadCounters:
        """A consistent-enough copy of the live counters, for progress output."""
        return replace(
            self._counters,
            errors_by_code=dict(self._counters.errors_by_code),
            clusters_seen=list(self._counters.clusters_seen),
        )

    # -- the run ----------------------------------------------------------------------------------

    def run(self, duration: float | None = None) -> LoadSummary:
        """Write until ``duration`` seconds pass or a stop is requested; write the summary file."""
        started_at = datetime.now(timezone.utc)
        started = time.monotonic()
        deadline = started + duration if duration is not None else float("inf")
        self.acked_ids_file.parent.mkdir(parents=True, exist_ok=True)
        log.info("Load run %s: %s/s through %s", self.run_id, self.rate or "max", self.endpoint_path)
        try:
            with open(self.acked_ids_file, "a", encoding="utf-8") as acked:
                self._write_until(deadline, acked)
        finally:
            self._disconnect()
            elapsed = time.monotonic() - started
            self._summary = LoadSummary(
                run_id=self.run_id,
                endpoint_file=str(self.endpoint_path),
                acked_ids_file=str(self.acked_ids_file),
                target_rate=self.rate,
                started_at=started_at.isoformat(timespec="milliseconds"),
                stopped_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                duration_s=round(elapsed, 3),
                achieved_rate=round(self._counters.acknowledged / elapsed, 1) if elapsed else 0.0,
                counters=self.counters(),
            )
            self.summary_file.parent.mkdir(parents=True, exist_ok=True)
            self.summary_file.write_text(json.dumps(self._summary.to_dict(), indent=2) + "\n")
        return self._summary

    def _run_in_thread(self, duration: float | None) -> None:
        try:
            self.run(duration)
        except Exception as error:
            self._failure = error

    def _write_until(self, deadline: float, acked: TextIO) -> None:
        interval = 1 / self.rate if self.rate else 0.0
        next_at = time.monotonic()
        flushed_at = next_at
        sequence = 0
        while not self._stop.is_set():
            now = time.monotonic()
            if now >= deadline:
                break
            if interval:
                next_at = max(next_at + interval, now - MAX_CATCH_UP_SECONDS)
                if next_at > now:
                    time.sleep(next_at - now)
            request_id = f"{self.run_id}-{sequence}"
            self._counters.attempted += 1
            if not self._insert_until_acknowledged(request_id, sequence):
                break
            self._note_ack()
            acked.write(request_id + "\n")
            if self._last_ack_at - flushed_at >= FLUSH_INTERVAL_SECONDS:
                acked.flush()
                flushed_at = self._last_ack_at
            sequence += 1

    def _insert_until_acknowledged(self, request_id: str, sequence: int) -> bool:
        """Insert one order, retrying through errors; False if a stop came before an ack."""
        failed_before = False
        delay = FIRST_RETRY_DELAY_SECONDS
        while not self._stop.is_set():
            try:
                with self._current_connection().cursor() as cursor:
                    cursor.execute(INSERT_ORDER, order_row(request_id, sequence))
                return True
            except pymysql.err.IntegrityError as error:
                if failed_before and error.args[0] == ER.DUP_ENTRY:
                    self._counters.duplicates_on_retry += 1
                    return True
                raise LoadError(f"insert of {request_id} failed: {error}") from error
            except pymysql.err.MySQLError as error:
                failed_before = True
                self._note_error(error)
                if self._connection is not None and not self._connection.open:
                    self._disconnect()
                self._endpoint_read_at = float("-inf")  # re-read the endpoint before the retry
                time.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_DELAY_SECONDS)
        return False

    def _current_connection(self) -> pymysql.connections.Connection:
        now = time.monotonic()
        if now - self._endpoint_read_at >= ENDPOINT_TTL_SECONDS:
            self._endpoint_read_at = now
            endpoint = read_endpoint(self.endpoint_path)
            if endpoint is None:
                raise LoadError(f"endpoint file {self.endpoint_path} is missing")
            if endpoint != self._endpoint:
                if self._endpoint is not None:
                    log.info("Endpoint moved from %s to %s", self._endpoint, endpoint)
                self._endpoint = endpoint
                self._counters.clusters_seen.append(endpoint.cluster_id)
                self._disconnect()
        if self._connection is None:
            self._connection = user_connection(
                self._endpoint.host,
                self._endpoint.port,
                self._user,
                self._password,
                connect_timeout=2,
                read_timeout=10,
            )
            if self._connected_before:
                self._counters.reconnects += 1
            self._connected_before = True
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()  # pymysql's close() swallows errors on a dead socket
            self._connection = None

    def _note_ack(self) -> None:
        now = time.monotonic()
        if self._last_ack_at is not None:
            gap_ms = (now - self._last_ack_at) * 1000
            if gap_ms > self._counters.max_ack_gap_ms:
                self._counters.max_ack_gap_ms = round(gap_ms, 3)
                self._counters.max_ack_gap_ended_at = datetime.now(timezone.utc).isoformat(
                    timespec="milliseconds"
                )
        self._last_ack_at = now
        self._counters.acknowledged += 1

    def _note_error(self, error: Exception) -> None:
        code = str(error.args[0]) if error.args and isinstance(error.args[0], int) else type(error).__name__
        self._counters.errors += 1
        self._counters.errors_by_code[code] = self._counters.errors_by_code.get(code, 0) + 1


def new_run_id() -> str:
    return f"{time.strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(3)}"


def read_acked_ids(acked_ids_file: Path) -> list[str]:
    """The ids in the file; a last line without its newline was cut off by a crash and is skipped."""
    text = Path(acked_ids_file).read_text(encoding="utf-8")
    return text.splitlines()[: text.count("\n")]


def missing_writes(acked_ids_file: Path, connection: pymysql.connections.Connection) -> list[str]:
    """Acknowledged ids that are not in ``shop.orders`` on the server behind ``connection``."""
    missing = []
    with connection.cursor() as cursor:
        for batch in _batches(read_acked_ids(acked_ids_file), _CHECK_BATCH):
            placeholders = ", ".join(["%s"] * len(batch))
            cursor.execute(
                f"SELECT request_id FROM {ORDERS_TABLE} WHERE request_id IN ({placeholders})", batch
            )
            found = {row[0] for row in cursor.fetchall()}
            missing.extend(request_id for request_id in batch if request_id not in found)
    return missing


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
