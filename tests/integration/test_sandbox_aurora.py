"""How strictly the sandbox plays Aurora, on each engine: versions, parameter groups, reboots.

- Every cluster carries an Aurora MySQL version that decides its ``mysql.rds_*`` procedures and
  what ``aurora_version()`` answers; clones inherit it.
- A cluster's parameter group holds read_only: a restart applies it and forgets runtime switches,
  and a change through the control plane takes a while to apply.
- Replication that the rds procedures left running resumes after a restart or a crash.
- ``describe`` tells a stopped server from one that runs but does not answer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pymysql
import pytest
from helpers import scalar, write_orders

from aurora_bluegreen.control_plane.sandbox import SandboxBackend
from aurora_bluegreen.errors import CloneConflict, InvalidInput, NotManagedByUs
from aurora_bluegreen.models import CloneSpec, ParameterStatus
from aurora_bluegreen.sandbox import Sandbox
from aurora_bluegreen.sandbox.aurora import AURORA_2_ONLY, AURORA_3_ONLY
from aurora_bluegreen.sandbox.procedures import installed_procedures
from aurora_bluegreen.sandbox.sandbox import HOST

pytestmark = pytest.mark.integration

AURORA_2 = "2.11.2"
SP_DOES_NOT_EXIST = 1305
CANT_INITIALIZE_UDF = 1123
READ_ONLY_ERROR = 1290


def _clone(sandbox: Sandbox, cluster_id: str, source: str = "blue", read_only: bool = True) -> str:
    sandbox.clone(CloneSpec(source, cluster_id, f"{cluster_id}-1", tags={"role": "qa"}, read_only=read_only))
    return cluster_id


def _wait(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Seconds until ``condition()`` is true; fails the test after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what} not within {timeout}s"
        time.sleep(0.02)
    return time.monotonic() - started


def _call(sandbox: Sandbox, cluster_id: str, statement: str) -> None:
    """``statement`` as the master user, as an application of Aurora's would run it."""
    with sandbox.connect(cluster_id, "admin") as admin, admin.cursor() as cursor:
        cursor.execute(statement)


def _read_only(sandbox: Sandbox, cluster_id: str) -> int:
    with sandbox.connect(cluster_id) as root:
        return scalar(root, "SELECT @@GLOBAL.read_only")


@pytest.fixture(scope="module")
def green(sandbox: Sandbox) -> Iterator[str]:
    """A read-only clone of blue that the tests below restart, reconfigure and stop."""
    yield _clone(sandbox, "fid-green")
    sandbox.delete("fid-green")


@pytest.fixture(scope="module")
def aurora2(sandbox: Sandbox) -> Iterator[str]:
    """A second blue playing Aurora MySQL 2; stopped after the module (only ``down`` removes a blue)."""
    started = time.monotonic()
    sandbox.create_blue("blue-aurora2", aurora_version=AURORA_2)
    print(f"\n[timing] create_blue Aurora {AURORA_2}: {time.monotonic() - started:.2f}s")
    yield "blue-aurora2"
    sandbox.stop_server("blue-aurora2")


@pytest.fixture
def apply_seconds(sandbox: Sandbox) -> Iterator[Callable[[float], None]]:
    """``apply_seconds(s)``: the sandbox's parameter-apply delay for this test; put back after it."""
    before = sandbox.parameter_apply_seconds
    yield sandbox.set_parameter_apply_seconds
    sandbox.set_parameter_apply_seconds(before)


# -- Aurora versions ----------------------------------------------------------------------------


def test_clusters_carry_their_aurora_version_and_clones_inherit_it(sandbox, aurora2):
    assert sandbox.record("blue").aurora_version == "3.08.0"
    assert sandbox.describe("blue").engine_version == "8.0.mysql_aurora.3.08.0"
    clone = _clone(sandbox, "fid-aurora2-clone", source=aurora2)
    try:
        assert sandbox.record(clone).aurora_version == AURORA_2
        assert sandbox.describe(clone).engine_version == f"5.7.mysql_aurora.{AURORA_2}"
        with sandbox.connect(clone, "admin") as admin:
            assert scalar(admin, "SELECT aurora_version()") == AURORA_2.encode()
    finally:
        sandbox.delete(clone)
    with pytest.raises(CloneConflict, match=f"runs Aurora MySQL {AURORA_2}, not 3.08.0"):
        sandbox.create_blue(aurora2, aurora_version="8.0.mysql_aurora.3.08.0")
    for invalid in ("1.23.4", "3.8", "5.7.mysql_aurora.3.08.0", "latest"):
        with pytest.raises(InvalidInput, match="aurora_version"):
            sandbox.create_blue("fid-invalid", aurora_version=invalid)
    assert sandbox.find("fid-invalid") is None


