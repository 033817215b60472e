import dataclasses

import pytest

from aurora_bluegreen.catchup import LagState, is_caught_up, lag_verdict
from aurora_bluegreen.gtid import MariadbGtidSet, MysqlGtidSet
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus

UUID = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
HEALTHY = ReplicaStatus(
    io_running="Yes",
    sql_running="Yes",
    seconds_behind=0,
    source_host="blue.example",
    source_port=3306,
    read_position=BinlogPosition("mysql-bin-changelog.000003", 9000),
    exec_position=BinlogPosition("mysql-bin-changelog.000003", 8000),
)


def status(**changes) -> ReplicaStatus:
    return dataclasses.replace(HEALTHY, **changes)


def test_caught_up_by_position_means_executed_exactly_there():
    final = BinlogPosition("mysql-bin-changelog.000003", 8000)
    assert is_caught_up(final, HEALTHY)
    # Read is not executed: the relay log may still hold the event.
    assert not is_caught_up(BinlogPosition("mysql-bin-changelog.000003", 9000), HEALTHY)
    assert not is_caught_up(BinlogPosition("mysql-bin-changelog.000004", 4), HEALTHY)
    assert not is_caught_up(final, status(exec_position=None))


def test_caught_up_by_mysql_gtid_set_means_the_replica_has_all_of_it():
    blue = MysqlGtidSet.parse(f"{UUID}:1-100")
    assert is_caught_up(blue, status(executed_gtid_set=f"{UUID}:1-100"))
    assert is_caught_up(blue, status(executed_gtid_set=f"{UUID}:1-101"))
    assert not is_caught_up(blue, status(executed_gtid_set=f"{UUID}:1-99"))
    assert not is_caught_up(blue, status(executed_gtid_set=None))


def test_caught_up_by_mariadb_position():
    blue = MariadbGtidSet.parse("0-1-500")
    assert is_caught_up(blue, status(executed_gtid_set="0-1-500"))
    assert not is_caught_up(blue, status(executed_gtid_set="0-1-499"))


def test_verdict_caught_up_within_threshold():
    verdict = lag_verdict(status(seconds_behind=3), max_lag_seconds=5)
    assert verdict.state is LagState.CAUGHT_UP and verdict.is_final
    assert "caught up" in verdict.message and "lag=3s" in verdict.message


def test_verdict_lagging_over_threshold_or_unknown():
    assert lag_verdict(status(seconds_behind=6), 5).state is LagState.LAGGING
    unknown = lag_verdict(status(seconds_behind=None), 5)
    assert unknown.state is LagState.LAGGING and not unknown.is_final
    assert "lag unknown" in unknown.message


def test_verdict_not_configured():
    verdict = lag_verdict(None, 5)
    assert verdict.state is LagState.NOT_CONFIGURED and verdict.is_final


def test_verdict_broken_sql_thread_carries_the_server_error():
    verdict = lag_verdict(
        status(
            sql_running="No",
            seconds_behind=None,
            last_sql_errno=1062,
            last_sql_error="Could not execute Write_rows_v1 event on table shop.orders; Duplicate entry '7'",
        ),
        5,
    )
    assert verdict.state is LagState.BROKEN and verdict.is_final
    assert "SQL thread error 1062: Could not execute Write_rows_v1" in verdict.message


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"sql_running": "No"}, "SQL thread not running"),
        ({"io_running": "No"}, "IO thread not running"),
        (
            {"io_running": "Connecting", "last_io_errno": 1045, "last_io_error": "Access denied for user"},
            "IO thread error 1045: Access denied for user",
        ),
    ],
)
def test_verdict_broken_when_a_thread_stopped(changes, reason):
    verdict = lag_verdict(status(**changes), 5)
    assert verdict.state is LagState.BROKEN
    assert reason in verdict.message


def test_verdict_waits_while_blue_is_unreachable_and_the_io_thread_retries():
    verdict = lag_verdict(
        status(io_running="Connecting", last_io_errno=2003, last_io_error="error reconnecting to master"), 5
    )
    assert verdict.state is LagState.LAGGING
    assert "reconnecting to blue after IO thread error 2003" in verdict.message


def test_verdict_io_thread_still_connecting_without_an_error_is_worth_waiting_for():
    verdict = lag_verdict(status(io_running="Connecting", seconds_behind=None), 5)
    assert verdict.state is LagState.LAGGING
    assert "IO thread is Connecting" in verdict.message
