-- Aurora MySQL's mysql.rds_* procedures, emulated on MySQL, for the sandbox's MySQL engine.
--
-- One source for every MySQL that plays Aurora here: the sandbox's MySQL 9.7 engine installs it
-- (aurora_bluegreen.sandbox.mysql.procedures), leaving out what a given Aurora version lacks, and
-- it is written to run unchanged through the mysql client as root (docker/mysql-blue/initdb).
-- It needs MySQL 8.0.26 or later: 8.0, 8.4 and 9.x all accept every statement in it.
--   - No MASTER/SLAVE syntax: MySQL 8.4 removed CHANGE MASTER TO, START/STOP/RESET SLAVE and
--     sql_slave_skip_counter; the REPLICA/SOURCE forms exist since 8.0.22-8.0.26.
--   - No CREATE OR REPLACE PROCEDURE and no EXECUTE IMMEDIATE (MariaDB has both): each procedure
--     is dropped and created again, and dynamic SQL goes through PREPARE from a user variable.
--   - CHANGE REPLICATION SOURCE TO is allowed in a stored procedure on 9.7, directly and through
--     PREPARE (seen here); PREPARE is needed only because its options take literals, not variables.
--
-- Aurora names per version (the sandbox's installer drops the ones a version lacks):
--   Aurora 3 only: rds_set_external_source[_with_auto_position], rds_reset_external_source,
--     and from 3.06: rds_set_binlog_source_ssl, rds_set_read_only.
--   Aurora 2 only: rds_set_external_master[_with_auto_position], rds_reset_external_master.
--   Both: rds_start_replication, rds_stop_replication, rds_skip_repl_error,
--     rds_skip_transaction_with_gtid, rds_set_configuration, rds_show_configuration, rds_kill,
--     rds_kill_query.
-- https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-replicating.html
-- The rule is aurora_bluegreen.sandbox.aurora.skipped_for_aurora, for both engines. Public
-- procedures call only the rds_sandbox_* helpers, never each other, so any of them can be left
-- out alone. rds_procedures.sql (MariaDB) has the same layout.
--
-- The master user lacks SUPER, SYSTEM_VARIABLES_ADMIN and REPLICATION_SLAVE_ADMIN, so every
-- procedure runs as its definer, root@localhost. Nothing here may reach the binary log: a clone
-- already carries these objects in its copied data, and a replica must never receive them.

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

-- Sandbox-only: whether the rds procedures left replication running. After a restart Aurora
-- resumes binlog replication ("manually reboot the cluster ... restarts binlog replication",
-- https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Replication.MySQL.SettingUp.html),
-- and its skip-slave-start cannot be changed; AWS does not say whether a replication stopped with
-- rds_stop_replication starts again, and here it does not (docs/aws.md).
CREATE TABLE IF NOT EXISTS mysql.rds_sandbox_replication (
    id TINYINT NOT NULL PRIMARY KEY,
    running TINYINT NOT NULL
) ENGINE = InnoDB;

INSERT IGNORE INTO mysql.rds_sandbox_replication (id, running) VALUES (1, 0);

DELIMITER $$

-- Sandbox-only: turns the stored configuration into server settings; called after every change.
-- SET PERSIST keeps it across restarts where the server reads its option files (Docker); the
-- sandbox starts mysqld with --no-defaults, which skips mysqld-auto.cnf, and calls this after
-- every start instead. NULL retention keeps binlogs until purged by hand (Aurora purges them as
-- soon as it can). The outer CAST matters: COALESCE of an unsigned BIGINT and 0 is a DECIMAL,
-- which an integer system variable refuses ("Incorrect argument type", seen on 9.7).
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_apply_configuration$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_apply_configuration()
SQL SECURITY DEFINER
BEGIN
    SET PERSIST binlog_expire_logs_seconds = CAST(COALESCE(
        (SELECT CAST(value AS UNSIGNED) * 3600 FROM mysql.rds_configuration
         WHERE name = 'binlog retention hours'),
        0) AS UNSIGNED);
END$$

-- Sandbox-only: the one place a CHANGE REPLICATION SOURCE statement is built. Every value is
-- QUOTE()d, so a password or file name can hold any character, and the statement text leaves the
-- session variable right after PREPARE. GET_SOURCE_PUBLIC_KEY lets a caching_sha2_password user
-- log in without TLS; RDS for MySQL 8.4 instead requires SOURCE_SSL=1 for such users, so the
-- sandbox is more lenient there.
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
    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        SET @rds_change_source = NULL;
        RESIGNAL;
    END;
    IF host IS NULL OR port IS NULL OR user_name IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'host, port and user must not be NULL';
    END IF;
    IF auto_position = 0 AND (binlog_file IS NULL OR binlog_pos IS NULL) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'binlog_file and binlog_pos must not be NULL';
    END IF;
    SET @rds_change_source = CONCAT(
        'CHANGE REPLICATION SOURCE TO SOURCE_HOST = ', QUOTE(host),
        ', SOURCE_PORT = ', port,
        ', SOURCE_USER = ', QUOTE(user_name),
        ', SOURCE_PASSWORD = ', QUOTE(COALESCE(password, '')),
        ', SOURCE_SSL = ', IF(COALESCE(ssl_encryption, 0) = 0, '0', '1'),
        ', SOURCE_CONNECT_RETRY = 1, GET_SOURCE_PUBLIC_KEY = 1',
        IF(auto_position = 1,
           ', SOURCE_AUTO_POSITION = 1',
           CONCAT(', SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = ', QUOTE(binlog_file),
                  ', SOURCE_LOG_POS = ', binlog_pos)));
    PREPARE rds_change_source FROM @rds_change_source;
    SET @rds_change_source = NULL;
    EXECUTE rds_change_source;
    DEALLOCATE PREPARE rds_change_source;
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
-- --skip-replica-start): replication that the rds procedures left running starts again.
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_resume_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_resume_replication()
SQL SECURITY DEFINER
BEGIN
    IF (SELECT running FROM mysql.rds_sandbox_replication WHERE id = 1) = 1 THEN
        START REPLICA;
    END IF;