def test_aurora_version_answers_from_any_database_or_none_as_on_aurora(sandbox, aurora2):
    """Aurora's built-in answers with no schema, for any user (AuroraMySQL.Updates.Versions.html)."""
    for cluster_id, version in (("blue", b"3.08.0"), (aurora2, AURORA_2.encode())):
        for user in ("admin", "app"):
            for database in (None, "shop", "mysql", "information_schema"):
                if user == "app" and database == "mysql":
                    continue  # the app user may not enter the mysql schema
                with sandbox.connect(cluster_id, user, database) as connection:
                    assert scalar(connection, "SELECT aurora_version()") == version, (user, database)
    with sandbox.connect("blue", "admin") as admin, pytest.raises(pymysql.err.OperationalError) as refused:
        scalar(admin, "SELECT aurora_version(1)")
    assert refused.value.args[0] == CANT_INITIALIZE_UDF


def test_rds_procedures_follow_the_aurora_version_on_both_engines(sandbox, engine):
    """One rule for both engines: Aurora 2 names on 2.x only, Aurora 3 names on 3.x, 3.06 additions."""
    scratch = _clone(sandbox, "fid-versions")
    files = sandbox.engine.files(Path(sandbox.record(scratch).server_dir), scratch)
    installed = {}
    try:
        for version in (AURORA_2, "3.05.2", "8.0.mysql_aurora.3.06.0", "3.08.0"):
            sandbox.engine.install_procedures(files, version)
            with sandbox.connect(scratch) as root:
                installed[version] = installed_procedures(root)
        sandbox.engine.install_procedures(files, "3.05.2")
        with sandbox.connect(scratch, "admin") as admin, admin.cursor() as cursor:
            for call in (
                "rds_set_read_only(1)",
                "rds_set_binlog_source_ssl(1)",
                "rds_reset_external_master()",
            ):
                with pytest.raises(pymysql.err.OperationalError) as missing:
                    cursor.execute(f"CALL mysql.{call}")
                assert missing.value.args[0] == SP_DOES_NOT_EXIST, call
    finally:
        sandbox.delete(scratch)
    common = {"rds_start_replication", "rds_stop_replication", "rds_set_configuration", "rds_kill"}
    late = {"rds_set_read_only", "rds_set_binlog_source_ssl"}
    assert common <= installed[AURORA_2] and installed[AURORA_2] >= AURORA_2_ONLY
    assert not AURORA_3_ONLY & installed[AURORA_2]
    assert common <= installed["3.05.2"] and AURORA_3_ONLY - late <= installed["3.05.2"]
    assert not (AURORA_2_ONLY | late) & installed["3.05.2"]
    assert AURORA_3_ONLY <= installed["8.0.mysql_aurora.3.06.0"] == installed["3.08.0"]
    assert not AURORA_2_ONLY & installed["3.08.0"]


def test_an_aurora_2_blue_has_aurora_2_procedures_only(sandbox, aurora2, replication):
    with sandbox.connect(aurora2, "admin") as admin, admin.cursor() as cursor:
        for call in (
            "rds_set_external_source_with_auto_position('h', 1, 'u', 'p', 0)",
            "rds_set_read_only(1)",
        ):
            with pytest.raises(pymysql.err.OperationalError) as missing:
                cursor.execute(f"CALL mysql.{call}")
            assert missing.value.args[0] == SP_DOES_NOT_EXIST, call
        blue_port = sandbox.describe("blue").port
        cursor.execute(
            "CALL mysql.rds_set_external_master_with_auto_position(%s, %s, %s, %s, 0)",
            (HOST, blue_port, replication.user, replication.password),
        )
        assert replication.status(aurora2).source_port == blue_port
        cursor.execute("CALL mysql.rds_reset_external_master()")
    assert replication.status(aurora2) is None


