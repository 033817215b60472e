"""How statements run on a cluster, safely: one connection, errors without secrets, logs held on demand.

Secrets: ``DbApiHook.run`` logs statements with their parameters, so nothing here uses it. Every
statement runs on the hook's own cursor, log lines are written by hand, and an error raised by a
statement that carried a password is re-raised without it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from airflow.providers.mysql.hooks.mysql import MySqlHook

from aurora_bluegreen.dialects import Statement
from aurora_bluegreen.errors import ClusterUnreachable, StatementFailed

_CONNECTION_LOST = {2006, 2013}


class SqlSession(MySqlHook):
    """The plumbing ``ClusterSqlHook`` runs its statements on; see the module's docstring."""

    _server_connection: Any = None
    _held_logs: list | None = None
    cluster_label: str | None = None
    """The cluster's role and id (``green green-1``), for every error and log line."""

    @property
    def endpoint(self) -> str:
        return f"{self.connection.host}:{self.connection.port or 3306}"

    @property
    def where(self) -> str:
        """What a person needs to find the server: role, cluster and endpoint."""
        return f"{self.cluster_label} at {self.endpoint}" if self.cluster_label else self.endpoint

    def close(self) -> None:
        if self._server_connection is not None:
            self._server_connection.close()
            self._server_connection = None

    def _db(self) -> Any:
        """One connection per hook, so a cutover pays for connecting only once."""
        if self._server_connection is None:
            try:
                connection = self.get_conn()
            except Exception as error:
                errno, message = _code_and_text(error)
                raise ClusterUnreachable(f"cannot connect to {self.where}: ({errno}) {message}") from None
            self.set_autocommit(connection, True)
            self._server_connection = connection
        return self._server_connection

    def _rows(self, statement: Statement, *, secret: str | None = None) -> list[dict[str, Any]]:
        """Run one statement; return its first result set as dicts keyed by column name."""
        columns, rows = self._result(statement, secret=secret)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def _result(
        self, statement: Statement, *, secret: str | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement; return its first result set's column names and rows as tuples."""
        cursor = self._db().cursor()
        try:
            cursor.execute(statement.sql, statement.params or None)
            columns = [column[0] for column in cursor.description or ()]
            rows = [tuple(row) for row in cursor.fetchall()] if columns else []
        except Exception as error:
            failure = self._failure(statement, error, secret)
        else:
            return columns, rows
        finally:
            cursor.close()
        # Raised outside the except block so the driver's error, which may quote the secret, is not
        # attached as its context.
        raise failure

    def _run(self, statement: Statement, *, secret: str | None = None) -> None:
        self._rows(statement, secret=secret)

    def _first_row(self, statement: Statement) -> tuple[Any, ...]:
        rows = self._rows(statement)
        if not rows:
            raise StatementFailed(f"{self.where}: {statement.sql} returned no row", None)
        return tuple(rows[0].values())

    def _failure(self, statement: Statement, error: Exception, secret: str | None) -> StatementFailed:
        errno, message = _code_and_text(error)
        if errno in _CONNECTION_LOST:
            self.close()
        if secret:
            message = redact(message, secret)
        return StatementFailed(
            f"{self.where}: {statement.sql} failed: ({errno}) {message}", errno, f"({errno}) {message}"
        )

    @contextmanager
    def _logged(self, what: str) -> Iterator[None]:
        """Log one line for a change that succeeded: what, where and how long it took."""
        started = time.monotonic()
        yield
        line = ("%s on %s in %.1f ms", (what, self.where, (time.monotonic() - started) * 1000))
        if self._held_logs is None:
            self.log.info(line[0], *line[1])
        else:
            self._held_logs.append((self.log, *line))

    @contextmanager
    def logs_held(self, into: list) -> Iterator[None]:
        """Collect this hook's log lines in ``into`` instead of writing them, for a time-critical section."""
        self._held_logs = into
        try:
            yield
        finally:
            self._held_logs = None


def _code_and_text(error: Exception) -> tuple[int | None, str]:
    """The driver's error as (errno, text); errno None for an error that is not the server's."""
    if len(error.args) == 2 and isinstance(error.args[0], int):
        return error.args[0], str(error.args[1])
    return None, str(error)


def redact(message: str, secret: str) -> str:
    """``message`` without ``secret``, as sent (escaped) or as the server read it.

    After a syntax error the server quotes up to 80 characters of the statement, which can cut a
    secret anywhere, so that quotation is dropped whole.
    """
    message = re.sub(r"near '.*' at line \d+", "near <statement withheld> at line ?", message, flags=re.S)
    for form in {secret, secret.translate(_MYSQL_ESCAPES)}:
        message = message.replace(form, "***")
    return message


# What mysql_real_escape_string does to a string literal.
_MYSQL_ESCAPES = str.maketrans(
    {"\\": "\\\\", "'": "\\'", '"': '\\"', "\0": "\\0", "\n": "\\n", "\r": "\\r", "\x1a": "\\Z"}
)
