"""Freezing a blue that has no ``mysql.rds_set_read_only`` (Aurora MySQL 2, 3 before 3.06), on
sandbox servers of both engines that play such versions.

- The default method is refused by the preflight, in its first seconds, naming the ways out.
- ``parameter_group``: blue's own custom group holds the freeze, only where no other cluster uses
  it and never a default group; a rollback writes read_only=0 back; nothing acknowledged is lost.
- ``application_stops``: blue's binlog must stand still; an application that keeps writing stops
  the cutover, and a write that gets in after blue's final position undoes it.
"""

from __future__ import annotations

import itertools
import time

import pytest
from helpers import replicating_pair, sandbox_connections, scalar, write_orders

from aurora_bluegreen.errors import ClusterStateError, CutoverFailed
from aurora_bluegreen.freeze_methods import APPLICATION_STOPS, PARAMETER_GROUP
from aurora_bluegreen.models import CloneSpec, ParameterStatus
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.sandbox.endpoints import read_endpoint
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

pytestmark = pytest.mark.integration

PLANES = {"control_plane_conn_id": "freeze_cp", "admin_conn_id": "freeze_admin"}
BEFORE_RDS_SET_READ_ONLY = "3.05.2"
_ids = itertools.count(1)


@pytest.fixture
def old_pair(request, sandbox, replication, set_connections):
    """Blue playing Aurora MySQL 3.05 (or the version a test asks for) with the application on it;
    green replicating from it."""
    set_connections(
        sandbox_connections(
            sandbox,
            control_plane="freeze_cp",
            admin="freeze_admin",
            replication=("freeze_repl", "repl_freeze", "frz-Pass-1"),
        )
    )
    n = next(_ids)
    ids = {"blue": f"blue-frz{n}", "green": f"green-frz{n}", "endpoint": f"app_frz{n}"}
    version = getattr(request, "param", BEFORE_RDS_SET_READ_ONLY)
    replicating_pair(sandbox, replication, ids, PLANES, "freeze_repl", version)
    before = sandbox.parameter_apply_seconds
    sandbox.set_parameter_apply_seconds(0.5)
    yield ids
    sandbox.set_parameter_apply_seconds(before)
    for cluster_id in (ids["green"], f"{ids['blue']}-sharer"):
        if sandbox.find(cluster_id):
            sandbox.delete(cluster_id)
    sandbox.stop_server(ids["blue"])


def preflight(pair, **overrides):
    arguments = {
        "task_id": "preflight",
        "blue_cluster_id": pair["blue"],
        "green_cluster_id": pair["green"],
        "writer_instance_id": "w",
        "binlog_retention_hours": 24,
        "max_lag_seconds": 5,
        "max_freeze_seconds": 10,
        "replication_conn_id": "freeze_repl",
        **PLANES,
        **overrides,
    }
    return PreflightOperator(**arguments)


def cutover(pair, **overrides):
    arguments = {
        "task_id": "cutover",
        "blue_cluster_id": pair["blue"],
        "green_cluster_id": pair["green"],
        "replication_conn_id": "freeze_repl",
        "max_freeze_seconds": 130,
        "max_lag_seconds": 30,
        "repoint": f"sandbox:{pair['endpoint']}",
        **PLANES,
        **overrides,
    }
    return CutoverOperator(**arguments)


def read_only(sandbox, cluster_id) -> int:
    with sandbox.connect(cluster_id) as root:
        return scalar(root, "SELECT @@GLOBAL.read_only")


def test_the_default_method_is_refused_in_the_first_seconds_naming_the_ways_out(sandbox, old_pair):
    started = time.monotonic()
    with pytest.raises(ClusterStateError) as refused:
        preflight(old_pair).execute({})
    message = str(refused.value)
    assert "has no mysql.rds_set_read_only" in message and "3.05.2" in message
    assert "its parameter group could hold the freeze: freeze_method=parameter_group" in message
    assert "freeze_method=application_stops" in message
    assert time.monotonic() - started < 5
    # The cutover refuses it too, before anything changes.
    with pytest.raises(ClusterStateError, match=r"has no mysql\.rds_set_read_only"):
        cutover(old_pair).execute({})
    assert read_only(sandbox, old_pair["blue"]) == 0


def test_a_parameter_group_freeze_needs_a_budget_for_parameter_changes(sandbox, old_pair):
    with pytest.raises(ClusterStateError, match="allow at least 120s"):
        preflight(old_pair, freeze_method=PARAMETER_GROUP, max_freeze_seconds=10).execute({})
    result = preflight(old_pair, freeze_method=PARAMETER_GROUP, max_freeze_seconds=130).execute({})
    assert result["freeze_method"] == PARAMETER_GROUP


def test_a_default_or_shared_parameter_group_never_holds_the_freeze(sandbox, old_pair):
    blue = old_pair["blue"]
    sandbox.use_parameter_group(blue, "default.aurora-mysql8.0")
    with pytest.raises(ClusterStateError, match="engine's default parameter group"):
        preflight(old_pair, freeze_method=PARAMETER_GROUP, max_freeze_seconds=130).execute({})
    # The default method's refusal says the other way is closed too.
    with pytest.raises(ClusterStateError, match="freeze_method=parameter_group cannot be used either"):
        preflight(old_pair).execute({})

    sandbox.use_parameter_group(blue, f"{blue}-cluster-params")
    sharer = f"{blue}-sharer"
    sandbox.clone(CloneSpec(blue, sharer, f"{sharer}-1", tags={"role": "qa"}))
    sandbox.use_parameter_group(sharer, f"{blue}-cluster-params")
    with pytest.raises(ClusterStateError, match=f"also used by {sharer}"):
        cutover(old_pair, freeze_method=PARAMETER_GROUP).execute({})
    assert sandbox.parameter_status(blue)["read_only"] == ParameterStatus("0", applied=True)
    assert read_only(sandbox, blue) == 0


