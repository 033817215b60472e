"""The SQL each dialect sends, as text. MySQL 8 and Aurora SQL cannot run here, so this is its test."""

import pytest

from aurora_bluegreen import dialects, server_answers
from aurora_bluegreen.dialects import Dialect, Engine, ServerVersion, Statement, detect_dialect
from aurora_bluegreen.errors import ReadOnlyNeedsControlPlane
from aurora_bluegreen.models import BinlogPosition
from aurora_bluegreen.server_answers import is_replication_only

AURORA2, AURORA3, MYSQL, MARIADB = Dialect.AURORA2, Dialect.AURORA3, Dialect.MYSQL, Dialect.MARIADB
POSITION = BinlogPosition("mysql-bin-changelog.000003", 4278)
SOURCE = ("blue.cluster.example", 3306, "repl_user", "s3cr'et")


# -- detection --------------------------------------------------------------------------------


def test_aurora_is_detected_by_aurora_version():
    assert detect_dialect("8.0.28", "Source distribution", "3.05.2", set()) is AURORA3
    assert detect_dialect("5.7.12", "MySQL Community Server (GPL)", "2.11.2", set()) is AURORA2


def test_servers_with_rds_procedures_are_managed_like_aurora():
    sandbox = "10.11.6-MariaDB-0+deb12u1-log"
    both = {"rds_set_external_source", "rds_set_external_master"}
    assert detect_dialect(sandbox, "Debian 12", None, both) is AURORA3
    assert detect_dialect("5.7.44-log", "Source distribution", None, {"rds_set_external_master"}) is AURORA2


def test_self_managed_servers_are_told_apart_by_version():
    assert detect_dialect("10.11.6-MariaDB-0+deb12u1-log", "Debian 12", None, set()) is MARIADB
    assert detect_dialect("10.11.6", "mariadb.org binary distribution", None, set()) is MARIADB
    assert detect_dialect("8.0.36", "MySQL Community Server - GPL", None, set()) is MYSQL


def test_dialect_names_are_checked():
    assert Dialect.named(" Aurora3 ") is AURORA3
    with pytest.raises(ValueError, match="unknown dialect 'aurora4': choose one of aurora2, aurora3, mysql"):
        Dialect.named("aurora4")


def test_server_version():
    assert ServerVersion("10.11.6-MariaDB-0+deb12u1-log").number == (10, 11, 6)
    assert ServerVersion("10.11.6-MariaDB-log").engine is Engine.MARIADB
    assert ServerVersion("8.4.0", "MySQL Community Server - GPL").number == (8, 4, 0)
    assert ServerVersion("8.4.0", "MySQL Community Server - GPL").engine is Engine.MYSQL
    assert ServerVersion("5.7").number == (5, 7, 0)
    with pytest.raises(ValueError, match="cannot read a version number"):
        _ = ServerVersion("unknown").number


# -- status -----------------------------------------------------------------------------------


MYSQL_9 = ServerVersion("9.7.4-2", "(Debian)")
MYSQL_8_4 = ServerVersion("8.4.3", "MySQL Community Server - GPL")
AURORA_3_08 = ServerVersion("8.0.39")  # what Aurora MySQL 3.08 reports as @@version
AURORA_3_01 = ServerVersion("8.0.23")
AURORA_2 = ServerVersion("5.7.12")
MARIADB_10 = ServerVersion("10.11.14-MariaDB-0+deb12u2-log", "Debian 12")
MARIADB_11 = ServerVersion("11.8.3-MariaDB-0+deb13u1", "Debian 13")


def test_show_replica_status_follows_the_servers_version():
    """MySQL 8.0.22 renamed it and 8.4 removed the old name; MariaDB kept SLAVE (and its columns)."""
    for server in (MYSQL_9, MYSQL_8_4, AURORA_3_08, AURORA_3_01):
        assert dialects.show_replica_status(server).sql == "SHOW REPLICA STATUS"
    for server in (AURORA_2, ServerVersion("8.0.21"), MARIADB_10, MARIADB_11):
        assert dialects.show_replica_status(server).sql == "SHOW SLAVE STATUS"


def test_show_source_status_follows_mysql_8_2_rename():
    assert dialects.show_source_status(MYSQL_9).sql == "SHOW BINARY LOG STATUS"
    assert dialects.show_source_status(MYSQL_8_4).sql == "SHOW BINARY LOG STATUS"
    assert dialects.show_source_status(ServerVersion("8.2.0")).sql == "SHOW BINARY LOG STATUS"
    assert dialects.show_source_status(AURORA_3_08).sql == "SHOW MASTER STATUS"
    # MariaDB's version numbers are above 8.2 but it kept the old statement.
    assert dialects.show_source_status(MARIADB_10).sql == "SHOW MASTER STATUS"
    assert dialects.show_source_status(MARIADB_11).sql == "SHOW MASTER STATUS"
    assert dialects.show_source_status(AURORA_2).sql == "SHOW MASTER STATUS"


