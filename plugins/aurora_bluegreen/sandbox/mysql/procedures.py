"""Installs ``sql/rds_procedures_mysql.sql``: the ``mysql.rds_*`` procedures an Aurora version has.

The installer and the version rule are both engines' own (``sandbox.procedures``,
``sandbox.aurora``); this names the MySQL engine's file.
"""

from __future__ import annotations

from collections.abc import Collection

import pymysql

from aurora_bluegreen.sandbox import procedures
from aurora_bluegreen.sandbox.aurora import skipped_for_aurora
from aurora_bluegreen.sandbox.procedures import installed_procedures

SQL_FILE = "rds_procedures_mysql.sql"

__all__ = ["SQL_FILE", "install_rds_procedures", "installed_procedures", "skipped_for_aurora"]


def install_rds_procedures(root: pymysql.connections.Connection, skip: Collection[str] = ()) -> None:
    """Run the file as root, leaving out the procedures named in ``skip``; nothing reaches the binlog."""
    procedures.install_rds_procedures(root, SQL_FILE, skip)