def test_a_parameter_group_freeze_cuts_over_under_load_and_loses_nothing(sandbox, connect, old_pair):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, old_pair["endpoint"], rate=200)
    load.start()
    try:
        time.sleep(0.5)
        report = cutover(old_pair, freeze_method=PARAMETER_GROUP).execute({})
        time.sleep(0.5)
    finally:
        summary = load.stop()
    blue, green = old_pair["blue"], old_pair["green"]
    assert report["freeze_method"] == PARAMETER_GROUP and report["rolled_back"] is False
    assert read_endpoint(sandbox.endpoint_file(old_pair["endpoint"])).cluster_id == green
    # Blue was frozen through its own group, which keeps it read-only across a reboot.
    assert sandbox.parameter_status(blue)["read_only"].value == "1"
    assert read_only(sandbox, blue) == 1 and read_only(sandbox, green) == 0
    assert summary.counters.acknowledged > 0
    with connect(green, "root") as root:
        assert missing_writes(load.acked_ids_file, root) == []
    state = VerifyCutoverOperator(
        task_id="verify",
        blue_cluster_id=blue,
        green_cluster_id=green,
        freeze_method=PARAMETER_GROUP,
        **PLANES,
    ).execute({})
    assert all(state.values()), state


class FailingRepointer:
    def check(self):
        pass

    def repoint(self, host, port, cluster_id):
        raise RuntimeError("the DNS change was refused")


def test_a_rollback_writes_read_only_0_back_into_blues_group(sandbox, connect, old_pair, monkeypatch):
    monkeypatch.setattr(
        "aurora_bluegreen.repointers.registry.repointer_for", lambda target, backend: FailingRepointer()
    )
    with pytest.raises(CutoverFailed, match="the DNS change was refused") as failure:
        cutover(old_pair, freeze_method=PARAMETER_GROUP).execute({})
    assert failure.value.report.rolled_back is True
    blue = old_pair["blue"]
    assert sandbox.parameter_status(blue)["read_only"] == ParameterStatus("0", applied=True)
    assert read_only(sandbox, blue) == 0 and read_only(sandbox, old_pair["green"]) == 1
    write_orders(connect, blue, "after-rollback")  # blue takes writes again


def test_application_stops_cuts_over_a_quiet_blue_without_switching_it(sandbox, connect, old_pair):
    write_orders(connect, old_pair["blue"], "before-the-stop")
    report = cutover(old_pair, freeze_method=APPLICATION_STOPS, quiet_seconds=1).execute({})
    blue, green = old_pair["blue"], old_pair["green"]
    assert report["rolled_back"] is False
    assert "stood still" in next(step["detail"] for step in report["steps"] if step["name"] == "freeze_blue")
    assert read_only(sandbox, blue) == 0 and read_only(sandbox, green) == 0
    with connect(green, "root") as root:
        assert scalar(root, "SELECT COUNT(*) FROM shop.orders WHERE request_id = 'before-the-stop'") == 1
    state = VerifyCutoverOperator(
        task_id="verify",
        blue_cluster_id=blue,
        green_cluster_id=green,
        freeze_method=APPLICATION_STOPS,
        **PLANES,
    ).execute({})
    assert state["blue_read_only"] is False and state["blue_took_no_writes_of_its_own"] is True


# 3.08: green switches by SQL there, so the budget need not allow for a parameter group.
@pytest.mark.parametrize("old_pair", ["3.08.0"], indirect=True)
def test_application_stops_refuses_an_application_that_keeps_writing(sandbox, connect, old_pair):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, old_pair["endpoint"], rate=50)
    load.start()
    try:
        with pytest.raises(CutoverFailed, match="did not stand still") as failure:
            cutover(old_pair, freeze_method=APPLICATION_STOPS, quiet_seconds=1, max_freeze_seconds=3).execute(
                {}
            )
    finally:
        summary = load.stop()
    assert failure.value.report.steps[-1].name == "rollback"
    assert read_endpoint(sandbox.endpoint_file(old_pair["endpoint"])).cluster_id == old_pair["blue"]
    assert summary.counters.acknowledged > 0 and summary.counters.errors == 0
    assert read_only(sandbox, old_pair["green"]) == 1


def test_a_write_after_blues_final_position_undoes_the_cutover_and_reaches_green(
    sandbox, connect, old_pair, monkeypatch
):
    """The application said it stopped, but one write gets in while green catches up: it must not
    be left behind on old blue. Injected right where it hurts: as replication stops on green."""
    from aurora_bluegreen.hooks.cluster_sql import ClusterSqlHook

    green_port = sandbox.describe(old_pair["green"]).port
    stop_replication = ClusterSqlHook.stop_replication

    def stop_after_a_late_write(hook):
        if hook.connection.port == green_port:
            write_orders(connect, old_pair["blue"], "late-write")
        stop_replication(hook)

    monkeypatch.setattr(ClusterSqlHook, "stop_replication", stop_after_a_late_write)
    with pytest.raises(CutoverFailed, match="blue took writes after its final position") as failure:
        cutover(old_pair, freeze_method=APPLICATION_STOPS, quiet_seconds=1).execute({})
    assert failure.value.report.rolled_back is True
    monkeypatch.undo()
    deadline = time.monotonic() + 10
    with connect(old_pair["green"], "root") as root:
        while scalar(root, "SELECT COUNT(*) FROM shop.orders WHERE request_id = 'late-write'") != 1:
            assert time.monotonic() < deadline, "the late write never reached green"
            time.sleep(0.1)
