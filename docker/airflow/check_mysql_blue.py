#!/usr/bin/env python
"""Run the provider's Aurora MySQL 3 SQL against the Compose file's MySQL 8.0 "mysql-blue".

    docker compose exec airflow-worker python /opt/aurora-bluegreen/docker/check_mysql_blue.py

It uses the ``ClusterSqlHook`` the operators use, through the connection ``mysql_blue_admin``
(the master user), and prints what it finds: the detected dialect, binlog and GTID settings,
the current binlog position, binlog retention. It then changes and restores what a deployment
changes on blue: binlog retention, read_only (through ``mysql.rds_set_read_only``) and a
replication user with REPLICATION SLAVE only. It exits 1 on the first step that fails.
"""

from __future__ import annotations

import secrets
import sys

CONN_ID = sys.argv[1] if len(sys.argv) > 1 else "mysql_blue_admin"


def main() -> int:
    from aurora_bluegreen.hooks.cluster_sql import ClusterSqlHook

    hook = ClusterSqlHook(CONN_ID)
    print(f"server:            {hook.server_version}")
    print(f"dialect:           {hook.dialect.value} (expected aurora3: the mysql.rds_* procedures exist)")
    settings = hook.binlog_settings()
    print(f"binlog:            log_bin={settings.log_bin} format={settings.binlog_format}")
    print(f"gtid_mode:         {'ON' if settings.gtid_mode else 'OFF'}")
    print(f"binlog position:   {hook.source_position()}")
    print(f"executed GTIDs:    {hook.executed_gtid_set()}")
    retention = hook.binlog_retention_hours()
    print(f"binlog retention:  {retention} h")

    hook.set_binlog_retention_hours(24)
    assert hook.binlog_retention_hours() == 24, "rds_set_configuration did not store 24 h"
    hook.set_binlog_retention_hours(retention)
    print("retention:         set to 24 h and restored through mysql.rds_set_configuration")

    was_read_only = hook.read_only()
    hook.set_read_only(True)
    hook.set_read_only(was_read_only)
    print("read_only:         switched on and back through mysql.rds_set_read_only (verified)")

    user = "repl_check"
    created = hook.ensure_replication_user(user, secrets.token_urlsafe(12))
    print(f"replication user:  {user} {'created' if created else 'existed'} with REPLICATION SLAVE only")
    hook.drop_replication_user(user)
    print(f"replication user:  {user} dropped")
    print(f"replica status:    {hook.replica_status() or 'not a replica (as expected for blue)'}")
    print(f"OK: the {hook.dialect.value} SQL path works on {hook.server_version}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:
        print(f"FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
