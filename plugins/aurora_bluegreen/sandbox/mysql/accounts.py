"""Aurora MySQL 3's users on MySQL: the master user, whose powers come partly through a role, and the app.

Aurora MySQL 3 gives its master user the privileges listed on AWS's "Master user account
privileges" page and the database role ``rds_superuser_role``:
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.MasterAccounts.html
(role-based privilege model:
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Compare-80-v3.html).
Here the static privileges are granted to the user directly, with GRANT OPTION, and the dynamic
ones through the role, made the user's default role so it is active at every login, as on Aurora.

What follows, and what the integration tests check:
- CONNECTION_ADMIN (through the role) lets the master user write while ``read_only`` is on: that
  is Aurora's truth, and why the application must not connect as the master user.
- Without SUPER, SYSTEM_VARIABLES_ADMIN and REPLICATION_SLAVE_ADMIN the master user can neither
  ``SET GLOBAL read_only`` nor ``CHANGE REPLICATION SOURCE``; it goes through the mysql.rds_*
  procedures, which run as root.
- root holds SYSTEM_USER, so the master user cannot alter root or create objects with root as
  their definer, even with SET_ANY_DEFINER.

The app user reads and writes the demo schema only, so ``read_only`` stops it.

Differences from Aurora 3, forced by MySQL 9.7: SET_USER_ID no longer exists (MySQL 8.2 split it
into SET_ANY_DEFINER and ALLOW_NONEXISTENT_DEFINER, both granted instead), and users get
caching_sha2_password, Aurora 3's default being mysql_native_password (a disabled plugin in 9.x).
"""

from __future__ import annotations

import pymysql

from aurora_bluegreen.sandbox.credentials import Credentials
from aurora_bluegreen.sandbox.demo_schema import SCHEMA

ROLE = "rds_superuser_role"
# The page's static privileges for version 3, in its order.
STATIC_PRIVILEGES = (
    "ALTER",
    "ALTER ROUTINE",
    "CREATE",
    "CREATE ROLE",
    "CREATE ROUTINE",
    "CREATE TEMPORARY TABLES",
    "CREATE USER",
    "CREATE VIEW",
    "DELETE",
    "DROP",
    "DROP ROLE",
    "EVENT",
    "EXECUTE",
    "INDEX",
    "INSERT",
    "LOCK TABLES",
    "PROCESS",
    "REFERENCES",
    "RELOAD",
    "REPLICATION CLIENT",
    "REPLICATION SLAVE",
    "SELECT",
    "SHOW DATABASES",
    "SHOW VIEW",
    "TRIGGER",
    "UPDATE",
)
# The page's dynamic privileges for version 3: SHOW_ROUTINE from 3.04, the FLUSH_* ones from 3.09.
DYNAMIC_PRIVILEGES = (
    "APPLICATION_PASSWORD_ADMIN",
    "CONNECTION_ADMIN",
    "ROLE_ADMIN",
    "SET_ANY_DEFINER",
    "ALLOW_NONEXISTENT_DEFINER",
    "XA_RECOVER_ADMIN",
    "SHOW_ROUTINE",
    "FLUSH_OPTIMIZER_COSTS",
    "FLUSH_STATUS",
    "FLUSH_TABLES",
    "FLUSH_USER_RESOURCES",
)
APP_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


def create_accounts(root: pymysql.connections.Connection, credentials: Credentials) -> None:
    """Create the role and both users on a fresh server, outside the binlog (clones copy them)."""
    admin, app = credentials.admin_user, credentials.app_user
    with root.cursor() as cursor:
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute("CREATE ROLE %s@'%%'", (ROLE,))
        cursor.execute(f"GRANT {', '.join(DYNAMIC_PRIVILEGES)} ON *.* TO %s@'%%'", (ROLE,))
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (admin, credentials.admin_password))
        cursor.execute(f"GRANT {', '.join(STATIC_PRIVILEGES)} ON *.* TO %s@'%%' WITH GRANT OPTION", (admin,))
        cursor.execute("GRANT %s@'%%' TO %s@'%%'", (ROLE, admin))
        cursor.execute("ALTER USER %s@'%%' DEFAULT ROLE %s@'%%'", (admin, ROLE))
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (app, credentials.app_password))
        cursor.execute(f"GRANT {', '.join(APP_PRIVILEGES)} ON `{SCHEMA}`.* TO %s@'%%'", (app,))
        cursor.execute("SET SESSION sql_log_bin = 1")
