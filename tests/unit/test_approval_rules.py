"""Who may answer an approval, how long it waits, what its answer means, and how often lag is logged."""

import math
from datetime import datetime, timedelta, timezone

import pytest

from aurora_bluegreen.approval import (
    DEFAULT_TIMEOUT_HOURS,
    ApprovalRule,
    approval_outcome,
    approval_rule,
)
from aurora_bluegreen.catchup import LagLog, LagState, LagVerdict, observed
from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus


def test_the_runs_values_win_over_the_configuration():
    rule = approval_rule(["alice", "bob"], 8, configured_approvers="carol", configured_timeout_hours="24")
    assert rule == ApprovalRule(("alice", "bob"), 8.0)


def test_empty_values_fall_back_to_the_configuration_then_the_default():
    assert approval_rule([], None, "carol, dave", "24") == ApprovalRule(("carol", "dave"), 24.0)
    assert approval_rule(None, "", "", "") == ApprovalRule((), DEFAULT_TIMEOUT_HOURS)
    assert "anyone" in approval_rule(None, None).describe()
    assert "alice" in approval_rule("alice", 1).describe()


@pytest.mark.parametrize(
    ("approvers", "hours", "configured_hours", "field", "shown"),
    [
        ([1], 1, "", "approvers", "[1]"),
        ({"id": "alice"}, 1, "", "approvers", "{'id': 'alice'}"),
        (None, 0, "", "approval_timeout_hours", "0"),
        (None, 721, "", "approval_timeout_hours", "721"),
        (None, math.nan, "", "approval_timeout_hours", "nan"),
        (None, math.inf, "", "approval_timeout_hours", "inf"),
        (None, True, "", "approval_timeout_hours", "True"),
        (None, "8", "", "approval_timeout_hours", "'8'"),
        (None, None, "soon", "[aurora_bluegreen] approval_timeout_hours", "'soon'"),
        (None, None, "nan", "[aurora_bluegreen] approval_timeout_hours", "nan"),
    ],
)
def test_bad_values_are_refused_by_name_with_the_value(approvers, hours, configured_hours, field, shown):
    with pytest.raises(InvalidInput) as refused:
        approval_rule(approvers, hours, "", configured_hours)
    assert refused.value.field == field
    assert f"{field}={shown} is invalid" in str(refused.value)


def test_blank_approvers_are_dropped():
    assert approval_rule(["", " alice "], 1).approvers == ("alice",)


RULE = ApprovalRule(("alice",), 72.0)
SUBJECT = "Cut over blue to green?"


def test_a_timeout_is_a_rejection_that_says_so():
    outcome = approval_outcome(["Reject"], None, True, RULE, SUBJECT)
    assert not outcome.approved and outcome.timed_out
    assert outcome.message == (
        "Cut over blue to green?: rejected, because nobody answered within 72 h. "
        "Nothing changed: blue is untouched and green keeps replicating."
    )


def test_answers_name_who_gave_them():
    approved = approval_outcome(["Approve"], {"id": "alice", "name": "Alice"}, False, RULE, SUBJECT)
    assert approved.approved and approved.message == "Cut over blue to green?: approved by Alice."
    rejected = approval_outcome(["Reject"], {"id": "alice", "name": ""}, False, RULE, SUBJECT)
    assert not rejected.approved and not rejected.timed_out
    assert "rejected by alice" in rejected.message and "Nothing changed" in rejected.message


LAGGING = LagVerdict(LagState.LAGGING, "lagging")
CAUGHT_UP = LagVerdict(LagState.CAUGHT_UP, "caught up")
BROKEN = LagVerdict(LagState.BROKEN, "broken")


def test_lag_is_logged_first_on_every_change_and_otherwise_once_a_period():
    log = LagLog(every=60)
    polls = [(0, LAGGING), (2, LAGGING), (58, LAGGING), (60, LAGGING), (62, LAGGING), (64, CAUGHT_UP)]
    assert [t for t, verdict in polls if log.wanted(verdict, t)] == [0, 60, 64]


def test_a_state_change_is_logged_at_once_however_soon():
    log = LagLog(every=60)
    assert log.wanted(LAGGING, 0) and log.wanted(BROKEN, 0.5) and log.wanted(LAGGING, 1)
    assert not log.wanted(LAGGING, 2)


def test_six_hours_of_two_second_polls_make_a_readable_log():
    log = LagLog(every=60)
    lines = sum(log.wanted(LAGGING, t) for t in range(0, 6 * 3600, 2))
    assert lines == 6 * 60


def test_the_sensors_figures_carry_the_time_they_were_read():
    status = ReplicaStatus(
        io_running="Yes",
        sql_running="Yes",
        seconds_behind=0,
        source_host="127.0.0.1",
        source_port=3306,
        read_position=BinlogPosition("binlog.000001", 100),
        exec_position=BinlogPosition("binlog.000001", 100),
    )
    at = datetime(2026, 12, 2, 3, 30, 5, 123, tzinfo=timezone.utc)
    record = observed(status, at)
    assert record["observed_at"] == "2026-12-02 03:30:05 UTC"
    assert record["seconds_behind"] == 0 and record["exec_position"] == {
        "file": "binlog.000001",
        "position": 100,
    }
    assert observed(None, at) is None


class FakeTi:
    start_date = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
    map_index = -1

    def __init__(self, xcoms=None):
        self.pushed = {}
        self.xcoms = xcoms or {}

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, task_ids, key="return_value"):
        return self.xcoms.get((task_ids, key))


def approval_dag():
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    from aurora_bluegreen.operators.approval import CutoverApprovalOperator, RejectionNoticeOperator

    with DAG("approval_rules", schedule=None) as dag:
        approve = CutoverApprovalOperator(task_id="approve", subject=SUBJECT, approvers=["alice"])
        cutover = EmptyOperator(task_id="cutover")
        approve >> cutover >> RejectionNoticeOperator(task_id="rejected", approval_task_id="approve")
    return dag


def test_a_rejection_leaves_its_outcome_although_airflow_ends_the_task_while_skipping():
    from airflow.sdk.exceptions import DownstreamTasksSkipped

    approve = approval_dag().get_task("approve")
    ti = FakeTi()
    event = {
        "chosen_options": ["Reject"],
        "params_input": {},
        "responded_at": FakeTi.start_date + timedelta(hours=72),
        "responded_by_user": None,
        "timedout": True,
    }
    with pytest.raises(DownstreamTasksSkipped):
        approve.execute_complete({"ti": ti, "task": approve}, event)
    assert ti.pushed["outcome"] == {
        "approved": False,
        "timed_out": True,
        "outcome": "Cut over blue to green?: rejected, because nobody answered within 72 h. "
        "Nothing changed: blue is untouched and green keeps replicating.",
    }


def test_the_rejection_notice_repeats_the_outcome():
    notice = approval_dag().get_task("rejected")
    assert notice.trigger_rule == "all_skipped"
    ti = FakeTi({("approve", "outcome"): {"outcome": "rejected by alice. Nothing changed."}})
    assert notice.execute({"ti": ti}) == "rejected by alice. Nothing changed."
    assert "holds no answer: nothing changed" in notice.execute({"ti": FakeTi()})
