"""``UpgradeGreenOperator`` on real sandbox servers (issue 14): green upgraded while blue takes writes.

On the MariaDB engine a real major upgrade runs (10.11 -> 11.8 on Debian 12, ``sandbox/upgrade.py``)
between replication start and the cutover, as in the deployment DAG; the cutover then lands on the
upgraded green with no acknowledged write missing. On the MySQL engine only one version exists
here: the operator refuses with that reason, before anything changes. The deployment's operators
and fixtures are those of ``test_deployment_operators``.
"""

from __future__ import annotations

import time

import pytest
import test_deployment_operators as operators
from test_deployment_operators import clone_and_replicate, cutover, start_load, wait_caught_up

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.green_upgrade import REVERSE_AFTER_UPGRADE
from aurora_bluegreen.models import BinlogPosition
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.upgrade import UpgradeGreenOperator
from aurora_bluegreen.sandbox.installations import release_series
from aurora_bluegreen.sandbox.load import missing_writes

pytestmark = pytest.mark.integration

# The deployment fixtures of the operators' tests: a fresh blue per test, its green's ids.
connections = operators.connections
deployment = operators.deployment


def upgrade_green(deployment, connections, target):
    return UpgradeGreenOperator(
        task_id="upgrade_green",
        blue_cluster_id=deployment["blue"],
        green_cluster_id=deployment["green"],
        target_engine_version=target,
        **connections,
    ).execute({})


def test_green_upgraded_under_load_takes_over_with_no_acknowledged_write_missing(
    sandbox, engine, connect, deployment, connections
):
    if engine != "mariadb":
        pytest.skip("a real upgrade runs on the MariaDB engine; the MySQL engine's refusal is tested below")
    targets = sandbox.upgrade_targets(deployment["blue"])
    if not targets:
        pytest.skip(f"no engine upgrade on this machine: {sandbox.upgrade_refusal(deployment['blue'])}")
    load = start_load(sandbox, deployment, rate=300)
    clone_and_replicate(deployment, connections)
    time.sleep(1)
    result = upgrade_green(deployment, connections, targets[0])
    wait_caught_up(deployment, connections, max_lag_seconds=5)
    report = cutover(deployment, connections)
    time.sleep(1)  # the application keeps writing, now to the upgraded green
    summary = load.stop()
    print(f"\n[upgrade_green] {result['seconds']}; {summary.counters.acknowledged} writes acknowledged")

    with connect(deployment["green"], "root") as green:
        assert missing_writes(load.acked_ids_file, green) == []
        with green.cursor() as cursor:
            cursor.execute("SELECT VERSION()")
            (green_version,) = cursor.fetchone()
    with connect(deployment["blue"], "root") as blue, blue.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        (blue_version,) = cursor.fetchone()
    assert release_series(green_version) == targets[0] != release_series(blue_version)
    assert green_version.split("-")[0].split(".") > blue_version.split("-")[0].split(".")
    assert result["green_version"].startswith(green_version) and result["blue_version"].startswith(
        blue_version
    )
    assert result["green_version_before"].startswith(blue_version)
    before, after = result["position_before"], result["position_after"]
    assert (before["source_host"], before["source_port"]) == (after["source_host"], after["source_port"])
    start, now = (BinlogPosition.from_dict(point["exec_position"]) for point in (before, after))
    assert now.sort_key() >= start.sort_key()  # resumed where it was: nothing replayed
    assert {"record_position", "upgrade", "resume_replication", "check_position"} <= set(result["seconds"])
    assert summary.counters.acknowledged > 0 and report["rolled_back"] is False
    # Old blue replicates from the upgraded green, and the report says what that can be relied on.
    assert report["reverse_replication"].startswith(f"{deployment['blue']} replicates from green")
    assert REVERSE_AFTER_UPGRADE in report["reverse_replication"]


def test_preflight_refuses_a_target_blue_cannot_reach_before_any_clone(
    sandbox, engine, deployment, connections, set_connections
):
    preflight = PreflightOperator(
        task_id="preflight",
        blue_cluster_id=deployment["blue"],
        green_cluster_id=deployment["green"],
        writer_instance_id="writer",
        binlog_retention_hours=24,
        max_lag_seconds=5,
        max_freeze_seconds=5,
        replication_conn_id="repl",
        target_engine_version="99.1",
        **connections,
    )
    reason = (
        "has none: .*single version here, MySQL 9.7" if engine == "mysql" else r"valid upgrade targets: 11\.8"
    )
    with pytest.raises(InvalidInput, match=f"target_engine_version='99.1' is invalid: must be .*{reason}"):
        preflight.execute({})
    assert sandbox.find(deployment["green"]) is None


def test_no_target_is_skipped_and_a_target_that_does_not_exist_changes_nothing(
    sandbox, engine, connect, deployment, connections
):
    clone_and_replicate(deployment, connections)
    skipped = upgrade_green(deployment, connections, None)
    assert skipped["skipped"] and skipped["green_version"] == skipped["blue_version"]
    version_before = sandbox.record(deployment["green"]).server_version
    reason = "single version here, MySQL 9.7" if engine == "mysql" else "valid upgrade targets: 11.8"
    with pytest.raises(InvalidInput, match=reason):
        upgrade_green(deployment, connections, "99.1")
    assert sandbox.record(deployment["green"]).server_version == version_before
    wait_caught_up(deployment, connections)  # still replicating, untouched
