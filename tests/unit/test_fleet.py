"""The fleet: its plan refuses collisions before anything changes, its summary says what became of
each cluster, and its DAG has the waves, the cap on cutovers and the two kinds of approval."""

from __future__ import annotations

import itertools

import pytest
from airflow.sdk.definitions.param import ParamValidationError
from helpers import DAGS_DIR, load_dag

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.fleet import (
    CUT_OVER,
    NOT_REACHED,
    REJECTED,
    ROLLED_BACK,
    FleetMember,
    approval_table,
    fleet_problem,
    outcome,
    plan_waves,
    summary_table,
    wave_members,
)


def member(n, **extra):
    return {
        "blue_cluster_id": f"blue-{n}",
        "green_cluster_id": f"green-{n}",
        "repoint": f"sandbox:app{n}",
        **extra,
    }


@pytest.fixture(scope="module")
def fleet_dag():
    return load_dag(DAGS_DIR / "aurora_bluegreen_fleet.py", "fleet_dag")


def test_waves_in_order_of_wave_size_with_default_writer_ids():
    waves = plan_waves([member(n) for n in range(1, 6)], wave_size=2)
    assert [[m.blue_cluster_id for m in wave] for wave in waves] == [
        ["blue-1", "blue-2"],
        ["blue-3", "blue-4"],
        ["blue-5"],
    ]
    assert waves[0][0] == FleetMember("blue-1", "green-1", "green-1-writer", "sandbox:app1")
    assert wave_members([member(1)], 2, 1)[0]["writer_instance_id"] == "green-1-writer"
    assert wave_members([member(1)], 2, 2) == []


@pytest.mark.parametrize(
    ("clusters", "wave_size", "field"),
    [
        (
            [member(1), member(1, green_cluster_id="green-9", repoint="sandbox:x")],
            2,
            "clusters[].blue_cluster_id",
        ),
        ([member(1), member(2, green_cluster_id="green-1")], 2, "clusters[].green_cluster_id"),
        ([member(1), member(2, green_cluster_id="blue-1")], 2, "clusters[].green_cluster_id"),
        ([member(1), member(2, repoint="sandbox:app1")], 2, "clusters[].repoint"),
        ([member(1, green_cluster_id="blue-1")], 2, "green_cluster_id"),
        ([member(1, blue_cluster_id="None'; DROP")], 2, "clusters[0].blue_cluster_id"),
        ([member(n) for n in range(9)], 2, "clusters"),
        ([], 2, "clusters"),
        ([member(1)], 0, "wave_size"),
    ],
)
def test_the_plan_refuses_before_anything_changes(clusters, wave_size, field):
    with pytest.raises(InvalidInput) as refused:
        plan_waves(clusters, wave_size)
    assert refused.value.field == field


def test_outcomes_from_reports_failures_and_answers():
    one = FleetMember("blue-1", "green-1", "green-1-writer", "none")
    position = {"file": "binlog.000002", "position": 1234}
    done = outcome(
        1,
        one,
        {
            "freeze_ms": 42.5,
            "blue_final_position": position,
            "green_executed_position": position,
            "reverse_replication": "blue-1 replicates from green-1",
        },
        None,
        rejected=False,
    )
    assert (done.state, done.freeze_ms, done.missing_events) == (CUT_OVER, 42.5, 0)
    assert "reverse" not in done.rollback and "blue-1 replicates from green-1" in done.rollback
    back = outcome(
        2, one, None, {"rolled_back": True, "failure": "freeze budget exceeded", "freeze_ms": 5001}, False
    )
    assert (back.state, back.missing_events) == (ROLLED_BACK, 0) and "freeze budget exceeded" in back.rollback
    assert outcome(2, one, None, None, rejected=True).state == REJECTED
    assert outcome(3, one, None, None, rejected=False).state == NOT_REACHED

    assert fleet_problem([done]) is None
    assert "cutover failed for blue-1" in fleet_problem([done, back])
    assert (
        fleet_problem([done, outcome(2, one, None, None, True), outcome(3, one, None, None, False)]) is None
    )
    assert "never reached the cutover: blue-1" in fleet_problem([outcome(1, one, None, None, False)])
    table = summary_table([done, back])
    assert "| 1 | `blue-1` | `green-1` | cut over | 42.5 | 0 |" in table
    assert "rolled back | 5001.0 | 0 |" in table


def test_the_approval_lists_every_cluster_with_lag_and_replication():
    lag = {
        "seconds_behind": 0,
        "io_running": "Yes",
        "sql_running": "Yes",
        "exec_position": {"file": "binlog.000003", "position": 77},
    }
    broken = {**lag, "sql_running": "No"}
    table = approval_table([member(1), member(2)], [lag, broken], 5)
    assert "`blue-1` | `green-1` | 0 (threshold 5) | both threads running | `binlog.000003:77`" in table
    assert "IO Yes SQL No" in table


