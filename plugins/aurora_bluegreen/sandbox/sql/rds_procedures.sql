-- Aurora MySQL's mysql.rds_* procedures, emulated on MariaDB 10.11 for the sandbox.
--
-- The same layout as rds_procedures_mysql.sql: every procedure is dropped, then created, and
-- public procedures call only the rds_sandbox_* helpers, never each other, so the sandbox's
-- installer (aurora_bluegreen.sandbox.procedures) can leave out any one an Aurora version lacks:
--   Aurora 3 only: rds_set_external_source[_with_auto_position], rds_reset_external_source,
--     and from 3.06: rds_set_binlog_source_ssl, rds_set_read_only.
--   Aurora 2 only: rds_set_external_master[_with_auto_position], rds_reset_external_master.
-- https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-replicating.html
--
-- The master user lacks SUPER, so every procedure runs as its definer (root@localhost). Nothing
-- here may reach the binary log: a clone already carries these objects in its copied data
-- directory, and a replica must never see them arrive twice. The file can also be fed to the
-- `mariadb` client as root.

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

-- Sandbox-only: whether the rds procedures left replication running, so the sandbox can resume it
-- after a restart as Aurora does (see rds_procedures_mysql.sql and docs/aws.md).
CREATE TABLE IF NOT EXISTS mysql.rds_sandbox_replication (
    id TINYINT NOT NULL PRIMARY KEY,
    running TINYINT NOT NULL
) ENGINE = InnoDB;

INSERT IGNORE INTO mysql.rds_sandbox_replication (id, running) VALUES (1, 0);

DELIMITER $$

-- Sandbox-only: turns the stored configuration into server settings. Called after every change
-- and by the sandbox after each server start, because SET GLOBAL does not survive a restart.
-- NULL retention keeps binlogs forever here (Aurora purges them as soon as it can).
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_apply_configuration$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_apply_configuration()
SQL SECURITY DEFINER
BEGIN
    SET GLOBAL binlog_expire_logs_seconds = COALESCE(
        (SELECT CAST(value AS UNSIGNED) * 3600 FROM mysql.rds_configuration
         WHERE name = 'binlog retention hours'),
        0);
END$$

-- Sandbox-only: the one place a CHANGE MASTER statement is built. Every value is QUOTE()d, so a
-- password or file name can hold any character. auto_position = 1 means GTID auto-position.
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_change_source$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_change_source(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_file VARCHAR(255) CHARACTER SET utf8mb4,
    IN binlog_pos BIGINT UNSIGNED,
    IN ssl_encryption INT,
    IN auto_position INT)
SQL SECURITY DEFINER
BEGIN
    IF host IS NULL OR port IS NULL OR user_name IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'host, port and user must not be NULL';
    END IF;
    IF auto_position = 0 AND binlog_file IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'binlog_file must not be NULL';
    END IF;
    IF auto_position = 0 AND binlog_pos IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'binlog_pos must not be NULL';
    END IF;
    EXECUTE IMMEDIATE CONCAT(
        'CHANGE MASTER TO MASTER_HOST = ', QUOTE(host),
        ', MASTER_PORT = ', port,
        ', MASTER_USER = ', QUOTE(user_name),
        ', MASTER_PASSWORD = ', QUOTE(COALESCE(password, '')),
        ', MASTER_SSL = ', IF(COALESCE(ssl_encryption, 0) = 0, '0', '1'),
        ', MASTER_CONNECT_RETRY = 1',
        IF(auto_position = 1,
           ', MASTER_USE_GTID = slave_pos',
           CONCAT(', MASTER_USE_GTID = no, MASTER_LOG_FILE = ', QUOTE(binlog_file),
                  ', MASTER_LOG_POS = ', binlog_pos)));
END$$

-- Sandbox-only: records whether replication should run after the next start (1) or not (0).
-- Per cluster, like rds_configuration: kept out of the binlog.
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_note_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_note_replication(IN wanted INT)
SQL SECURITY DEFINER
BEGIN
    DECLARE caller_logs_binlog INT DEFAULT @@SESSION.sql_log_bin;
    SET SESSION sql_log_bin = 0;
    UPDATE mysql.rds_sandbox_replication SET running = wanted WHERE id = 1;
    SET SESSION sql_log_bin = caller_logs_binlog;
END$$

-- Sandbox-only: called by the sandbox after every server start (the server runs with
-- --skip-slave-start): replication that the rds procedures left running starts again.
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_resume_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_resume_replication()
SQL SECURITY DEFINER
BEGIN
    IF (SELECT running FROM mysql.rds_sandbox_replication WHERE id = 1) = 1 THEN
        START SLAVE;
    END IF;
