"""The sandbox's MySQL 9.7 engine: mysqld from a Debian root, playing Aurora MySQL 3 clusters.

- ``server``: running mysqld from the root built by ``sandbox.debian_root``; a cached template
  data directory; start (waiting, liveness and stop are ``sandbox.server``'s).
- ``clone``: Aurora's copy-on-write clone played by the CLONE plugin, with exact coordinates.
- ``accounts``: Aurora 3's master user (powers through ``rds_superuser_role``) and the app user.
- ``procedures``: the ``mysql.rds_*`` procedures from ``sql/rds_procedures_mysql.sql``, per
  Aurora version.
"""
