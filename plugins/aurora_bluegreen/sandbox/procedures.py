"""Installs the RDS-compatible ``mysql.rds_*`` procedures from ``sql/rds_procedures.sql``."""

from __future__ import annotations

from importlib import resources

import pymysql

_SQL_FILE = "rds_procedures.sql"
_DELIMITER_COMMAND = "DELIMITER "


def install_rds_procedures(root: pymysql.connections.Connection) -> None:
    """Run the script as root; it turns sql_log_bin off itself, so nothing reaches the binlog."""
    script = resources.files("aurora_bluegreen.sandbox").joinpath("sql", _SQL_FILE).read_text()
    with root.cursor() as cursor:
        for statement in split_statements(script):
            cursor.execute(statement)
        cursor.execute("SET SESSION sql_log_bin = 1")


def apply_stored_configuration(root: pymysql.connections.Connection) -> None:
    """Re-apply what rds_set_configuration stored, since SET GLOBAL does not survive a restart."""
    with root.cursor() as cursor:
        cursor.execute("CALL mysql.rds_sandbox_apply_configuration()")


def split_statements(script: str) -> list[str]:
    """Split a script the way the ``mariadb`` client does, honouring DELIMITER lines.

    Blank lines and ``--`` comment lines are dropped, so comments must sit on lines of their own.
    """
    statements: list[str] = []
    delimiter = ";"
    pending: list[str] = []
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        if stripped.upper().startswith(_DELIMITER_COMMAND):
            delimiter = stripped[len(_DELIMITER_COMMAND) :].strip()
            continue
        pending.append(line)
        if stripped.endswith(delimiter):
            statement = "\n".join(pending).strip()
            statements.append(statement[: -len(delimiter)].rstrip())
            pending = []
    if pending:
        raise ValueError(f"{_SQL_FILE} ends inside a statement: {' '.join(pending)[:200]}")
    return statements