END$$

-- Sandbox-only: what both reset_external_* names do.
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_reset_source$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_reset_source()
SQL SECURITY DEFINER
BEGIN
    STOP SLAVE;
    RESET SLAVE ALL;
    CALL mysql.rds_sandbox_note_replication(0);
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
CALL mysql.rds_sandbox_change_source(
    host, port, user_name, password, binlog_file, binlog_pos, ssl_encryption, 0)$$

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
CALL mysql.rds_sandbox_change_source(
    host, port, user_name, password, binlog_file, binlog_pos, ssl_encryption, 0)$$

DROP PROCEDURE IF EXISTS mysql.rds_set_external_source_with_auto_position$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_external_source_with_auto_position(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN ssl_encryption INT)
SQL SECURITY DEFINER
CALL mysql.rds_sandbox_change_source(host, port, user_name, password, NULL, NULL, ssl_encryption, 1)$$

DROP PROCEDURE IF EXISTS mysql.rds_set_external_master_with_auto_position$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_external_master_with_auto_position(
    IN host VARCHAR(255) CHARACTER SET utf8mb4,
    IN port INT,
    IN user_name VARCHAR(128) CHARACTER SET utf8mb4,
    IN password VARCHAR(255) CHARACTER SET utf8mb4,
    IN ssl_encryption INT)
SQL SECURITY DEFINER
CALL mysql.rds_sandbox_change_source(host, port, user_name, password, NULL, NULL, ssl_encryption, 1)$$

DROP PROCEDURE IF EXISTS mysql.rds_reset_external_source$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_reset_external_source()
SQL SECURITY DEFINER
CALL mysql.rds_sandbox_reset_source()$$

DROP PROCEDURE IF EXISTS mysql.rds_reset_external_master$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_reset_external_master()
SQL SECURITY DEFINER
CALL mysql.rds_sandbox_reset_source()$$

DROP PROCEDURE IF EXISTS mysql.rds_start_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_start_replication()
SQL SECURITY DEFINER
BEGIN
    START SLAVE;
    CALL mysql.rds_sandbox_note_replication(1);
END$$

DROP PROCEDURE IF EXISTS mysql.rds_stop_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_stop_replication()
SQL SECURITY DEFINER
BEGIN
    STOP SLAVE;
    CALL mysql.rds_sandbox_note_replication(0);
END$$

-- Turns MASTER_SSL on (1) or off (0) for the existing replication channel. MariaDB refuses the
-- change while replication runs; stop replication first.
DROP PROCEDURE IF EXISTS mysql.rds_set_binlog_source_ssl$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_binlog_source_ssl(IN mode INT)
SQL SECURITY DEFINER
BEGIN
    IF mode IS NULL OR mode NOT IN (0, 1) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'mode must be 0 or 1';
    END IF;
    EXECUTE IMMEDIATE CONCAT('CHANGE MASTER TO MASTER_SSL = ', mode);
END$$

-- Skips one event only when the SQL thread has stopped on an error: setting the skip counter on
-- a healthy replica would silently drop the next good event. MariaDB fills this
-- performance_schema table only when performance_schema is on (the sandbox starts it that way).
DROP PROCEDURE IF EXISTS mysql.rds_skip_repl_error$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_skip_repl_error()
SQL SECURITY DEFINER
BEGIN
    DECLARE failed_errno INT DEFAULT NULL;
    SELECT LAST_ERROR_NUMBER INTO failed_errno
      FROM performance_schema.replication_applier_status_by_coordinator
     WHERE CHANNEL_NAME = '' AND SERVICE_STATE = 'OFF' AND LAST_ERROR_NUMBER <> 0;
    IF failed_errno IS NULL THEN
        SELECT 'Replica has no SQL thread error to skip; nothing was skipped.' AS Message;
    ELSE
        SET GLOBAL sql_slave_skip_counter = 1;
        START SLAVE;
        CALL mysql.rds_sandbox_note_replication(1);
        SELECT CONCAT('Skipped one event after SQL thread error ', failed_errno,
                      '; replication restarted.') AS Message;
    END IF;
END$$

-- Aurora 3.06 and later; like Aurora's, the switch is forgotten at restart (the sandbox applies
-- the cluster's parameter-group value instead).
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
    -- Configuration is per cluster: keep it out of the binlog so a replica does not inherit it
    -- and green's binlog holds only what came from blue.
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
