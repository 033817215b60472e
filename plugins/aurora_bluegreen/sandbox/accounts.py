"""The users every sandbox cluster carries: Aurora's master user and the application's user."""

from __future__ import annotations

import pymysql

from aurora_bluegreen.sandbox.credentials import Credentials
from aurora_bluegreen.sandbox.demo_schema import SCHEMA

# What Aurora MySQL gives its master user, minus what MariaDB would let bypass read_only (SUPER,
# READ_ONLY ADMIN, ALL PRIVILEGES). Replication control goes through the mysql.rds_* procedures.
ADMIN_PRIVILEGES = (
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "CREATE",
    "DROP",
    "RELOAD",
    "PROCESS",
    "REFERENCES",
    "INDEX",
    "ALTER",
    "SHOW DATABASES",
    "CREATE TEMPORARY TABLES",
    "LOCK TABLES",
    "EXECUTE",
    "REPLICATION SLAVE",
    "BINLOG MONITOR",
    "SLAVE MONITOR",
    "CREATE VIEW",
    "SHOW VIEW",
    "CREATE ROUTINE",
    "ALTER ROUTINE",
    "CREATE USER",
    "EVENT",
    "TRIGGER",
)
APP_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def create_accounts(root: pymysql.connections.Connection, credentials: Credentials) -> None:
    """Create both users on a fresh server, outside the binlog (clones copy them with the data)."""
    with root.cursor() as cursor:
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute(
            "CREATE USER %s@'%%' IDENTIFIED BY %s", (credentials.admin_user, credentials.admin_password)
        )
        cursor.execute(
            f"GRANT {', '.join(ADMIN_PRIVILEGES)} ON *.* TO %s@'%%' WITH GRANT OPTION",
            (credentials.admin_user,),
        )
        cursor.execute(
            "CREATE USER %s@'%%' IDENTIFIED BY %s", (credentials.app_user, credentials.app_password)
        )
        cursor.execute(
            f"GRANT {', '.join(APP_PRIVILEGES)} ON `{SCHEMA}`.* TO %s@'%%'", (credentials.app_user,)
        )
        cursor.execute("SET SESSION sql_log_bin = 1")