END$$

-- Sandbox-only: what both reset_external_* names do.
DROP PROCEDURE IF EXISTS mysql.rds_sandbox_reset_source$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_sandbox_reset_source()
SQL SECURITY DEFINER
BEGIN
    STOP REPLICA;
    RESET REPLICA ALL;
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
    START REPLICA;
    CALL mysql.rds_sandbox_note_replication(1);
END$$

DROP PROCEDURE IF EXISTS mysql.rds_stop_replication$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_stop_replication()
SQL SECURITY DEFINER
BEGIN
    STOP REPLICA;
    CALL mysql.rds_sandbox_note_replication(0);
END$$

-- Turns SOURCE_SSL on (1) or off (0) for the existing replication channel. MySQL refuses the
-- change while the receiver thread runs; stop replication first.
DROP PROCEDURE IF EXISTS mysql.rds_set_binlog_source_ssl$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_set_binlog_source_ssl(IN mode INT)
SQL SECURITY DEFINER
BEGIN
    IF mode IS NULL OR mode NOT IN (0, 1) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'mode must be 0 or 1';
    END IF;
    SET @rds_source_ssl = CONCAT('CHANGE REPLICATION SOURCE TO SOURCE_SSL = ', mode);
    PREPARE rds_source_ssl FROM @rds_source_ssl;
    SET @rds_source_ssl = NULL;
    EXECUTE rds_source_ssl;
    DEALLOCATE PREPARE rds_source_ssl;
END$$

-- Skips one event only when the applier has stopped on an error: setting the skip counter on a
-- healthy replica would silently drop the next good event. With gtid_mode=ON MySQL refuses the
-- counter; the failed transaction is then skipped by its GTID (rds_skip_transaction_with_gtid).
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
            SET MESSAGE_TEXT = 'gtid_mode is ON: skip the failed transaction with mysql.rds_skip_transaction_with_gtid';
    ELSE
        SET GLOBAL sql_replica_skip_counter = 1;
        START REPLICA;
        CALL mysql.rds_sandbox_note_replication(1);
        SELECT CONCAT('Skipped one event after SQL thread error ', failed_errno,
                      '; replication restarted.') AS Message;
    END IF;
END$$

-- Marks one GTID as executed with an empty transaction, so the applier passes over the real one.
-- Only while the applier is stopped (the usual case: it stopped on that transaction), and never
-- for a GTID this server has executed already. Replication is not restarted.
DROP PROCEDURE IF EXISTS mysql.rds_skip_transaction_with_gtid$$
CREATE DEFINER = 'root'@'localhost' PROCEDURE mysql.rds_skip_transaction_with_gtid(
    IN gtid_to_skip VARCHAR(100) CHARACTER SET utf8mb4)
SQL SECURITY DEFINER
BEGIN
    DECLARE applier_state VARCHAR(16) DEFAULT NULL;
    IF gtid_to_skip IS NULL OR gtid_to_skip NOT LIKE '%:%' THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'gtid_to_skip must be one GTID, uuid:number';
    END IF;
    SELECT SERVICE_STATE INTO applier_state
      FROM performance_schema.replication_applier_status
     WHERE CHANNEL_NAME = '';
    IF applier_state = 'ON' THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'stop replication before skipping a transaction';
    END IF;
    IF GTID_SUBSET(gtid_to_skip, @@GLOBAL.gtid_executed) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'that GTID has been executed here already';
    END IF;
    SET SESSION gtid_next = gtid_to_skip;
    START TRANSACTION;
    COMMIT;
    SET SESSION gtid_next = 'AUTOMATIC';
END$$

-- Aurora 3.06 and later; like Aurora's, the switch is forgotten at restart (the sandbox re-applies
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

CALL mysql.rds_sandbox_apply_configuration();
SET SESSION sql_log_bin = 1;