def test_gtid_queries_follow_the_engine():
    assert dialects.executed_gtid_set(Engine.MYSQL).sql == "SELECT @@global.gtid_executed"
    assert dialects.executed_gtid_set(Engine.MARIADB).sql == "SELECT @@global.gtid_binlog_pos"
    assert dialects.gtid_mode(Engine.MYSQL).sql == "SELECT @@global.gtid_mode"
    assert dialects.gtid_mode(Engine.MARIADB) is None
    assert dialects.MARIADB_GTID_SLAVE_POS.sql == "SELECT @@global.gtid_slave_pos"


# -- setting up replication -------------------------------------------------------------------


def test_set_external_source_at_a_position():
    values = (*SOURCE, "mysql-bin-changelog.000003", 4278, 0)
    assert dialects.set_external_source(AURORA3, *SOURCE, POSITION, ssl=False) == Statement(
        "CALL mysql.rds_set_external_source(%s, %s, %s, %s, %s, %s, %s)", values
    )
    assert dialects.set_external_source(AURORA2, *SOURCE, POSITION, ssl=False) == Statement(
        "CALL mysql.rds_set_external_master(%s, %s, %s, %s, %s, %s, %s)", values
    )
    assert dialects.set_external_source(MYSQL, *SOURCE, POSITION, ssl=True) == Statement(
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s, SOURCE_PORT = %s, SOURCE_USER = %s,"
        " SOURCE_PASSWORD = %s, SOURCE_AUTO_POSITION = 0, SOURCE_LOG_FILE = %s, SOURCE_LOG_POS = %s,"
        " SOURCE_SSL = %s, GET_SOURCE_PUBLIC_KEY = 1",
        (*SOURCE, "mysql-bin-changelog.000003", 4278, 1),
    )
    assert dialects.set_external_source(MARIADB, *SOURCE, POSITION, ssl=False) == Statement(
        "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s,"
        " MASTER_USE_GTID = no, MASTER_LOG_FILE = %s, MASTER_LOG_POS = %s, MASTER_SSL = %s,"
        " MASTER_CONNECT_RETRY = 1",
        values,
    )


def test_set_external_source_with_gtid_auto_position():
    # Aurora's auto-position procedures ignore ssl_encryption: TLS comes from rds_set_binlog_source_ssl.
    assert dialects.set_external_source_auto_position(AURORA3, *SOURCE, ssl=True) == Statement(
        "CALL mysql.rds_set_external_source_with_auto_position(%s, %s, %s, %s, %s)", (*SOURCE, 0)
    )
    assert dialects.set_external_source_auto_position(AURORA2, *SOURCE, ssl=False) == Statement(
        "CALL mysql.rds_set_external_master_with_auto_position(%s, %s, %s, %s, %s)", (*SOURCE, 0)
    )
    assert dialects.set_external_source_auto_position(MYSQL, *SOURCE, ssl=False) == Statement(
        "CHANGE REPLICATION SOURCE TO SOURCE_HOST = %s, SOURCE_PORT = %s, SOURCE_USER = %s,"
        " SOURCE_PASSWORD = %s, SOURCE_AUTO_POSITION = 1, SOURCE_SSL = %s, GET_SOURCE_PUBLIC_KEY = 1",
        (*SOURCE, 0),
    )
    assert dialects.set_external_source_auto_position(MARIADB, *SOURCE, ssl=False) == Statement(
        "CHANGE MASTER TO MASTER_HOST = %s, MASTER_PORT = %s, MASTER_USER = %s, MASTER_PASSWORD = %s,"
        " MASTER_USE_GTID = slave_pos, MASTER_SSL = %s, MASTER_CONNECT_RETRY = 1",
        (*SOURCE, 0),
    )


def test_secrets_travel_only_as_parameters():
    for dialect in Dialect:
        for statement in (
            dialects.set_external_source(dialect, *SOURCE, POSITION, ssl=False),
            dialects.set_external_source_auto_position(dialect, *SOURCE, ssl=False),
        ):
            assert "s3cr" not in statement.sql and "s3cr'et" in statement.params
    for server in (MYSQL_9, MARIADB_10):
        statement = dialects.create_user(server, "repl_user", "%", "s3cr'et", require_ssl=False)
        assert "s3cr" not in statement.sql


