"""Both column families of SHOW REPLICA/SLAVE STATUS become one ReplicaStatus.

The rows are shaped like real ones: MySQL 8.0's ``SHOW REPLICA STATUS`` (also Aurora MySQL 3),
MySQL 5.7's ``SHOW SLAVE STATUS`` (Aurora MySQL 2) and MariaDB 10.11's ``SHOW SLAVE STATUS``.
"""

from aurora_bluegreen.models import BinlogPosition
from aurora_bluegreen.server_answers import replica_status_from_rows

BLUE_UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
GREEN_UUID = "4a6b2c1d-0000-11ee-8f00-0242ac120002"

MYSQL_8 = {
    "Replica_IO_State": "Waiting for source to send event",
    "Source_Host": "blue.cluster-abc.eu-west-1.rds.amazonaws.com",
    "Source_User": "repl_user",
    "Source_Port": 3306,
    "Connect_Retry": 60,
    "Source_Log_File": "mysql-bin-changelog.000004",
    "Read_Source_Log_Pos": 1524,
    "Relay_Log_File": "relay-bin.000002",
    "Relay_Log_Pos": 326,
    "Relay_Source_Log_File": "mysql-bin-changelog.000003",
    "Replica_IO_Running": "Yes",
    "Replica_SQL_Running": "Yes",
    "Replicate_Do_DB": "",
    "Replicate_Ignore_DB": "",
    "Last_Errno": 0,
    "Last_Error": "",
    "Skip_Counter": 0,
    "Exec_Source_Log_Pos": 98004,
    "Relay_Log_Space": 4278,
    "Until_Condition": "None",
    "Source_SSL_Allowed": "No",
    "Seconds_Behind_Source": 12,
    "Source_SSL_Verify_Server_Cert": "No",
    "Last_IO_Errno": 0,
    "Last_IO_Error": "",
    "Last_SQL_Errno": 0,
    "Last_SQL_Error": "",
    "Source_Server_Id": 1234567,
    "Source_UUID": BLUE_UUID,
    "SQL_Delay": 0,
    "SQL_Remaining_Delay": None,
    "Replica_SQL_Running_State": "Replica has read all relay log; waiting for more updates",
    "Source_Retry_Count": 86400,
    "Last_IO_Error_Timestamp": "",
    "Last_SQL_Error_Timestamp": "",
    "Retrieved_Gtid_Set": f"{BLUE_UUID}:1-120",
    "Executed_Gtid_Set": f"{BLUE_UUID}:1-118,\n{GREEN_UUID}:1-5",
    "Auto_Position": 1,
    "Replicate_Rewrite_DB": "",
    "Channel_Name": "",
    "Source_TLS_Version": "",
    "Get_Source_public_key": 1,
    "Network_Namespace": "",
}

AURORA_2 = {
    "Slave_IO_State": "",
    "Master_Host": "10.0.1.15",
    "Master_User": "repl_user",
    "Master_Port": 3306,
    "Connect_Retry": 60,
    "Master_Log_File": "mysql-bin-changelog.000012",
    "Read_Master_Log_Pos": 154,
    "Relay_Log_File": "relaylog.000004",
    "Relay_Log_Pos": 367,
    "Relay_Master_Log_File": "mysql-bin-changelog.000012",
    "Slave_IO_Running": "Yes",
    "Slave_SQL_Running": "No",
    "Last_Errno": 1062,
    "Last_Error": "Could not execute Write_rows event on table shop.orders; Duplicate entry '42' for key "
    "'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY",
    "Skip_Counter": 0,
    "Exec_Master_Log_Pos": 120,
    "Relay_Log_Space": 1090,
    "Seconds_Behind_Master": None,
    "Last_IO_Errno": 0,
    "Last_IO_Error": "",
    "Last_SQL_Errno": 1062,
    "Last_SQL_Error": "Could not execute Write_rows event on table shop.orders; Duplicate entry '42' for "
    "key 'PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY",
    "Master_Server_Id": 1001,
    "Master_UUID": BLUE_UUID,
    "Slave_SQL_Running_State": "",
    "Retrieved_Gtid_Set": "",
    "Executed_Gtid_Set": "",
    "Auto_Position": 0,
    "Replicate_Rewrite_DB": "",
    "Channel_Name": "",
    "Master_TLS_Version": "",
}

