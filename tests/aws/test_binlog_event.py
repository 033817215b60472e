"""The parser of the clone's crash-recovery event, on the forms the message reaches us in.

The message text is AWS's (Aurora user guide, binlog replication with clones). Where it is shown
differs: ``describe-events`` and the console give it bare, EventBridge wraps it, the error log
prefixes it, and the binlog base name follows blue's ``log_bin`` setting.
"""

from datetime import datetime, timedelta, timezone

import pytest

from aurora_bluegreen.binlog_event import clone_point, parse_crash_recovery_message
from aurora_bluegreen.models import BinlogPosition

GTID = "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-27"


@pytest.mark.parametrize(
    ("message", "file", "position"),
    [
        # As describe-events and the RDS console print it (the documented text).
        (
            "Binlog position from crash recovery is mysql-bin-changelog.000003 4278",
            "mysql-bin-changelog.000003",
            4278,
        ),
        # The console's copy with a closing full stop, and surrounding whitespace from a CLI table.
        (
            "  Binlog position from crash recovery is mysql-bin-changelog.000012 154.\n",
            "mysql-bin-changelog.000012",
            154,
        ),
        # Aurora MySQL 3's error log line, with its prefix.
        (
            "2024-03-29T10:15:01.123456Z 0 [Note] [MY-010000] [Server] Binlog position from crash recovery "
            "is mysql-bin-changelog.000101 95127544",
            "mysql-bin-changelog.000101",
            95127544,
        ),
        # A base name other than Aurora's default, and a larger file number.
        ("Binlog position from crash recovery is mysql-bin.1000042 4", "mysql-bin.1000042", 4),
        # Lower case, a colon, and a labelled offset.
        (
            "binlog position from crash recovery is: mysql-bin-changelog.000007, position 120",
            "mysql-bin-changelog.000007",
            120,
        ),
        # Quoted file name.
        (
            "Binlog position from crash recovery is 'mysql-bin-changelog.000003' 4278",
            "mysql-bin-changelog.000003",
            4278,
        ),
    ],
)
def test_reads_file_and_offset_from_each_form(message, file, position):
    parsed = parse_crash_recovery_message(message)
    assert parsed is not None
    assert parsed.position == BinlogPosition(file, position)
    assert parsed.gtid_set is None


def test_reads_a_gtid_set_that_follows_the_position():
    parsed = parse_crash_recovery_message(
        f"Binlog position from crash recovery is mysql-bin-changelog.000003 4278, GTID set: {GTID}"
    )
    assert parsed.position == BinlogPosition("mysql-bin-changelog.000003", 4278)
    assert parsed.gtid_set == GTID


@pytest.mark.parametrize(
    "message",
    [
        "DB instance restarted",
        "Binlog position from crash recovery is",
        "Binlog position from crash recovery is mysql-bin-changelog 4278",  # no file number
        "Binlog position from crash recovery is mysql-bin-changelog.000003",  # no offset
        "Binlog position from crash recovery is mysql-bin-changelog.000003 4278.5",  # not an offset
        "",
    ],
)
def test_refuses_what_it_cannot_read_exactly(message):
    assert parse_crash_recovery_message(message) is None


def test_the_first_event_is_the_clone_point_not_a_later_reboot():
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    events = [
        (
            start + timedelta(minutes=9),
            "Binlog position from crash recovery is mysql-bin-changelog.000002 900",
        ),
        (start, "DB instance created"),
        (
            start + timedelta(minutes=2),
            "Binlog position from crash recovery is mysql-bin-changelog.000003 4278",
        ),
    ]
    point = clone_point(events)
    assert point.position == BinlogPosition("mysql-bin-changelog.000003", 4278)
    assert point.date == start + timedelta(minutes=2)


def test_no_crash_recovery_event_means_no_clone_point():
    assert clone_point([(None, "DB instance created"), (None, "Finished DB instance backup")]) is None