def test_the_dag_deploys_waves_one_after_the_other(fleet_dag):
    for wave in (1, 2):
        group = f"wave_{wave}"
        chain = ["clone_green", "record_teardown_facts", "start_replication", "wait_for_catch_up"]
        for upstream, downstream in itertools.pairwise(chain):
            assert f"{group}.{downstream}" in fleet_dag.get_task(f"{group}.{upstream}").downstream_task_ids
        cutover = fleet_dag.get_task(f"{group}.cutover")
        # Its member's repoint target comes from the wave's members; the approvals gate it.
        assert cutover.upstream_task_ids == {
            f"approve_wave_{wave}",
            f"{group}.approve_cluster",
            f"wave_{wave}_members",
        }
        assert cutover.trigger_rule == "none_failed_min_one_success"
        assert cutover.max_active_tis_per_dagrun == 2
        assert cutover.approval_task_id == [f"approve_wave_{wave}", f"{group}.approve_cluster"]
        assert f"{group}.wait_for_catch_up" in fleet_dag.get_task(f"approve_wave_{wave}").upstream_task_ids
        assert fleet_dag.get_task(f"{group}.wait_for_catch_up").deferrable
    # The next wave starts only after every verify of this one (all_success: a failure stops it).
    assert "wave_1.verify" in fleet_dag.get_task("wave_2_members").upstream_task_ids
    assert fleet_dag.get_task("wave_2_members").trigger_rule == "all_success"
    assert fleet_dag.get_task("summary").trigger_rule == "all_done"
    hold, release = fleet_dag.get_task("hold_blue"), fleet_dag.get_task("release_blue")
    assert hold.upstream_task_ids == {"plan"} and "wave_1_members" in hold.downstream_task_ids
    assert release.is_teardown and "summary" in release.upstream_task_ids
    assert "blue_cluster_ids" in hold.cluster_ids
    # Who is asked: each approval asks only when the form chose its kind, and skips itself otherwise.
    assert fleet_dag.get_task("approve_wave_1").asked == "{{ params.approval == 'wave' }}"
    assert fleet_dag.get_task("wave_1.approve_cluster").asked == "{{ params.approval == 'cluster' }}"


def test_the_cap_on_parallel_cutovers_is_configuration(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AURORA_BLUEGREEN__FLEET_MAX_PARALLEL_CUTOVERS", "3")
    dag = load_dag(DAGS_DIR / "aurora_bluegreen_fleet.py", "fleet_dag_cap3")
    assert dag.get_task("wave_1.cutover").max_active_tis_per_dagrun == 3
    assert "at most\n3 at a time" in dag.get_task("approve_wave_1").body


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("clusters", []),
        ("clusters", [{"blue_cluster_id": "blue-1", "green_cluster_id": "green-1"}]),
        ("clusters", [{**member(1), "extra": "x"}]),
        ("clusters", [member(1, blue_cluster_id="blue_1")]),
        ("wave_size", 0),
        ("approval", "nobody"),
        ("max_freeze_seconds", 0),
    ],
)
def test_the_form_rejects(fleet_dag, name, value):
    with pytest.raises(ParamValidationError):
        fleet_dag.params.get_param(name).resolve(value)


def test_the_form_defaults_are_valid(fleet_dag):
    fleet_dag.params.validate()
    plan_waves(fleet_dag.params["clusters"], fleet_dag.params["wave_size"])


def test_the_approval_not_asked_skips_itself():
    from airflow.sdk.exceptions import AirflowSkipException

    from aurora_bluegreen.operators.fleet import AskedApprovalOperator

    approval = AskedApprovalOperator(task_id="approve", subject="Cut over?", asked=False)
    with pytest.raises(AirflowSkipException, match="per wave or per cluster"):
        approval.execute({})


class AnsweredTi:
    """Approval answers by (task id, map index), as XCom holds them."""

    def __init__(self, map_index, answers):
        self.map_index, self.answers = map_index, answers

    def xcom_pull(self, task_ids, map_indexes):
        return self.answers.get((task_ids, map_indexes))


@pytest.mark.parametrize(
    ("map_index", "answers", "approved"),
    [
        (1, {("approve_wave_1", -1): {"chosen_options": ["Approve"]}}, True),
        (1, {("wave_1.approve_cluster", 1): {"chosen_options": ["Approve"]}}, True),
        # Another member's answer is not this member's.
        (1, {("wave_1.approve_cluster", 0): {"chosen_options": ["Approve"]}}, False),
        (0, {("wave_1.approve_cluster", 0): {"chosen_options": ["Reject"]}}, False),
        (0, {}, False),
    ],
)
def test_a_fleet_cutover_goes_by_the_approval_that_was_asked(map_index, answers, approved):
    from aurora_bluegreen.operators.cutover import CutoverOperator

    cutover = CutoverOperator(
        task_id="cutover",
        blue_cluster_id="blue-1",
        green_cluster_id="green-1",
        replication_conn_id="repl",
        control_plane_conn_id="cp",
        admin_conn_id="admin",
        approval_task_id=["approve_wave_1", "wave_1.approve_cluster"],
    )
    assert cutover._approved({"ti": AnsweredTi(map_index, answers)}) is approved
