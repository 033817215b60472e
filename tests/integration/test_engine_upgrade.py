"""Engine upgrades on the sandbox (issue 14): green's MariaDB upgraded in place while it replicates.

On the MariaDB engine these run a real major upgrade, the machine's MariaDB 10.11 to Debian 13's
11.8 (``sandbox/installations.py``), in a sandbox of this module's own: its blue is written to under
load and, in the reverse-replication tests, made a replica of the upgraded green. On the MySQL
engine only the refusal runs: one MySQL version exists here. Skipped, with the reason, where no
upgrade path exists (a machine whose MariaDB is already 11.8) or the Debian root cannot be built.

The reverse-replication tests pin what a rollback after an upgrade can rely on (11.8 -> 10.11,
which MariaDB does not promise): they run in file order, and the last one stops blue's replication.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from aurora_bluegreen.control_plane.protocol import EngineUpgrades
from aurora_bluegreen.control_plane.sandbox import SandboxBackend
from aurora_bluegreen.errors import InvalidInput, RootBuildError, UpgradeUnavailable
from aurora_bluegreen.models import BinlogPosition, CloneSpec
from aurora_bluegreen.sandbox import Credentials, Sandbox
from aurora_bluegreen.sandbox.installations import installation_named, system_installation, upgrade_path
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes
from aurora_bluegreen.server_answers import replica_status_from_rows

pytestmark = pytest.mark.integration

# Passwords that break naive quoting and latin-1 encoding, as everywhere in the integration tests.
ADMIN_PASSWORD = "adm'in\"pass\\wörd-密"
APP_PASSWORD = "ap'p\"pass\\wörd-漢"
REPLICATION_USER = "repl_user"
REPLICATION_PASSWORD = "re'pl\"pass\\wörd-ü"
ENDPOINT = "upgrade-app"
LOAD_RATE = 300
ORDER = (
    "INSERT INTO shop.orders (request_id, customer_id, product_id, quantity, amount_cents) "
    "VALUES (%s, 1, 1, 1, 100)"
)


@pytest.fixture(scope="module")
def target(engine: str) -> str:
    """The release series this machine's MariaDB upgrades to, its root built; skips where none."""
    if engine != "mariadb":
        pytest.skip("engine upgrades run on the MariaDB engine: the MySQL engine has one version here")
    try:
        path = upgrade_path(system_installation().series)
        installation_named(path.root)
    except (UpgradeUnavailable, RootBuildError) as reason:
        pytest.skip(f"no engine upgrade on this machine: {reason}")
    return path.to_series


@pytest.fixture(scope="module")
def upgrade_sandbox(tmp_path_factory: pytest.TempPathFactory, target: str) -> Iterator[Sandbox]:
    """A MariaDB sandbox of this module's own, blue up, a replication user on it, the app on blue."""
    sandbox = Sandbox(tmp_path_factory.mktemp("upgrade-sandbox"), engine="mariadb")
    try:
        sandbox.create_blue(
            "blue", credentials=Credentials(admin_password=ADMIN_PASSWORD, app_password=APP_PASSWORD)
        )
        _create_replication_user(sandbox, "blue")
        sandbox.point_endpoint(ENDPOINT, "blue")
        yield sandbox
    finally:
        sandbox.down()


def _create_replication_user(sandbox: Sandbox, cluster_id: str) -> None:
    with sandbox.connect(cluster_id, "admin") as admin, admin.cursor() as cursor:
        cursor.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (REPLICATION_USER, REPLICATION_PASSWORD))
        cursor.execute("GRANT REPLICATION SLAVE ON *.* TO %s@'%%'", (REPLICATION_USER,))