# -- parameter groups and restarts --------------------------------------------------------------


def test_a_restart_applies_the_parameter_group_and_forgets_runtime_switches(sandbox, connect, green):
    assert sandbox.parameter_status(green) == {"read_only": ParameterStatus("1", applied=True)}
    with connect(green, "admin").cursor() as cursor:
        cursor.execute("CALL mysql.rds_set_read_only(0)")
    write_orders(connect, green, "fid-runtime-writable")
    started = time.monotonic()
    info = sandbox.restart(green)
    print(f"\n[timing] restart: {time.monotonic() - started:.2f}s")
    assert info.is_available
    assert _read_only(sandbox, green) == 1, "rds_set_read_only(0) outlived the restart"
    with pytest.raises(pymysql.err.OperationalError) as refused:
        write_orders(connect, green, "fid-after-restart")
    assert refused.value.args[0] == READ_ONLY_ERROR


def test_a_parameter_change_applies_after_the_delay_and_a_restart_applies_it_at_once(
    sandbox, green, apply_seconds
):
    apply_seconds(1.5)
    sandbox.set_parameter(green, "read_only", "0")
    assert sandbox.parameter_status(green)["read_only"] == ParameterStatus("0", applied=False)
    assert _read_only(sandbox, green) == 1, "the change reached the server before its delay"
    waited = _wait(lambda: sandbox.parameter_status(green)["read_only"].applied, 15, "read_only=0 applied")
    print(f"\n[timing] parameter change applied after {waited:.2f}s (delay 1.5s)")
    assert waited > 1.2 and _read_only(sandbox, green) == 0

    # A newer change of the same parameter wins over one still on its way.
    sandbox.set_parameter(green, "read_only", "1")
    sandbox.set_parameter(green, "read_only", "0")
    _wait(lambda: sandbox.parameter_status(green)["read_only"].applied, 15, "the newer change applied")
    time.sleep(0.3)
    assert _read_only(sandbox, green) == 0

    # A reboot applies the group's value at once: nothing stays pending.
    sandbox.set_parameter(green, "read_only", "1")
    sandbox.restart(green)
    assert sandbox.parameter_status(green)["read_only"] == ParameterStatus("1", applied=True)
    assert _read_only(sandbox, green) == 1

    started = time.monotonic()
    sandbox.set_read_only(green, False)
    took = time.monotonic() - started
    print(f"[timing] set_read_only waited {took:.2f}s for the parameter group")
    assert took > 1.2 and _read_only(sandbox, green) == 0
    sandbox.set_read_only(green, True)


def test_only_known_parameters_and_values_are_accepted(sandbox, green):
    for name, value in (
        ("read_only", "2"),
        ("read_only", "{TrueIfClusterReplica}"),
        ("max_connections", "9"),
    ):
        with pytest.raises(InvalidInput):
            sandbox.set_parameter(green, name, value)
    for seconds in (-1, 601):
        with pytest.raises(InvalidInput):
            sandbox.set_parameter_apply_seconds(seconds)
    assert sandbox.parameter_status(green)["read_only"].value == "1"


def test_the_control_plane_switches_read_only_persistently_and_reads_it_back(sandbox, green, apply_seconds):
    apply_seconds(0.5)
    backend = SandboxBackend(sandbox)
    assert backend.describe(green).engine_version == "8.0.mysql_aurora.3.08.0"
    backend.set_read_only(green, False)
    assert backend.parameter_status(green)["read_only"] == ParameterStatus("0", applied=True)
    assert _read_only(sandbox, green) == 0
    _call(sandbox, green, "CALL mysql.rds_set_read_only(1)")  # a runtime switch: the group still says 0
    assert backend.parameter_status(green)["read_only"].value == "0"
    assert backend.restart(green).is_available
    assert _read_only(sandbox, green) == 0
    backend.set_read_only(green, True)
    assert _read_only(sandbox, green) == 1

    # As the Aurora backend, it writes only a parameter group it made: never blue's.
    with pytest.raises(NotManagedByUs, match="blue-cluster-params was not created by aurora-bluegreen"):
        backend.set_read_only("blue", True)
    assert backend.parameter_status("blue")["read_only"] == ParameterStatus("0", applied=True)


