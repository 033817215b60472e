"""The upgrade's decisions (``green_upgrade``) without servers: targets, replication resumed as it was."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest

from aurora_bluegreen.errors import ClusterStateError, InvalidInput, ReplicationBroken
from aurora_bluegreen.green_upgrade import (
    GreenUpgrade,
    ReplicationPoint,
    UpgradeStart,
    replication_not_resumed,
    target_refusal,
)
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus
from aurora_bluegreen.validation import engine_version

RUNNING = ReplicaStatus(
    io_running="Yes",
    sql_running="Yes",
    seconds_behind=0,
    source_host="blue.example",
    source_port=3306,
    read_position=BinlogPosition("mysql-bin-changelog.000007", 900),
    exec_position=BinlogPosition("mysql-bin-changelog.000007", 800),
)
BEFORE = ReplicationPoint.of(RUNNING)


def test_a_target_not_listed_is_refused_naming_the_valid_ones():
    assert target_refusal("green", "11.8", ["11.8"], None) is None
    rule = target_refusal("green", "12.0", ["11.4", "11.8"], None)
    assert rule == "one of green's valid upgrade targets: 11.4, 11.8"
    rule = target_refusal("green", "9.8", [], "a single version here, MySQL 9.7")
    assert rule == "a version green can be upgraded to, and it has none: a single version here, MySQL 9.7"


@pytest.mark.parametrize("value", ["11.8", "8.0.mysql_aurora.3.10.0", "5.7.mysql_aurora.2.12.4"])
def test_engine_versions_are_accepted(value):
    assert engine_version("target_engine_version", value) == value


@pytest.mark.parametrize("value", ["", "latest", "11", "11.8; DROP", 11.8, "1." + "1" * 70])
def test_anything_else_is_not_an_engine_version(value):
    with pytest.raises(InvalidInput, match="target_engine_version"):
        engine_version("target_engine_version", value)


def test_replication_resumed_from_the_same_point_or_later_passes():
    assert replication_not_resumed(BEFORE, RUNNING) is None
    later = replace(RUNNING, exec_position=BinlogPosition("mysql-bin-changelog.000008", 4))
    assert replication_not_resumed(BEFORE, later) is None


@pytest.mark.parametrize(
    ("after", "says"),
    [
        (None, "no longer a replica"),
        (replace(RUNNING, source_host="other.example"), "not blue.example:3306"),
        (replace(RUNNING, sql_running="No", last_sql_errno=1146, last_sql_error="no table"), "1146"),
        (replace(RUNNING, auto_position=True), "by file and position before"),
        (replace(RUNNING, io_running="Connecting"), "not running"),
        (replace(RUNNING, exec_position=BinlogPosition("mysql-bin-changelog.000007", 4)), "went back"),
    ],
)
def test_replication_not_as_it_was_is_named(after, says):
    assert says in replication_not_resumed(BEFORE, after)


def test_a_gtid_replica_must_still_report_its_executed_set():
    gtid = replace(RUNNING, auto_position=True, executed_gtid_set="0-1-42")
    before = ReplicationPoint.of(gtid)
    assert replication_not_resumed(before, gtid) is None
    assert "reports none" in replication_not_resumed(before, replace(gtid, executed_gtid_set=None))


def test_the_start_survives_a_deferral_as_json():
    start = UpgradeStart(
        "11.8", "2026-12-02T04:00:00+00:00", BEFORE, "10.11.19", "10.11.19", {"upgrade": 1.5}
    )
    assert UpgradeStart.from_dict(start.to_dict()) == start


class FakeGreen:
    server_version = "10.11.19-MariaDB"

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.started = 0

    def replica_status(self):
        return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def start_replication(self):
        self.started += 1


class FakeControlPlane:
    def __init__(self, targets=("11.8",), failure=None, runs=None):
        self.targets, self.failure, self.upgraded, self.runs = list(targets), failure, [], runs

    def describe(self, cluster_id):
        return None

    def engine_upgrade_targets(self, cluster_id):
        return self.targets

    def engine_upgrade_refusal(self, cluster_id):
        return None if self.targets else "no newer MariaDB"

    def upgrade_engine(self, cluster_id, target):
        self.upgraded.append((cluster_id, target))

    def runs_engine_version(self, cluster_id, target):
        return self.runs if self.runs is not None else bool(self.upgraded) and self.failure is None

    def upgrade_failure(self, cluster_id, since):
        return self.failure


def upgrade(backend, green):
    return GreenUpgrade("blue", "green", backend, lambda: green, lambda: green, sleep=lambda _: None)


def test_an_invalid_target_or_a_broken_replica_changes_nothing():
    backend = FakeControlPlane()
    with pytest.raises(InvalidInput, match=r"valid upgrade targets: 11\.8"):
        upgrade(backend, FakeGreen([RUNNING])).begin("12.0")
    broken = replace(RUNNING, sql_running="No", last_sql_errno=1062, last_sql_error="Duplicate entry")
    with pytest.raises(ReplicationBroken, match="Duplicate entry"):
        upgrade(backend, FakeGreen([broken])).begin("11.8")
    assert backend.upgraded == []


def test_replication_the_restart_stopped_is_started_again_and_checked():
    stopped = replace(RUNNING, io_running="No", sql_running="No")
    green = FakeGreen([RUNNING, stopped, RUNNING])
    work = upgrade(FakeControlPlane(), green)
    start = work.begin("11.8")
    work.wait_here(start, 0, 10)
    result = work.finish(start, 0)
    assert green.started == 1 and result.replication_restarted
    assert result.position_after == BEFORE
    assert set(result.seconds) >= {"versions", "target", "record_position", "upgrade", "wait", "total"}


def test_a_failed_upgrade_fails_with_the_control_planes_words():
    precheck = "Database cluster is in a state that cannot be upgraded: Upgrade prechecks failed."
    work = upgrade(FakeControlPlane(failure=precheck), FakeGreen([RUNNING]))
    start = work.begin("11.8")
    assert datetime.fromisoformat(start.started_at) <= datetime.now(timezone.utc)
    with pytest.raises(ClusterStateError, match=r"Upgrade prechecks failed\..*Blue was not touched"):
        work.wait_here(start, 0, 10)


def test_a_retry_after_the_upgrade_finds_green_on_the_target_and_finishes():
    """The target is no longer among an upgraded green's targets: that is no reason to refuse."""
    backend = FakeControlPlane(targets=(), runs=True)
    work = upgrade(backend, FakeGreen([RUNNING]))
    start = work.begin("11.8")
    work.wait_here(start, 0, 10)
    assert work.finish(start, 0).position_after == BEFORE