def _replicate(sandbox: Sandbox, replica: str, source: str, position: BinlogPosition | None) -> None:
    """As Aurora's master user: from ``position`` on ``source``, or by GTID where it is None."""
    port = sandbox.describe(source).port
    with sandbox.connect(replica, "admin") as admin, admin.cursor() as cursor:
        if position is None:
            cursor.execute(
                "CALL mysql.rds_set_external_source_with_auto_position(%s, %s, %s, %s, 0)",
                ("127.0.0.1", port, REPLICATION_USER, REPLICATION_PASSWORD),
            )
        else:
            cursor.execute(
                "CALL mysql.rds_set_external_source(%s, %s, %s, %s, %s, %s, 0)",
                ("127.0.0.1", port, REPLICATION_USER, REPLICATION_PASSWORD, position.file, position.position),
            )
        cursor.execute("CALL mysql.rds_start_replication()")


def _green(sandbox: Sandbox, green: str, gtid: bool) -> None:
    """Clone blue into ``green`` and replicate from exactly where the clone's data ends."""
    sandbox.clone(CloneSpec("blue", green, f"{green}-1", tags={"role": "green"}))
    coordinates = sandbox.clone_coordinates(green)
    _replicate(sandbox, green, "blue", None if gtid else coordinates.position)


def _query(sandbox: Sandbox, cluster_id: str, sql: str, args: object = None) -> list[tuple]:
    with sandbox.connect(cluster_id) as root, root.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def _replica(sandbox: Sandbox, cluster_id: str):
    with sandbox.connect(cluster_id) as root, root.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute("SHOW SLAVE STATUS")
        return replica_status_from_rows(cursor.fetchall())


def _wait_caught_up(sandbox: Sandbox, replica: str, source: str, timeout: int = 60) -> None:
    file, position = _query(sandbox, source, "SHOW MASTER STATUS")[0][:2]
    ((events,),) = _query(sandbox, replica, "SELECT MASTER_POS_WAIT(%s, %s, %s)", (file, position, timeout))
    assert events is not None and events >= 0, f"{replica} did not catch up: {_replica(sandbox, replica)}"


def _run_rows(sandbox: Sandbox, cluster_id: str, run_id: str) -> list[str]:
    rows = _query(
        sandbox, cluster_id, "SELECT request_id FROM shop.orders WHERE request_id LIKE %s", (f"{run_id}-%",)
    )
    return sorted(request_id for (request_id,) in rows)


@pytest.mark.parametrize("gtid", [False, True], ids=["file-position", "gtid"])
def test_green_upgraded_under_load_gets_every_acknowledged_write_exactly_once(
    upgrade_sandbox: Sandbox, target: str, gtid: bool
):
    sandbox = upgrade_sandbox
    green = f"green-{'gtid' if gtid else 'pos'}"
    _green(sandbox, green, gtid)
    load = LoadGenerator.in_sandbox(sandbox.state_dir, ENDPOINT, LOAD_RATE)
    load.start()
    try:
        time.sleep(1)
        report = sandbox.upgrade(green, target)
        time.sleep(1)
    finally:
        summary = load.stop()
    _wait_caught_up(sandbox, green, "blue")
    print(f"\n[upgrade] {green}: {report.seconds}; {summary.counters.acknowledged} writes acknowledged")

    assert report.replica_before is not None and report.replica_before.is_running
    assert report.replica_before.auto_position == gtid
    status = _replica(sandbox, green)
    assert status.is_running and status.error is None, status
    assert status.auto_position == gtid  # resumed the way it ran: GTID or file and position
    with sandbox.connect(green) as root:
        assert missing_writes(Path(summary.acked_ids_file), root) == []
    # Exactly once: green holds the run's rows that blue holds, no more (a repeated row would also
    # have stopped replication with a duplicate-key error).
    assert _run_rows(sandbox, green, summary.run_id) == _run_rows(sandbox, "blue", summary.run_id)
    assert summary.counters.acknowledged >= LOAD_RATE  # blue took writes throughout
    ((version,),) = _query(sandbox, green, "SELECT VERSION()")
    assert version.startswith(f"{target}.")
    assert sandbox.record(green).installation == upgrade_path(system_installation().series).root
    assert sandbox.record(green).server_version == version
    assert sandbox.runs_engine_version(green, target)
    assert not sandbox.runs_engine_version("blue", target)