# -- replication across restarts ----------------------------------------------------------------


def _replicating(sandbox: Sandbox, replication, replica: str) -> Callable[[], bool]:
    def running() -> bool:
        status = replication.status(replica)
        return status is not None and status.io_running == "Yes" and status.sql_running == "Yes"

    return running


def _count(sandbox: Sandbox, cluster_id: str, prefix: str) -> int:
    with sandbox.connect(cluster_id) as root:
        return scalar(root, "SELECT COUNT(*) FROM shop.orders WHERE request_id LIKE %s", (f"{prefix}%",))


def test_replication_left_running_by_the_rds_procedures_resumes_after_a_restart(
    sandbox, connect, replication
):
    """AWS: a reboot "restarts binlog replication" (AuroraMySQL.Replication.MySQL.SettingUp.html)."""
    replica = _clone(sandbox, "fid-replica")
    try:
        replication.start(replica, sandbox.clone_coordinates(replica).position)
        _wait(_replicating(sandbox, replication, replica), 15, "replication running")
        for how in ("restart", "crash"):
            if how == "restart":
                sandbox.restart(replica)
            else:
                sandbox.stop_server(replica, kill=True)
                sandbox.start_server(replica)
            _wait(_replicating(sandbox, replication, replica), 15, f"replication running after a {how}")
            write_orders(connect, "blue", [f"fid-resume-{how}-{n}" for n in range(5)])
            replication.wait_caught_up(replica)
            assert _count(sandbox, replica, f"fid-resume-{how}-") == 5

        _call(sandbox, replica, "CALL mysql.rds_stop_replication()")
        sandbox.restart(replica)
        write_orders(connect, "blue", "fid-stopped-stays-stopped")
        time.sleep(1)
        status = replication.status(replica)
        assert status is not None and status.io_running != "Yes" and status.sql_running != "Yes"
        assert _count(sandbox, replica, "fid-stopped-stays-stopped") == 0
        replication.reset(replica)
    finally:
        sandbox.delete(replica)


# -- what describe says -------------------------------------------------------------------------


def _status_within(sandbox: Sandbox, cluster_id: str, timeout: float) -> str | None:
    """describe()'s status, or None if it did not answer within ``timeout`` (it used to hang)."""
    answer: list[str] = []
    thread = threading.Thread(target=lambda: answer.append(sandbox.describe(cluster_id).status), daemon=True)
    thread.start()
    thread.join(timeout)
    return answer[0] if answer else None


def test_a_killed_green_is_stopped_and_a_hung_one_unreachable(sandbox, green):
    backend = SandboxBackend(sandbox)
    pid = sandbox.record(green).pid
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert _status_within(sandbox, green, 15) == "unreachable"
        print(f"\n[timing] describe of a hung server: {time.monotonic() - started:.2f}s")
        assert not backend.describe(green).is_available
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _status_within(sandbox, green, 15) == "available"

    sandbox.stop_server(green, kill=True)
    info = backend.describe(green)
    assert info.status == "stopped" and not info.is_available
    assert sandbox.start_server(green).is_available


# -- the CLI ------------------------------------------------------------------------------------


def _cli(sandbox: Sandbox, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "aurora_bluegreen.cli",
            "sandbox",
            *arguments,
            "--state-dir",
            str(sandbox.state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_restarts_a_cluster_and_up_keeps_blues_aurora_version(sandbox, green):
    _call(sandbox, green, "CALL mysql.rds_set_read_only(0)")
    restarted = _cli(sandbox, "restart", green)
    assert restarted.returncode == 0, restarted.stderr
    assert f"{green} restarted: available" in restarted.stdout
    assert _read_only(sandbox, green) == 1

    status = _cli(sandbox, "status")
    line = next(line for line in status.stdout.splitlines() if line.startswith(f"{green} "))
    assert "3.08.0" in line and "ON (group ON)" in line

    refused = _cli(sandbox, "up", "--aurora-version", AURORA_2)
    assert refused.returncode == 1 and "runs Aurora MySQL 3.08.0, not 2.11.2" in refused.stderr
    invalid = _cli(sandbox, "up", "--aurora-version", "9.9.9")
    assert invalid.returncode == 1 and "aurora_version='9.9.9' is invalid" in invalid.stderr
