"""Installs the ``mysql.rds_*`` procedures an Aurora version has, from either engine's SQL file.

``sql/rds_procedures.sql`` (MariaDB) and ``sql/rds_procedures_mysql.sql`` (MySQL) follow one
layout: every procedure is dropped, then created, and public procedures call only the
``rds_sandbox_*`` helpers, never each other. So a procedure the emulated Aurora version lacks
(``aurora.skipped_for_aurora``) can be left out alone: the installer runs every ``DROP
PROCEDURE`` and leaves out the ``CREATE`` of each skipped one, and installing again with a smaller
set removes what the new version lacks. Code that calls a missing procedure then fails in the
sandbox as it would on Aurora.

Also here: what the sandbox runs on a server after each start (``after_start``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from importlib import resources

import pymysql

from aurora_bluegreen.errors import SandboxError
from aurora_bluegreen.sandbox.aurora import skipped_for_aurora

MARIADB_SQL_FILE = "rds_procedures.sql"
_SP_DOES_NOT_EXIST = 1305
_DELIMITER_COMMAND = "DELIMITER "
_PROCEDURE = re.compile(
    r"^(?P<verb>DROP|CREATE)\b.*?\bPROCEDURE\s+(?:IF\s+EXISTS\s+)?mysql\.(?P<name>\w+)",
    re.IGNORECASE | re.DOTALL,
)


def install_rds_procedures(
    root: pymysql.connections.Connection, sql_file: str = MARIADB_SQL_FILE, skip: Collection[str] = ()
) -> None:
    """Run ``sql_file`` as root, leaving out the procedures named in ``skip``; nothing reaches the binlog."""
    statements = split_statements(
        resources.files("aurora_bluegreen.sandbox").joinpath("sql", sql_file).read_text(), sql_file
    )
    names = {match.group("name") for match in map(_PROCEDURE.match, statements) if match}
    unknown = set(skip) - names
    if unknown:
        raise ValueError(f"{sql_file} has no procedure {', '.join(sorted(unknown))}")
    with root.cursor() as cursor:
        for statement in statements:
            match = _PROCEDURE.match(statement)
            if match and match.group("verb").upper() == "CREATE" and match.group("name") in skip:
                continue
            cursor.execute(statement)
        # The file ends by turning the binlog back on; this holds even if it is cut short one day.
        cursor.execute("SET SESSION sql_log_bin = 1")


def install_for_aurora(root: pymysql.connections.Connection, sql_file: str, aurora_version: str) -> None:
    """The procedures Aurora MySQL ``aurora_version`` has, and no other."""
    install_rds_procedures(root, sql_file, skipped_for_aurora(aurora_version))


def installed_procedures(root: pymysql.connections.Connection) -> set[str]:
    with root.cursor() as cursor:
        cursor.execute(
            "SELECT ROUTINE_NAME FROM information_schema.ROUTINES "
            "WHERE ROUTINE_SCHEMA = 'mysql' AND ROUTINE_TYPE = 'PROCEDURE' AND ROUTINE_NAME LIKE 'rds\\_%'"
        )
        return {name for (name,) in cursor.fetchall()}


def apply_stored_configuration(root: pymysql.connections.Connection) -> None:
    """Re-apply what rds_set_configuration stored, since SET GLOBAL does not survive a restart."""
    with root.cursor() as cursor:
        cursor.execute("CALL mysql.rds_sandbox_apply_configuration()")


def after_start(root: pymysql.connections.Connection) -> None:
    """What Aurora does when an instance comes up: stored configuration again, replication resumed.

    AWS says a reboot "restarts binlog replication"
    (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Replication.MySQL.SettingUp.html)
    and Aurora's skip-slave-start cannot be changed; it does not say what becomes of a replication
    stopped on purpose. Here replication resumes only where the rds procedures left it running
    (``rds_start_replication`` with no ``rds_stop_replication`` or reset after it), so a stopped
    one stays stopped; see ``rds_sandbox_resume_replication``. The servers keep
    --skip-replica-start, so nothing starts before the sandbox has applied the configuration.
    """
    try:
        apply_stored_configuration(root)
        with root.cursor() as cursor:
            cursor.execute("CALL mysql.rds_sandbox_resume_replication()")
    except pymysql.err.OperationalError as error:
        if error.args[0] != _SP_DOES_NOT_EXIST:
            raise
        raise SandboxError(
            "a sandbox server lacks the procedures this aurora-bluegreen needs after a start "
            f"({error.args[1]}): its sandbox was made by an older version. Remove it with "
            "`aurora-bluegreen sandbox down` and make it again with `sandbox up`"
        ) from error


def forget_replication(root: pymysql.connections.Connection) -> None:
    """A new clone does not take over its source's replication, even if it copied its settings."""
    with root.cursor() as cursor:
        cursor.execute("CALL mysql.rds_sandbox_note_replication(0)")


def split_statements(script: str, name: str = MARIADB_SQL_FILE) -> list[str]:
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
        raise ValueError(f"{name} ends inside a statement: {' '.join(pending)[:200]}")
    return statements