@pytest.mark.parametrize(
    ("dialect", "server", "start", "stop", "reset"),
    [
        (
            AURORA3,
            MYSQL_9,
            "CALL mysql.rds_start_replication",
            "CALL mysql.rds_stop_replication",
            "CALL mysql.rds_reset_external_source",
        ),
        (
            AURORA2,
            AURORA_2,
            "CALL mysql.rds_start_replication",
            "CALL mysql.rds_stop_replication",
            "CALL mysql.rds_reset_external_master",
        ),
        (MYSQL, MYSQL_9, "START REPLICA", "STOP REPLICA", "RESET REPLICA ALL"),
        (MYSQL, MYSQL_8_4, "START REPLICA", "STOP REPLICA", "RESET REPLICA ALL"),
        (MYSQL, ServerVersion("8.0.21"), "START SLAVE", "STOP SLAVE", "RESET SLAVE ALL"),
        (MARIADB, MARIADB_10, "START SLAVE", "STOP SLAVE", "RESET SLAVE ALL"),
        (MARIADB, MARIADB_11, "START SLAVE", "STOP SLAVE", "RESET SLAVE ALL"),
    ],
)
def test_start_stop_reset(dialect, server, start, stop, reset):
    assert dialects.start_replication(dialect, server) == Statement(start)
    assert dialects.stop_replication(dialect, server) == Statement(stop)
    assert dialects.reset_external_source(dialect, server) == Statement(reset)


def test_wait_for_position_never_passes_a_timeout_the_server_reads_as_forever():
    assert dialects.wait_for_position(AURORA_3_01, POSITION, 2.5) == Statement(
        "SELECT MASTER_POS_WAIT(%s, %s, %s)", ("mysql-bin-changelog.000003", 4278, 3)
    )
    assert dialects.wait_for_position(MARIADB_10, POSITION, 0.2).params[2] == 1
    assert dialects.wait_for_position(AURORA_2, POSITION, 0).params[2] == 1


def test_wait_for_position_takes_the_name_the_server_version_has():
    """MySQL 8.0.26 renamed MASTER_POS_WAIT; Aurora 3.01 (8.0.23) and MariaDB have only the old name."""
    for server in (MYSQL_9, MYSQL_8_4, AURORA_3_08, ServerVersion("8.0.26")):
        assert dialects.wait_for_position(server, POSITION, 10).sql == "SELECT SOURCE_POS_WAIT(%s, %s, %s)"
    for server in (AURORA_3_01, AURORA_2, MARIADB_10, MARIADB_11):
        assert dialects.wait_for_position(server, POSITION, 10).sql == "SELECT MASTER_POS_WAIT(%s, %s, %s)"


def test_wait_for_gtid_set_rounds_up_to_a_whole_second():
    assert dialects.wait_for_gtid_set("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", 0.3) == Statement(
        "SELECT WAIT_FOR_EXECUTED_GTID_SET(%s, %s)", ("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5", 1)
    )


# -- read_only and binlog retention -----------------------------------------------------------


def test_set_read_only():
    assert dialects.set_read_only(AURORA3, True) == Statement("CALL mysql.rds_set_read_only(%s)", (1,))
    assert dialects.set_read_only(AURORA3, False) == Statement("CALL mysql.rds_set_read_only(%s)", (0,))
    assert dialects.set_read_only(MYSQL, True) == Statement("SET GLOBAL super_read_only = 1")
    assert dialects.set_read_only(MYSQL, False) == Statement("SET GLOBAL read_only = 0")
    assert dialects.set_read_only(MARIADB, True) == Statement("SET GLOBAL read_only = %s", (1,))
    assert dialects.READ_ONLY.sql == "SELECT @@global.read_only"


def test_aurora2_read_only_belongs_to_the_control_plane():
    assert not AURORA2.can_set_read_only and AURORA3.can_set_read_only
    with pytest.raises(ReadOnlyNeedsControlPlane, match="parameter group"):
        dialects.set_read_only(AURORA2, True)


def test_binlog_retention_statements():
    assert dialects.show_binlog_retention(AURORA3).sql == "CALL mysql.rds_show_configuration"
    assert dialects.set_binlog_retention(AURORA2, 48) == Statement(
        "CALL mysql.rds_set_configuration('binlog retention hours', %s)", (48,)
    )
    assert dialects.set_binlog_retention(AURORA3, None).params == (None,)
    assert dialects.show_binlog_retention(MYSQL).sql == "SELECT @@global.binlog_expire_logs_seconds"
    assert dialects.set_binlog_retention(MARIADB, 48) == Statement(
        "SET GLOBAL binlog_expire_logs_seconds = %s", (172800,)
    )
    assert dialects.set_binlog_retention(MYSQL, None).params == (0,)


