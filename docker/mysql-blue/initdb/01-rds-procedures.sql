-- Aurora MySQL's mysql.rds_* procedures, written for MySQL 8.0, for the Compose file's "mysql-blue".
--
-- The same procedures, with the same names and parameters, as the sandbox's MariaDB version
-- (plugins/aurora_bluegreen/sandbox/sql/rds_procedures.sql); tests/unit/test_docker_compose.py
-- keeps the two in step. MySQL 8 differs from MariaDB here: no CREATE OR REPLACE PROCEDURE (DROP
-- first), no EXECUTE IMMEDIATE (PREPARE from a user variable), replication statements say
-- REPLICA and SOURCE, and with gtid_mode=ON one event cannot be skipped by a counter.
--
-- The master user ("admin") has no SUPER, SYSTEM_VARIABLES_ADMIN or REPLICATION_SLAVE_ADMIN, so
-- each procedure runs as its definer, root@localhost. Nothing here reaches the binary log: a
-- replica must never receive these objects. The official mysql image runs this file as root
-- through the mysql client on first start (docker-entrypoint-initdb.d).

SET SESSION sql_log_bin = 0;

CREATE TABLE IF NOT EXISTS mysql.rds_configuration (
    name VARCHAR(100) NOT NULL PRIMARY KEY,
    value VARCHAR(100) NULL,
    description VARCHAR(300) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

INSERT IGNORE INTO mysql.rds_configuration (name, value, description) VALUES (
    'binlog retention hours',
    NULL,
    'binlog retention hours specifies the duration in hours before binary logs are automatically deleted.'
);

DELIMITER $$

-- Turns the stored configuration into server settings; called after every change. SET PERSIST
-- keeps the setting across restarts, as Aurora keeps it. NULL retention keeps binlogs until they
-- are purged by hand (Aurora purges them as soon as it can).
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_apply_configuration$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_apply_configuration()
SQL SECURITY DEFINER
BEGIN
    SET PERSIST binlog_expire_logs_seconds = COALESCE(
        (SELECT CAST(value AS UNSIGNED) * 3600 FROM mysql.rds_configuration
         WHERE name = 'binlog retention hours'),
        0);
END$$

-- The one place a CHANGE REPLICATION SOURCE statement is built. Every value is QUOTE()d, so a
-- password or file name can hold any character; the statement text is cleared from the session
-- variable right after use. A NULL binlog_file means GTID auto-position.
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_change_source$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_change_source(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_file VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_pos BIGINT UNSIGNED,
    IN ssl_encryption INT)
SQL SECURITY DEFINER
BEGIN
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        SET @rds_change_source = NULL;
        RESIGNAL;
    END;
    IF host IS NULL OR port IS NULL OR user_name IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'host, port and user must not be NULL';
    END IF;
    IF binlog_file IS NOT NULL AND binlog_pos IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'binlog_pos must not be NULL';
    END IF;
    SET @rds_change_source = CONCAT(
        'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ', QUOTE(host),
        ', SOURCE_PORT = ', port,
        ', SOURCE_USER = ', QUOTE(user_name),
        ', SOURCE_PASSWORD = ', QUOTE(COALESCE(password, '')),
        ', SOURCE_SSL = ', IF(COALESCE(ssl_encryption, 0) = 0, '0', '1'),
        ', SOURCE_CONNECT_RETRY = 1, GET_SOURCE_PUBLIC_KEY = 1',
        IF(binlog_file IS NULL,
           ', SOURCE_AUTO_POSITION = 1',
           CONCAT(', SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = ', QUOTE(binlog_file),
                  ', SOURCE_LOG_POS = ', binlog_pos)));
    PREPARE rds_change_source FROM @rds_change_source;
    SET @rds_change_source = NULL;
    EXECUTE rds_change_source;
    DEALLOCATE PREPARE rds_change_source;
END$$

DROP PROCEDURE IF EXISTS mysql.rds_set_external_source$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_external_source(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_file VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_pos BIGINT UNSIGNED,
    IN ssl_encryption INT)
SQL SECURITY DEFINER
BEGIN
    IF binlog_file IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'binlog_file must not be NULL';
    END IF;
    CALL mysql.rds_sandbox_change_source(
        host, port, user_name, password, binlog_file, binlog_pos, ssl_encryption);
END$$

DROP PROCEDURE IF EXISTS mysql.rds_set_external_master$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_external_master(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_file VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_pos BIGINT UNSIGNED,
    IN ssl_encryption INT)
SQL SECURITY DEFINER
CALL mysql.rds_set_external_source(
    host, port, user_name, password, binlog_file, binlog_pos, ssl_encryption)$$

DROP PROCEDURE IF EXISTS mysql.rds_set_external_source_with_auto_position$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_external_source_with_auto_position(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN ssl_encryption INT)
SQL SECURITY DEFINER
CALL mysql.rds_sandbox_change_source(host, port, user_name, password, NULL, NULL, ssl_encryption)$$

DROP PROCEDURE IF EXISTS mysql.rds_set_external_master_with_auto_position$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_external_master_with_auto_position(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN ssl_encryption INT)
SQL SECURITY DEFINER
CALL mysql.rds_set_external_source_with_auto_position(host, port, user_name, password, ssl_encryption)$$

DROP PROCEDURE IF EXISTS mysql.rds_reset_external_source$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_reset_external_source()
SQL SECURITY DEFINER
BEGIN
    STOP REPLICA;
    RESET REPLICA ALL;
END$$

DROP PROCEDURE IF EXISTS mysql.rds_reset_external_master$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_reset_external_master()
SQL SECURITY DEFINER
CALL mysql.rds_reset_external_source()$$

DROP PROCEDURE IF EXISTS mysql.rds_start_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_start_replication()
SQL SECURITY DEFINER
START REPLICA$$

DROP PROCEDURE IF EXISTS mysql.rds_stop_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_stop_replication()
SQL SECURITY DEFINER
STOP REPLICA$$

-- Skips one event only when the applier has stopped on an error: setting the skip counter on a
-- healthy replica would silently drop the next good event. With gtid_mode=ON MySQL refuses the
-- counter; RDS answers that case with mysql.rds_skip_transaction_with_gtid, which is not here.
DROP PROCEDURE IF EXISTS mysql.rds_skip_repl_error$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_skip_repl_error()
SQL SECURITY DEFINER
BEGIN
    DECLARE applier_state VARCHAR(16) DEFAULT NULL;
    DECLARE failed_errno INT DEFAULT NULL;
    SELECT SERVICE_STATE INTO applier_state
      FROM performance_schema.replication_applier_status
     WHERE CHANNEL_NAME = '';
    SELECT MAX(LAST_ERROR_NUMBER) INTO failed_errno
      FROM (SELECT LAST_ERROR_NUMBER FROM performance_schema.replication_applier_status_by_coordinator
             WHERE CHANNEL_NAME = '' AND LAST_ERROR_NUMBER <> 0
            UNION ALL
            SELECT LAST_ERROR_NUMBER FROM performance_schema.replication_applier_status_by_worker
             WHERE CHANNEL_NAME = '' AND LAST_ERROR_NUMBER <> 0) AS errors;
    IF applier_state IS NULL OR applier_state <> 'OFF' OR failed_errno IS NULL THEN
        SELECT 'Replica has no SQL thread error to skip; nothing was skipped.' AS Message;
    ELSEIF @@GLOBAL.gtid_mode = 'ON' THEN
        SIGNAL SQLSTATE '45000'
            SET MESSAGE_TEXT = 'gtid_mode is ON: skip the failed transaction by its GTID instead';
    ELSE
        SET GLOBAL sql_replica_skip_counter = 1;
        START REPLICA;
        SELECT CONCAT('Skipped one event after SQL thread error ', failed_errno,
                      '; replication restarted.') AS Message;
    END IF;
END$$

DROP PROCEDURE IF EXISTS mysql.rds_set_read_only$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_read_only(IN mode INT)
SQL SECURITY DEFINER
BEGIN
    IF mode IS NULL OR mode NOT IN (0, 1) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'mode must be 0 or 1';
    END IF;
    SET GLOBAL read_only = mode;
END$$

DROP PROCEDURE IF EXISTS mysql.rds_set_configuration$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_configuration(
    IN config_name VARCHAR(100) CHARACTER SET utf8mb4,
    IN config_value INT)
SQL SECURITY DEFINER
BEGIN
    DECLARE caller_logs_binlog INT DEFAULT @@SESSION.sql_log_bin;
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        SET SESSION sql_log_bin = caller_logs_binlog;
        RESIGNAL;
    END;
    IF config_name IS NULL OR config_name <> 'binlog retention hours' THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown configuration name';
    END IF;
    IF config_value IS NOT NULL AND (config_value < 1 OR config_value > 2160) THEN
        SIGNAL SQLSTATE '45000'
            SET MESSAGE_TEXT = 'binlog retention hours must be NULL or from 1 to 2160';
    END IF;
    -- Configuration is per cluster: keep it out of the binlog so a replica does not inherit it.
    SET SESSION sql_log_bin = 0;
    UPDATE mysql.rds_configuration SET value = config_value WHERE name = config_name;
    SET SESSION sql_log_bin = caller_logs_binlog;
    CALL mysql.rds_sandbox_apply_configuration();
END$$

DROP PROCEDURE IF EXISTS mysql.rds_show_configuration$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_show_configuration()
SQL SECURITY DEFINER
SELECT name, value, description FROM mysql.rds_configuration ORDER BY name$$

DROP PROCEDURE IF EXISTS mysql.rds_kill$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_kill(IN thread_id BIGINT UNSIGNED)
SQL SECURITY DEFINER
KILL CONNECTION thread_id$$

DROP PROCEDURE IF EXISTS mysql.rds_kill_query$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_kill_query(IN thread_id BIGINT UNSIGNED)
SQL SECURITY DEFINER
KILL QUERY thread_id$$

DELIMITER ;

CALL mysql.rds_sandbox_apply_configuration();
SET SESSION sql_log_bin = 1;