def test_upgrade_is_idempotent_and_refuses_what_does_not_exist(upgrade_sandbox: Sandbox, target: str):
    sandbox = upgrade_sandbox
    assert sandbox.upgrade_targets("blue") == [target]
    with pytest.raises(InvalidInput, match=r"target='99\.1'"):
        sandbox.upgrade("blue", "99.1")
    sandbox.clone(CloneSpec("blue", "green-again", "green-again-1"))
    first = sandbox.upgrade("green-again", target)
    again = sandbox.upgrade("green-again", target)
    assert not first.already_done and again.already_done
    assert sandbox.upgrade_targets("green-again") == []
    assert "no newer MariaDB" in sandbox.upgrade_refusal("green-again")
    with pytest.raises(UpgradeUnavailable, match="no newer MariaDB"):
        sandbox.upgrade("green-again", "12.0")
    # A copy of the upgraded cluster runs on its newer server, copied with that server's backup tool.
    sandbox.clone(CloneSpec("green-again", "qa-of-upgraded", "qa-of-upgraded-1"))
    assert sandbox.record("qa-of-upgraded").installation == sandbox.record("green-again").installation
    assert _query(sandbox, "qa-of-upgraded", "SELECT VERSION()")[0][0].startswith(f"{target}.")


def test_an_upgrade_that_died_before_mariadb_upgrade_is_finished_by_asking_again(
    upgrade_sandbox: Sandbox, target: str
):
    sandbox, green = upgrade_sandbox, "green-part-way"
    sandbox.clone(CloneSpec("blue", green, f"{green}-1"))
    new = upgrade_path(system_installation().series).root
    # Where a crash can leave it: stopped, its record already naming the new installation.
    sandbox.stop_server(green)
    sandbox._update(green, installation=new)
    assert not sandbox.runs_engine_version(green, target)
    report = sandbox.upgrade(green, target)
    assert not report.already_done and "mariadb_upgrade" in report.seconds
    assert sandbox.runs_engine_version(green, target)


def test_the_sandbox_backend_offers_engine_upgrades_only_for_clusters_we_made(
    upgrade_sandbox: Sandbox, target: str
):
    backend = SandboxBackend(upgrade_sandbox)
    assert isinstance(backend, EngineUpgrades)
    upgrade_sandbox.clone(CloneSpec("blue", "green-backend", "green-backend-1"))
    assert backend.engine_upgrade_targets("green-backend") == [target]
    info = backend.upgrade_engine("green-backend", target)
    assert info.is_available and backend.runs_engine_version("green-backend", target)
    with pytest.raises(PermissionError):
        backend.upgrade_engine("blue", target)


def test_mysql_engine_refuses_an_upgrade_saying_one_version_exists(
    engine: str, request: pytest.FixtureRequest
):
    if engine != "mysql":
        pytest.skip("the MySQL engine's refusal; the MariaDB engine upgrades (tests above)")
    sandbox = request.getfixturevalue("sandbox")
    assert sandbox.upgrade_targets("blue") == []
    with pytest.raises(UpgradeUnavailable, match=r"single version here, MySQL 9\.7"):
        sandbox.upgrade("blue", "9.8")
    assert "no newer MySQL" in sandbox.upgrade_refusal("blue")


# -- reverse replication: the upgraded green (newer) back to blue (older) -------------------------


