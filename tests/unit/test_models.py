import pytest

from aurora_bluegreen.models import (
    BinlogPosition,
    CloneCoordinates,
    CloneResult,
    CutoverReport,
    CutoverStep,
    ReplicaStatus,
)


def test_binlog_position_orders_by_file_sequence_then_offset():
    assert (
        BinlogPosition("mysql-bin.000010", 4).sort_key() > BinlogPosition("mysql-bin.000009", 9999).sort_key()
    )
    with pytest.raises(ValueError, match="numeric suffix"):
        _ = BinlogPosition("nosuffix", 4).sequence


def test_clone_result_round_trips_through_xcom_dicts():
    result = CloneResult(
        "green",
        "green-writer",
        "127.0.0.1",
        3307,
        CloneCoordinates(BinlogPosition("b.000001", 1234), "0-1-5", "mariadb-backup"),
        reused=False,
    )
    assert CloneResult.from_dict(result.to_dict()) == result


def test_replica_status_error_combines_both_threads():
    status = ReplicaStatus(
        "No",
        "No",
        None,
        "h",
        1,
        None,
        None,
        last_io_errno=2003,
        last_io_error="can't connect",
        last_sql_errno=1146,
        last_sql_error="no table",
    )
    assert status.error == "SQL thread error 1146: no table; IO thread error 2003: can't connect"
    assert ReplicaStatus.from_dict(status.to_dict()) == status


def test_cutover_report_table_lists_every_step_and_the_freeze():
    report = CutoverReport("blue", "green", freeze_ms=7.25)
    report.steps = [
        CutoverStep("freeze_blue", "t", 1.5, "read_only=1"),
        CutoverStep("repoint", "t", 0.4, "ok"),
    ]
    table = report.as_table()
    assert "freeze_blue" in table and "repoint" in table
    assert "write freeze: 7.2 ms" in table or "write freeze: 7.3 ms" in table
    assert report.to_dict()["steps"][0]["name"] == "freeze_blue"


def test_replica_source_is_the_host_and_the_port_not_the_port_alone():
    status = ReplicaStatus("Yes", "Yes", 0, "Green.cluster-abc.eu-west-1.rds.amazonaws.com", 3306, None, None)
    assert status.replicates_from("green.cluster-abc.eu-west-1.rds.amazonaws.com", 3306)
    assert not status.replicates_from("other.cluster-abc.eu-west-1.rds.amazonaws.com", 3306)
    assert not status.replicates_from("green.cluster-abc.eu-west-1.rds.amazonaws.com", 3307)
