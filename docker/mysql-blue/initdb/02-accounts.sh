#!/usr/bin/env bash
# Users of the Compose file's "mysql-blue", created once on first start by the mysql image's
# entrypoint. It sources this file because the file is not executable (keep it so), which gives
# it docker_process_sql (runs SQL as root) and lets a failure here stop the first start.
#
#   admin  plays Aurora MySQL 3's master user: broad rights directly, and the role
#          rds_superuser_role (its default role) with the dynamic ones, CONNECTION_ADMIN among
#          them, which writes through read_only, as on Aurora 3 (UsingWithRDS.MasterAccounts in
#          AWS's Aurora guide). No SUPER, SYSTEM_VARIABLES_ADMIN or REPLICATION_SLAVE_ADMIN:
#          replication and read_only go through the mysql.rds_* procedures.
#   app    plays the application: reads and writes the shop schema only.
#
# Passwords come from the environment (docker-compose.yaml); mysql_native_password is what
# Aurora MySQL 3 gives new users, and it needs no TLS or RSA key exchange from clients.
: "${MYSQL_BLUE_ADMIN_PASSWORD:?set MYSQL_BLUE_ADMIN_PASSWORD}"
: "${MYSQL_BLUE_APP_PASSWORD:?set MYSQL_BLUE_APP_PASSWORD}"

blue_sql_string() {
    # A single-quoted SQL string literal; quotes and backslashes are escaped.
    local value=${1//\\/\\\\}
    printf "'%s'" "${value//\'/\\\'}"
}

docker_process_sql <<SQL
SET SESSION sql_log_bin = 0;
CREATE USER 'admin'@'%' IDENTIFIED WITH mysql_native_password BY $(blue_sql_string "$MYSQL_BLUE_ADMIN_PASSWORD");
GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, RELOAD, PROCESS, REFERENCES, INDEX, ALTER,
      SHOW DATABASES, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, REPLICATION SLAVE,
      REPLICATION CLIENT, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, CREATE USER,
      EVENT, TRIGGER
   ON *.* TO 'admin'@'%' WITH GRANT OPTION;
CREATE ROLE 'rds_superuser_role'@'%';
GRANT APPLICATION_PASSWORD_ADMIN, CONNECTION_ADMIN, ROLE_ADMIN, SET_USER_ID, XA_RECOVER_ADMIN
   ON *.* TO 'rds_superuser_role'@'%';
GRANT 'rds_superuser_role'@'%' TO 'admin'@'%';
ALTER USER 'admin'@'%' DEFAULT ROLE 'rds_superuser_role'@'%';
CREATE DATABASE IF NOT EXISTS shop CHARACTER SET utf8mb4;
CREATE USER 'app'@'%' IDENTIFIED WITH mysql_native_password BY $(blue_sql_string "$MYSQL_BLUE_APP_PASSWORD");
GRANT SELECT, INSERT, UPDATE, DELETE ON shop.* TO 'app'@'%';
SET SESSION sql_log_bin = 1;
SQL
