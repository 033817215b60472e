"""Aurora MySQL 3's users on MariaDB: the master user, who bypasses read_only through a role, and the app.

Aurora MySQL 3 grants its master user the role ``rds_superuser_role``, which carries
CONNECTION_ADMIN, and "In Aurora MySQL version 3, this parameter [read_only] doesn't apply for
users who have the CONNECTION_ADMIN privilege. This includes the Aurora master user."
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Reference.ParameterGroups.html,
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.MasterAccounts.html).
MariaDB's privilege with that effect is READ_ONLY ADMIN, so here the role carries it, granted as
the master user's default role: the master user writes through read_only exactly as on Aurora 3,
and only through its role. The application's user has DML only, so read_only stops it.
"""

from __future__ import annotations

import pymysql

from aurora_bluegreen.sandbox.credentials import Credentials
from aurora_bluegreen.sandbox.demo_schema import SCHEMA

ROLE = "rds_superuser_role"
# What Aurora MySQL gives its master user directly; no SUPER, so replication control and the
# read_only switch go through the mysql.rds_* procedures.
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
# Through the role only, as CONNECTION_ADMIN on Aurora 3: the power to write while read_only is on.
ROLE_PRIVILEGES = ("READ_ONLY ADMIN",)
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
        cursor.execute(f"CREATE ROLE {ROLE}")
        cursor.execute(f"GRANT {', '.join(ROLE_PRIVILEGES)} ON *.* TO {ROLE}")
        cursor.execute(f"GRANT {ROLE} TO %s@'%%'", (credentials.admin_user,))
        cursor.execute(f"SET DEFAULT ROLE {ROLE} FOR %s@'%%'", (credentials.admin_user,))
        cursor.execute(
            "CREATE USER %s@'%%' IDENTIFIED BY %s", (credentials.app_user, credentials.app_password)
        )
        cursor.execute(
            f"GRANT {', '.join(APP_PRIVILEGES)} ON `{SCHEMA}`.* TO %s@'%%'", (credentials.app_user,)
        )
        cursor.execute("SET SESSION sql_log_bin = 1")