def test_binlog_retention_read_back():
    configuration = [
        {"name": "binlog retention hours", "value": "24", "description": "..."},
        {"name": "source delay", "value": "0", "description": "..."},
    ]
    assert server_answers.binlog_retention_from_rows(AURORA3, configuration) == 24
    unset = [{"name": "binlog retention hours", "value": None, "description": "..."}]
    assert server_answers.binlog_retention_from_rows(AURORA2, unset) is None
    seconds = "@@global.binlog_expire_logs_seconds"
    assert server_answers.binlog_retention_from_rows(MYSQL, [{seconds: 2592000}]) == 720
    assert server_answers.binlog_retention_from_rows(MARIADB, [{seconds: 0}]) is None


def test_long_running_transactions_query():
    statement = dialects.long_running_transactions(30)
    assert "information_schema.innodb_trx" in statement.sql and statement.params == (30,)


# -- the replication user ---------------------------------------------------------------------


def test_replication_user_statements():
    assert dialects.grant_replication("repl_user", "%") == Statement(
        "GRANT REPLICATION SLAVE ON *.* TO %s@%s", ("repl_user", "%")
    )
    assert dialects.show_grants("repl_user", "%") == Statement("SHOW GRANTS FOR %s@%s", ("repl_user", "%"))
    assert dialects.drop_user("repl_user", "%") == Statement("DROP USER %s@%s", ("repl_user", "%"))


@pytest.mark.parametrize(
    "grants",
    [
        ["GRANT REPLICATION SLAVE ON *.* TO `repl_user`@`%`"],
        ["GRANT REPLICATION SLAVE ON *.* TO 'repl_user'@'%'"],
        [
            "GRANT REPLICATION SLAVE ON *.* TO `repl_user`@`%` IDENTIFIED BY PASSWORD "
            "'*B69027D44F6E5EDC07F1AEAD1477967B16F28227'"
        ],
        ["GRANT REPLICATION REPLICA ON *.* TO `repl_user`@`%`"],
    ],
)
def test_replication_only_grants_as_each_engine_prints_them(grants):
    assert is_replication_only(grants)


@pytest.mark.parametrize(
    "grants",
    [
        ["GRANT USAGE ON *.* TO `app`@`%`"],
        ["GRANT SELECT, REPLICATION SLAVE ON *.* TO `repl_user`@`%`"],
        ["GRANT REPLICATION SLAVE ON *.* TO `repl_user`@`%` WITH GRANT OPTION"],
        ["GRANT REPLICATION SLAVE ON *.* TO `repl_user`@`%`", "GRANT SELECT ON `shop`.* TO `repl_user`@`%`"],
        ["GRANT REPLICATION SLAVE ON *.* TO `repl_user`@`%`", "GRANT `admin_role`@`%` TO `repl_user`@`%`"],
        ["GRANT ALL PRIVILEGES ON *.* TO `admin`@`%`"],
        [],
    ],
)
def test_anything_more_is_not_a_replication_user(grants):
    assert not is_replication_only(grants)


def test_granted_roles_reads_both_engines_listings():
    assert server_answers.granted_roles(
        [
            "GRANT SELECT ON *.* TO `admin`@`%`",
            "GRANT `rds_superuser_role`@`%`,`other`@`localhost` TO `admin`@`%`",
        ]
    ) == [("rds_superuser_role", "%"), ("other", "localhost")]
    assert server_answers.granted_roles(["GRANT `rds_superuser_role` TO `admin`@`%`"]) == [
        ("rds_superuser_role", None)
    ]
    assert server_answers.granted_roles(["GRANT rds_superuser_role TO 'admin'@'%'"]) == [
        ("rds_superuser_role", None)
    ]


def test_sessions_are_ended_through_rds_kill_on_aurora():
    assert dialects.end_session(AURORA3, 42) == Statement("CALL mysql.rds_kill(%s)", (42,))
    assert dialects.end_session(AURORA2, 42) == Statement("CALL mysql.rds_kill(%s)", (42,))
    assert dialects.end_session(MYSQL, 42) == Statement("KILL CONNECTION %s", (42,))
    assert dialects.set_lock_wait_timeout(2.2) == Statement("SET SESSION lock_wait_timeout = %s", (3,))


def test_users_are_created_so_that_no_binlog_holds_the_password():
    """MySQL (Aurora) rewrites the password to its hash in the binlog; MariaDB logs the statement
    as sent, so it gets the hash itself."""
    mysql = dialects.create_user(MYSQL_9, "repl", "%", "s3cr'et", require_ssl=True)
    assert mysql == Statement("CREATE USER %s@%s IDENTIFIED BY %s REQUIRE SSL", ("repl", "%", "s3cr'et"))
    mariadb = dialects.create_user(MARIADB_10, "repl", "%", "s3cr'et", require_ssl=False)
    assert mariadb.sql == "CREATE USER %s@%s IDENTIFIED BY PASSWORD %s"
    assert "s3cr'et" not in mariadb.params
    # The hash MySQL and MariaDB compute for PASSWORD('password').
    assert dialects.native_password_hash("password") == "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"
