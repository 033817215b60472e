"""The freeze-method decisions, without servers: which method can freeze which blue, in what budget,
and how ``application_stops`` tells a quiet blue from a busy one."""

from __future__ import annotations

import pytest

from aurora_bluegreen.errors import BlueNotQuiet, InvalidInput
from aurora_bluegreen.freeze_methods import (
    APPLICATION_STOPS,
    PARAMETER_GROUP,
    RDS_SET_READ_ONLY,
    QuietFreeze,
    freeze_refusal,
    minimum_freeze_seconds,
)
from aurora_bluegreen.models import BinlogPosition, SourceState
from aurora_bluegreen.parameter_groups import GroupFacts, read_only_refusal


@pytest.mark.parametrize(
    "method, green_by_sql, expected",
    [
        (RDS_SET_READ_ONLY, True, 0),
        (RDS_SET_READ_ONLY, False, 60),  # green released through its own group
        (PARAMETER_GROUP, False, 120),  # Aurora 2 and 3.0x: both switches through groups
        (PARAMETER_GROUP, True, 60),
        (APPLICATION_STOPS, True, 5),
        (APPLICATION_STOPS, False, 65),
    ],
)
def test_the_least_budget_counts_each_switch_through_a_parameter_group(method, green_by_sql, expected):
    assert minimum_freeze_seconds(method, green_switch_by_sql=green_by_sql, quiet_seconds=5) == expected


def refusal(method, *, has_procedure=True, group_refusal=None, budget=130, minimum=0):
    return freeze_refusal(
        method,
        blue_id="blue",
        blue_version="8.0.mysql_aurora.3.05.2",
        has_rds_set_read_only=has_procedure,
        group_refusal=group_refusal,
        max_freeze_seconds=budget,
        minimum_seconds=minimum,
    )


def test_the_default_method_on_a_blue_without_the_procedure_names_every_way_out():
    message = refusal(RDS_SET_READ_ONLY, has_procedure=False)
    assert "runs 8.0.mysql_aurora.3.05.2, which has no mysql.rds_set_read_only" in message
    assert "upgrade blue to 3.06" in message
    assert "its parameter group could hold the freeze: freeze_method=parameter_group" in message
    assert "freeze_method=application_stops" in message


def test_a_closed_way_out_is_named_as_closed():
    message = refusal(RDS_SET_READ_ONLY, has_procedure=False, group_refusal="g is also used by qa")
    assert "freeze_method=parameter_group cannot be used either: g is also used by qa" in message


def test_each_method_is_refused_only_for_its_own_reasons():
    assert refusal(RDS_SET_READ_ONLY) is None
    assert refusal(PARAMETER_GROUP, has_procedure=False) is None
    assert "g is the default" in refusal(PARAMETER_GROUP, group_refusal="g is the default")
    assert refusal(APPLICATION_STOPS, has_procedure=False, group_refusal="any") is None
    assert "allow at least 120s" in refusal(PARAMETER_GROUP, budget=10, minimum=120)
    with pytest.raises(InvalidInput, match="freeze_method"):
        refusal("flush_tables_with_read_lock")


@pytest.mark.parametrize(
    "facts, consented, refused",
    [
        (GroupFacts("mine", "f", managed=False, used_by=frozenset({"blue"})), False, "not created by"),
        (GroupFacts("mine", "f", managed=False, used_by=frozenset({"blue"})), True, None),
        (GroupFacts("mine", "f", managed=False, used_by=frozenset({"blue", "qa"})), True, "also used by qa"),
        (GroupFacts("ours", "f", managed=True, used_by=frozenset({"blue"})), False, None),
        (None, True, "default parameter group"),
    ],
)
def test_read_only_is_written_only_where_the_rule_allows(facts, consented, refused):
    name = facts.name if facts else "default.aurora-mysql8.0"
    reason = read_only_refusal(name, facts, "blue", user_consented=consented)
    assert (reason is None) if refused is None else (refused in reason)


class FakeBlue:
    """Blue's binlog as a list of states over time: each read takes the next."""

    def __init__(self, positions):
        self.states = [SourceState(BinlogPosition("binlog.000001", p)) for p in positions]

    def source_state(self):
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_a_blue_that_stands_still_for_the_quiet_interval_is_frozen_by_the_applications_stop():
    clock = FakeClock()
    freeze = QuietFreeze(FakeBlue([100, 200, 300, 300]), quiet_seconds=1, clock=clock, sleep=clock.sleep)
    note = freeze.freeze(deadline=30)
    assert "stood still at binlog.000001:300 for 1s" in note
    assert 1.4 <= clock.now < 1.5  # two moves seen, then one quiet second
    assert freeze.holds() and "nothing to undo" in freeze.thaw()


def test_a_blue_that_keeps_moving_is_refused_at_the_deadline():
    clock = FakeClock()
    freeze = QuietFreeze(FakeBlue(range(1000)), quiet_seconds=1, clock=clock, sleep=clock.sleep)
    with pytest.raises(BlueNotQuiet, match="has not stopped writing"):
        freeze.freeze(deadline=3)
    assert 3 < clock.now < 3.3