MARIADB_10_11 = {
    "Slave_IO_State": "Waiting for master to send event",
    "Master_Host": "127.0.0.1",
    "Master_User": "repl_user",
    "Master_Port": 33101,
    "Connect_Retry": 1,
    "Master_Log_File": "mysql-bin-changelog.000001",
    "Read_Master_Log_Pos": 955,
    "Relay_Log_File": "relay-bin.000002",
    "Relay_Log_Pos": 555,
    "Relay_Master_Log_File": "mysql-bin-changelog.000001",
    "Slave_IO_Running": "Yes",
    "Slave_SQL_Running": "Yes",
    "Replicate_Do_DB": "",
    "Last_Errno": 0,
    "Last_Error": "",
    "Skip_Counter": 0,
    "Exec_Master_Log_Pos": 955,
    "Relay_Log_Space": 858,
    "Until_Condition": "None",
    "Master_SSL_Allowed": "No",
    "Seconds_Behind_Master": 0,
    "Master_SSL_Verify_Server_Cert": "No",
    "Last_IO_Errno": 0,
    "Last_IO_Error": "",
    "Last_SQL_Errno": 0,
    "Last_SQL_Error": "",
    "Replicate_Ignore_Server_Ids": "",
    "Master_Server_Id": 1,
    "Using_Gtid": "No",
    "Gtid_IO_Pos": "",
    "Replicate_Do_Domain_Ids": "",
    "Replicate_Ignore_Domain_Ids": "",
    "Parallel_Mode": "optimistic",
    "SQL_Delay": 0,
    "SQL_Remaining_Delay": None,
    "Slave_SQL_Running_State": "Slave has read all relay log; waiting for more updates",
    "Slave_DDL_Groups": 0,
    "Slave_Non_Transactional_Groups": 0,
    "Slave_Transactional_Groups": 0,
    "Replicate_Rewrite_DB": "",
}


def test_mysql_8_replica_columns():
    status = replica_status_from_rows([MYSQL_8])
    assert status.io_running == "Yes" and status.sql_running == "Yes" and status.is_running
    assert status.seconds_behind == 12
    assert status.source_host == "blue.cluster-abc.eu-west-1.rds.amazonaws.com"
    assert status.source_port == 3306
    assert status.read_position == BinlogPosition("mysql-bin-changelog.000004", 1524)
    # Executed is counted in the source's binlog, through Relay_Source_Log_File, not the relay log.
    assert status.exec_position == BinlogPosition("mysql-bin-changelog.000003", 98004)
    assert status.executed_gtid_set == f"{BLUE_UUID}:1-118,{GREEN_UUID}:1-5"
    assert status.auto_position
    assert status.error is None


def test_aurora_2_slave_columns_with_a_broken_sql_thread():
    status = replica_status_from_rows([AURORA_2])
    assert status.io_running == "Yes" and status.sql_running == "No" and not status.is_running
    assert status.seconds_behind is None
    assert status.source_host == "10.0.1.15" and status.source_port == 3306
    assert status.read_position == BinlogPosition("mysql-bin-changelog.000012", 154)
    assert status.exec_position == BinlogPosition("mysql-bin-changelog.000012", 120)
    assert status.last_sql_errno == 1062
    assert status.error.startswith("SQL thread error 1062: Could not execute Write_rows event")
    assert status.executed_gtid_set == "" and not status.auto_position


def test_mariadb_by_file_and_position_has_no_gtid_set():
    status = replica_status_from_rows([MARIADB_10_11], gtid_slave_pos="0-1-7")
    assert status.is_running and status.seconds_behind == 0
    assert status.source_port == 33101
    assert status.exec_position == BinlogPosition("mysql-bin-changelog.000001", 955)
    assert status.executed_gtid_set is None and not status.auto_position


def test_mariadb_on_gtids_takes_the_executed_set_from_gtid_slave_pos():
    row = {**MARIADB_10_11, "Using_Gtid": "Slave_Pos", "Gtid_IO_Pos": "0-1-9"}
    status = replica_status_from_rows([row], gtid_slave_pos="0-1-7,1-3-2")
    assert status.auto_position
    assert status.executed_gtid_set == "0-1-7,1-3-2"


def test_mariadb_io_thread_that_cannot_log_in():
    row = {
        **MARIADB_10_11,
        "Slave_IO_State": "Connecting to master",
        "Slave_IO_Running": "Connecting",
        "Seconds_Behind_Master": None,
        "Last_IO_Errno": 1045,
        "Last_IO_Error": "error connecting to master 'repl_user@127.0.0.1:33101' - retry-time: 1  "
        "maximum-retries: 100000  message: Access denied for user 'repl_user'@'localhost' "
        "(using password: YES)",
    }
    status = replica_status_from_rows([row])
    assert status.io_running == "Connecting" and status.seconds_behind is None
    assert status.error.startswith("IO thread error 1045: error connecting to master")


def test_not_a_replica():
    assert replica_status_from_rows([]) is None


def test_only_the_default_channel_counts():
    other_channel = {**MYSQL_8, "Channel_Name": "reporting", "Source_Host": "elsewhere"}
    assert replica_status_from_rows([other_channel, MYSQL_8]).source_host == MYSQL_8["Source_Host"]
    assert replica_status_from_rows([other_channel]) is None


def test_normalized_status_round_trips_through_xcom():
    status = replica_status_from_rows([MYSQL_8])
    assert type(status).from_dict(status.to_dict()) == status