@pytest.fixture(scope="module")
def reversed_pair(upgrade_sandbox: Sandbox, target: str) -> tuple[Sandbox, str]:
    """An upgraded green cut over to by hand; blue replicates from where green started taking writes."""
    sandbox, green = upgrade_sandbox, "green-reverse"
    _green(sandbox, green, gtid=False)
    sandbox.upgrade(green, target)
    _wait_caught_up(sandbox, green, "blue")
    sandbox.set_read_only("blue", True)
    with sandbox.connect(green, "admin") as admin, admin.cursor() as cursor:
        cursor.execute("CALL mysql.rds_stop_replication()")
        cursor.execute("CALL mysql.rds_reset_external_source()")
        cursor.execute("CALL mysql.rds_set_read_only(0)")
    # green has blue's replication user already: the clone copied the mysql schema, as Aurora's does.
    file, position = _query(sandbox, green, "SHOW MASTER STATUS")[0][:2]
    _replicate(sandbox, "blue", green, BinlogPosition(file, int(position)))
    sandbox.point_endpoint(ENDPOINT, green)
    return sandbox, green


def _on_green_then_blue(sandbox: Sandbox, green: str, statement: str, args: object = None) -> None:
    with sandbox.connect(green, "admin") as admin, admin.cursor() as cursor:
        cursor.execute(statement, args)
    _wait_caught_up(sandbox, "blue", green, timeout=10)


def test_reverse_replication_to_the_older_blue_carries_the_demos_statements(reversed_pair):
    sandbox, green = reversed_pair
    load = LoadGenerator.in_sandbox(sandbox.state_dir, ENDPOINT, LOAD_RATE)
    load.start()
    try:
        time.sleep(1)
        # The demo's migration and masking statements, then more application writes after them.
        for statement in (
            "ALTER TABLE shop.orders ADD COLUMN gift_wrap TINYINT NOT NULL DEFAULT 0",
            "CREATE INDEX orders_by_created_at ON shop.orders (created_at)",
            "UPDATE shop.customers SET email = CONCAT('customer', id, '@example.invalid') WHERE id <= 10",
        ):
            _on_green_then_blue(sandbox, green, statement)
        time.sleep(1)
    finally:
        summary = load.stop()
    _wait_caught_up(sandbox, "blue", green)

    status = _replica(sandbox, "blue")
    assert status.is_running and status.error is None, status
    with sandbox.connect("blue") as root:
        assert missing_writes(Path(summary.acked_ids_file), root) == []
    assert _run_rows(sandbox, "blue", summary.run_id) == _run_rows(sandbox, green, summary.run_id)
    columns = _query(sandbox, "blue", "SHOW COLUMNS FROM shop.orders LIKE 'gift_wrap'")
    assert len(columns) == 1


def test_reverse_replication_silently_keeps_the_older_collation_for_a_bare_utf8mb4(reversed_pair):
    """11.8 maps ``utf8mb4`` to utf8mb4_uca1400_ai_ci (its character_set_collations); 10.11 applies
    the same statement with its own default, utf8mb4_general_ci: no error, different tables."""
    sandbox, green = reversed_pair
    _on_green_then_blue(
        sandbox, green, "CREATE TABLE shop.notes (id INT PRIMARY KEY, note VARCHAR(20)) CHARACTER SET utf8mb4"
    )
    sql = (
        "SELECT TABLE_COLLATION FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'notes'"
    )
    assert _query(sandbox, green, sql) == [("utf8mb4_uca1400_ai_ci",)]
    assert _query(sandbox, "blue", sql) == [("utf8mb4_general_ci",)]
    assert _replica(sandbox, "blue").is_running


def test_reverse_replication_stops_at_a_type_the_older_blue_lacks(reversed_pair):
    """Last in the file: blue's replication stays stopped afterwards."""
    sandbox, green = reversed_pair
    with sandbox.connect(green, "admin") as admin, admin.cursor() as cursor:
        cursor.execute("CREATE TABLE shop.embeddings (id INT PRIMARY KEY, e VECTOR(3) NOT NULL)")
    deadline = time.monotonic() + 10
    while (status := _replica(sandbox, "blue")).sql_running == "Yes" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status.sql_running == "No"
    assert "Unknown data type: 'VECTOR'" in status.last_sql_error
