"""Testing on green, nightly QA clones and teardown, on real sandbox servers.

Operators run as Airflow would run them, with ``AIRFLOW_CONN_*`` connections; the migration and
check files are real files in a temporary folder (the DAG's own examples are run by the e2e tests).
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException
from helpers import replica_status_on, sandbox_connections, scalar, source_position_on, write_orders

from aurora_bluegreen.errors import InvalidInput, MigrationBrokeReplication, NotManagedByUs, SqlFileFailed
from aurora_bluegreen.operators.checks import RunChecksOperator, checks_markdown
from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cutover import CutoverOperator
from aurora_bluegreen.operators.migrations import ApplyMigrationsOperator, migrations_markdown
from aurora_bluegreen.operators.qa import (
    MaskQaCloneOperator,
    PlanQaRefreshOperator,
    PublishQaCloneOperator,
    RetireQaClonesOperator,
    StartQaReplicationOperator,
)
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.operators.teardown import RecordTeardownFactsOperator, TeardownDeploymentOperator
from aurora_bluegreen.ownership import REPLICATES_TAG, RETENTION_TAG
from aurora_bluegreen.qa_clones import READY_TAG, qa_tags
from aurora_bluegreen.sandbox.endpoints import read_endpoint
from aurora_bluegreen.sandbox.load import LoadGenerator, missing_writes

pytestmark = pytest.mark.integration

REPLICATION_LOGIN = "repl_lifecycle"
REPLICATION_PASSWORD = "life'cycle\"pass\\wörd-ø"
PLANES = {"control_plane_conn_id": "life_cp", "admin_conn_id": "life_admin"}
_ids = itertools.count(1)

COMPATIBLE = """-- added at the end, with a default: blue's rows still fit
ALTER TABLE shop.orders ADD COLUMN gift_wrap TINYINT NOT NULL DEFAULT 0;
CREATE INDEX orders_by_created_at ON shop.orders (created_at);
"""
# Renaming alone would not break row-based replication; dropping a column blue writes does.
INCOMPATIBLE = "ALTER TABLE shop.orders RENAME COLUMN amount_cents TO amount;\n" + (
    "ALTER TABLE shop.orders DROP COLUMN quantity;\n"
)
CHECK_PASSES = (
    "SELECT COUNT(*) = 0 FROM shop.orders o LEFT JOIN shop.customers c ON c.id = o.customer_id"
    " WHERE c.id IS NULL;"
)
CHECK_FAILS = "SELECT COUNT(*) = 0 FROM shop.customers WHERE email NOT LIKE '%@example.invalid';"
CHECK_ERRORS = "SELECT COUNT(*) > 0 FROM shop.no_such_table;"
MASKING = (
    "UPDATE shop.customers SET name = CONCAT('Customer ', id), email = CONCAT('c', id, '@example.invalid');"
)


class RecordingTi:
    """Stands in for Airflow's task instance where an operator pushes an extra XCom."""

    def __init__(self):
        self.pushed = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


def context(run_id="manual__test", run_after=None):
    run_after = run_after or datetime.now(timezone.utc)
    return {"dag_run": SimpleNamespace(run_id=run_id, run_after=run_after), "ti": RecordingTi()}


@pytest.fixture
def planes(sandbox, set_connections):
    set_connections(
        sandbox_connections(
            sandbox,
            control_plane="life_cp",
            admin="life_admin",
            replication=("life_repl", REPLICATION_LOGIN, REPLICATION_PASSWORD),
        )
    )
    return PLANES


@pytest.fixture
def sql_dir(tmp_path):
    """A folder of SQL files, as ``dags/sql`` is for the DAGs: ``sql_dir.write(kind, name, text)``."""

    class Folder:
        root = tmp_path

        def folder(self, kind):
            path = tmp_path / kind
            path.mkdir(exist_ok=True)
            return path

        def write(self, kind, name, text):
            (self.folder(kind) / name).write_text(text)
            return name

    return Folder()


@pytest.fixture
def blue(sandbox):
    """A fresh blue of its own (a cutover leaves blue read-only), with the application's endpoint."""
    n = next(_ids)
    blue_id, endpoint = f"blue-life{n}", f"app_life{n}"
    sandbox.create_blue(blue_id)
    sandbox.point_endpoint(endpoint, blue_id)
    yield SimpleNamespace(id=blue_id, green=f"green-life{n}", endpoint=endpoint, n=n)
    for info in sandbox.list_clusters({"source-cluster": blue_id}):
        sandbox.delete(info.cluster_id)
    sandbox.stop_server(blue_id)


def clone_green(blue, planes):
    """The deployment DAG's clone: tagged as a green that replicates from blue."""
    CloneClusterOperator(
        task_id="clone_green",
        source_cluster_id=blue.id,
        cluster_id=blue.green,
        writer_instance_id=f"{blue.green}-writer",
        control_plane_conn_id=planes["control_plane_conn_id"],
        tags={REPLICATES_TAG: "true"},
    ).execute(context())


def deploy_green(blue, planes):
    """Clone, record teardown facts and replicate, as the deployment DAG does up to the catch-up."""
    clone_green(blue, planes)
    RecordTeardownFactsOperator(
        task_id="record_teardown_facts", blue_cluster_id=blue.id, green_cluster_id=blue.green, **planes
    ).execute(context())
    StartBinlogReplicationOperator(
        task_id="start_replication",
        blue_cluster_id=blue.id,
        green_cluster_id=blue.green,
        replication_conn_id="life_repl",
        binlog_retention_hours=48,
        **planes,
    ).execute(context())


def migrate(blue, planes, folder, files, **overrides):
    return ApplyMigrationsOperator(
        task_id="migrate_green",
        blue_cluster_id=blue.id,
        green_cluster_id=blue.green,
        migration_files=files,
        sql_folder=folder,
        **{**planes, **overrides},
    ).execute(context())


def teardown(blue, planes, **overrides):
    arguments = {
        "task_id": "teardown",
        "blue_cluster_id": blue.id,
        "green_cluster_id": blue.green,
        "writer_instance_id": f"{blue.green}-writer",
        "replication_conn_id": "life_repl",
        **planes,
        **overrides,
    }
    return TeardownDeploymentOperator(**arguments).execute(context())


def columns(connection, table="orders"):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA='shop' AND TABLE_NAME=%s"
            " ORDER BY ORDINAL_POSITION",
            (table,),
        )
        return [row[0] for row in cursor.fetchall()]


def replica_threads(connection):
    status = replica_status_on(connection)
    return None if status is None else (status.io_running, status.sql_running, status.last_sql_error)


def user_exists(connection, user):
    return scalar(connection, "SELECT COUNT(*) FROM mysql.user WHERE User = %s", (user,)) == 1


def retention(connection):
    with connection.cursor() as cursor:
        cursor.execute("CALL mysql.rds_show_configuration")
        rows = {name: value for name, value, _ in cursor.fetchall()}
    value = rows.get("binlog retention hours")
    return None if value is None else int(value)


# -- schema changes on green ------------------------------------------------------------------


def cutover(blue, planes, **overrides):
    return CutoverOperator(
        task_id="cutover",
        blue_cluster_id=blue.id,
        green_cluster_id=blue.green,
        replication_conn_id="life_repl",
        max_freeze_seconds=5,
        repoint=f"sandbox:{blue.endpoint}",
        **planes,
        **overrides,
    ).execute(context())


def test_compatible_migration_under_load_keeps_green_replicating(sandbox, connect, blue, planes, sql_dir):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, blue.endpoint, rate=300)
    load.start()
    try:
        deploy_green(blue, planes)
        name = sql_dir.write("migrations", "m1.sql", COMPATIBLE)
        result = migrate(blue, planes, sql_dir.folder("migrations"), [name])
        time.sleep(0.5)  # blue keeps writing orders; green must keep applying them to the new shape
    finally:
        summary = load.stop()
    green = connect(blue.green, "root")
    assert scalar(green, "SELECT @@global.read_only") == 1  # put back, and verified by the operator
    assert columns(green)[-1] == "gift_wrap" and "gift_wrap" not in columns(connect(blue.id, "root"))
    assert scalar(
        green, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE INDEX_NAME = 'orders_by_created_at'"
    )
    assert [(s["file"], s["number"]) for s in result["statements"]] == [("m1.sql", 1), ("m1.sql", 2)]
    assert all(s["ms"] > 0 for s in result["statements"])
    assert result["green_local_writes"], "the migration's own GTIDs: what the cutover must expect"
    table = migrations_markdown(result)
    assert "`m1.sql`" in table and "ADD COLUMN gift_wrap" in table
    assert replica_threads(green)[:2] == ("Yes", "Yes")
    # Every order blue acknowledged, before and after the change, reaches green.
    assert summary.counters.acknowledged > 0
    deadline = time.monotonic() + 10
    while missing_writes(load.acked_ids_file, green):
        assert time.monotonic() < deadline, replica_threads(green)
        time.sleep(0.2)


def test_cutover_after_a_compatible_migration_loses_no_write(sandbox, connect, blue, planes, sql_dir):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, blue.endpoint, rate=300)
    load.start()
    try:
        deploy_green(blue, planes)
        result = migrate(
            blue, planes, sql_dir.folder("migrations"), [sql_dir.write("migrations", "m.sql", COMPATIBLE)]
        )
        report = cutover(blue, planes, expected_green_writes=result["green_local_writes"])
        time.sleep(0.5)  # the application writes on green now, into the migrated table
    finally:
        summary = load.stop()
    green = connect(blue.green, "root")
    assert report["rolled_back"] is False and summary.counters.acknowledged > 0
    assert missing_writes(load.acked_ids_file, green) == []
    assert scalar(green, "SELECT COUNT(*) FROM shop.orders WHERE gift_wrap = 0") > 0


def test_migration_that_breaks_replication_fails_naming_the_statement_and_blue_is_untouched(
    sandbox, connect, blue, planes, sql_dir
):
    load = LoadGenerator.in_sandbox(sandbox.state_dir, blue.endpoint, rate=200)
    load.start()
    try:
        deploy_green(blue, planes)
        blue_columns = columns(connect(blue.id, "root"))
        name = sql_dir.write("migrations", "breaks.sql", INCOMPATIBLE)
        with pytest.raises(MigrationBrokeReplication) as failure:
            migrate(blue, planes, sql_dir.folder("migrations"), [name])
    finally:
        load.stop()
    message = str(failure.value)
    assert "breaks.sql statement 2" in message and "DROP COLUMN quantity" in message
    # The replication error as the server said it; on a multithreaded applier (MySQL, Aurora 3.04+)
    # that is the failed worker's, not the coordinator's "error(s) in the worker(s)".
    assert "cannot be converted" in message and "shop.orders" in message
    assert "error(s) in the worker(s)" not in message
    blue_root = connect(blue.id, "root")
    assert columns(blue_root) == blue_columns and scalar(blue_root, "SELECT @@global.read_only") == 0
    green = connect(blue.green, "root")
    assert scalar(green, "SELECT @@global.read_only") == 1
    assert replica_threads(green)[1] == "No"


def test_a_statement_the_server_refuses_names_file_statement_and_error(
    sandbox, connect, planes, sql_dir, blue
):
    deploy_green(blue, planes)
    good = sql_dir.write("migrations", "a_good.sql", "ALTER TABLE shop.products ADD COLUMN note VARCHAR(20);")
    bad = sql_dir.write(
        "migrations", "b_bad.sql", "-- typo\nALTER TABLE shop.no_such_table ADD COLUMN x INT;"
    )
    with pytest.raises(
        SqlFileFailed, match=r"b_bad.sql statement 1 failed on green .*no_such_table.*\(1146\)"
    ):
        migrate(blue, planes, sql_dir.folder("migrations"), [good, bad])
    green = connect(blue.green, "root")
    assert scalar(green, "SELECT @@global.read_only") == 1
    assert "note" in columns(green, "products")


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("../outside.sql", "relative path"),
        ("/etc/passwd.sql", "relative path"),
        ("missing.sql", "does not exist"),
        ("notes.txt", "relative path"),
        ("link_out.sql", "no link leading out"),
    ],
)
def test_bad_migration_files_are_refused_before_any_change(sandbox, connect, planes, sql_dir, name, rule):
    folder = sql_dir.folder("migrations")
    (sql_dir.root / "outside.sql").write_text("DROP TABLE shop.orders;")
    (folder / "link_out.sql").symlink_to(sql_dir.root / "outside.sql")
    (folder / "notes.txt").write_text("DROP TABLE shop.orders;")
    target = SimpleNamespace(id="blue", green="blue-never-cloned")
    with pytest.raises(InvalidInput, match=rf"migration_files\[0\].*{rule}"):
        migrate(target, planes, folder, [name])
    assert columns(connect("blue", "root"))[:5] == [
        "id",
        "request_id",
        "customer_id",
        "product_id",
        "quantity",
    ]


# -- checks on green --------------------------------------------------------------------------


def test_checks_pass_and_fail_are_reported_and_a_failure_blocks_unless_warn_only(
    sandbox, connect, planes, sql_dir, blue
):
    deploy_green(blue, planes)
    folder = sql_dir.folder("checks")
    files = [
        sql_dir.write("checks", "orders_have_customers.sql", CHECK_PASSES),
        sql_dir.write("checks", "emails_masked.sql", CHECK_FAILS),
        sql_dir.write("checks", "broken.sql", CHECK_ERRORS),
    ]

    def run(warn_only, ctx):
        return RunChecksOperator(
            task_id="check_green",
            green_cluster_id=blue.green,
            check_files=files,
            sql_folder=folder,
            warn_only=warn_only,
            **planes,
        ).execute(ctx)

    warned = run(True, context())
    assert [(c["name"], c["passed"]) for c in warned["checks"]] == [
        ("orders_have_customers", True),
        ("emails_masked", False),
        ("broken", False),
    ]
    assert warned["checks"][1]["detail"].startswith("1 of 1 rows are not true")
    assert "1146" in warned["checks"][2]["detail"]
    body = checks_markdown(warned)
    assert "✅ pass" in body and body.count("❌ **FAIL**") == 2 and "2 of 3 checks failed" in body

    blocked = context()
    with pytest.raises(AirflowFailException, match=r"2 of 3 checks failed.*emails_masked: 1 of 1 rows"):
        run(False, blocked)
    assert blocked["ti"].pushed["checks"]["failed"] == 2
    assert scalar(connect(blue.green, "root"), "SELECT @@global.read_only") == 1


def test_a_check_that_is_not_one_query_is_refused(planes, sql_dir):
    name = sql_dir.write("checks", "writes.sql", "DELETE FROM shop.orders;")
    with pytest.raises(InvalidInput, match=r"check_files\[0\].*exactly one SELECT or WITH query"):
        RunChecksOperator(
            task_id="check_green",
            green_cluster_id="green-never",
            check_files=[name],
            sql_folder=sql_dir.folder("checks"),
            **planes,
        ).execute(context())


# -- teardown ---------------------------------------------------------------------------------


def test_teardown_after_a_rejected_deployment_removes_green_user_and_restores_retention(
    sandbox, connect, planes, blue
):
    before = retention(connect(blue.id, "root"))
    deploy_green(blue, planes)
    blue_root = connect(blue.id, "root")
    assert retention(blue_root) == 48 and user_exists(blue_root, REPLICATION_LOGIN)
    assert sandbox.describe(blue.green).tags[RETENTION_TAG] == ("unset" if before is None else str(before))

    done = teardown(blue, planes)
    assert done["green"].startswith("deleted") and sandbox.find(blue.green) is None
    assert not user_exists(blue_root, REPLICATION_LOGIN)
    assert retention(blue_root) == before
    assert scalar(blue_root, "SELECT @@global.read_only") == 0
    again = teardown(blue, planes)
    assert again["green"].startswith("absent") and again["replication_user_on_blue"].endswith("did not exist")


def test_teardown_of_a_half_built_deployment_and_of_one_another_clone_still_needs(
    sandbox, connect, planes, blue
):
    # Half-built: the clone exists, replication never started (the run died after the clone).
    clone_green(blue, planes)
    sibling = SimpleNamespace(id=blue.id, green=f"{blue.green}-b")
    deploy_green(sibling, planes)
    blue_root = connect(blue.id, "root")

    done = teardown(blue, planes)
    assert done["green"].startswith("deleted") and sandbox.find(blue.green) is None
    # The other green still replicates from blue: its user and blue's retention stay.
    assert done["replication_user_on_blue"].startswith("kept") and user_exists(blue_root, REPLICATION_LOGIN)
    assert replica_threads(connect(sibling.green, "root"))[:2] == ("Yes", "Yes")
    assert teardown(sibling, planes)["green"].startswith("deleted")
    assert not user_exists(blue_root, REPLICATION_LOGIN)


def test_teardown_after_an_approved_deployment_keeps_green_and_closes_the_way_back(
    sandbox, connect, planes, blue
):
    deploy_green(blue, planes)
    report = cutover(blue, planes)
    assert report["rolled_back"] is False
    blue_root, green = connect(blue.id, "root"), connect(blue.green, "root")
    assert replica_threads(blue_root)[:2] == ("Yes", "Yes")  # reverse replication: the way back

    done = teardown(blue, planes)
    assert done["green_took_over"] is True and done["green"].startswith("kept")
    assert sandbox.find(blue.green) is not None and scalar(green, "SELECT @@global.read_only") == 0
    assert done["reverse_replication"].startswith("ended") and replica_threads(blue_root) is None
    # Dropped on green, and replayed on read-only old blue before its replication ended.
    assert not user_exists(green, REPLICATION_LOGIN) and not user_exists(blue_root, REPLICATION_LOGIN)
    assert scalar(blue_root, "SELECT @@global.read_only") == 1  # old blue stays frozen
    assert retention(blue_root) is None
    again = teardown(blue, planes)
    assert again["green"].startswith("kept") and again["replication_user_on_blue"].endswith("did not exist")


def test_teardown_refuses_a_green_that_is_not_ours(sandbox, connect, planes, blue):
    other_blue = SimpleNamespace(id="blue", green=blue.id)  # the sandbox's blues carry none of our tags
    with pytest.raises(NotManagedByUs, match="not a green that aurora-bluegreen made"):
        teardown(other_blue, planes, writer_instance_id=None)
    assert sandbox.find(blue.id) is not None
    assert scalar(connect(blue.id, "root"), "SELECT COUNT(*) FROM shop.orders") > 0


# -- nightly QA clones ------------------------------------------------------------------------


def qa_run(blue_id, planes, sql_dir, due, *, keep=0, masking=(), replicate=False, stop_after=None):
    """One QA refresh, task by task as the DAG runs them; ``stop_after`` a task simulates a kill."""
    ctx = context(run_id=f"scheduled__{due:%Y%m%dT%H%M%S}", run_after=due)
    plan = PlanQaRefreshOperator(
        task_id="plan",
        blue_cluster_id=blue_id,
        qa_cluster_prefix=f"{blue_id}-qa",
        keep_previous=keep,
        masking_files=list(masking),
        sql_folder=sql_dir.folder("masking"),
        replicate=replicate,
        qa_endpoint=f"sandbox:qa_{blue_id.replace('-', '_')}",
        replication_conn_id="life_repl",
        **planes,
    ).execute(ctx)
    clone_id = plan["cluster_id"]
    tasks = [
        lambda: CloneClusterOperator(
            task_id="clone_qa",
            source_cluster_id=blue_id,
            cluster_id=clone_id,
            writer_instance_id=plan["writer_instance_id"],
            control_plane_conn_id=planes["control_plane_conn_id"],
            role="qa",
            tags={"qa-stamp": plan["stamp"], REPLICATES_TAG: str(replicate).lower()},
        ).execute(ctx),
        lambda: MaskQaCloneOperator(
            task_id="mask_qa",
            cluster_id=clone_id,
            masking_files=list(masking),
            sql_folder=sql_dir.folder("masking"),
            **planes,
        ).execute(ctx),
        lambda: (
            StartQaReplicationOperator(
                task_id="replicate_qa",
                replicate=replicate,
                blue_cluster_id=blue_id,
                green_cluster_id=clone_id,
                replication_conn_id="life_repl",
                **planes,
            ).execute(ctx)
            if replicate
            else None
        ),
        lambda: PublishQaCloneOperator(
            task_id="publish_qa",
            cluster_id=clone_id,
            qa_endpoint=f"sandbox:qa_{blue_id.replace('-', '_')}",
            replicate=replicate,
            **planes,
        ).execute(ctx),
        lambda: RetireQaClonesOperator(
            task_id="retire_earlier_qa",
            blue_cluster_id=blue_id,
            current_cluster_id=clone_id,
            keep_previous=keep,
            replication_conn_id="life_repl",
            **planes,
        ).execute(ctx),
    ]
    results = []
    for name, task in zip(("clone", "mask", "replicate", "publish", "retire"), tasks, strict=True):
        results.append(task())
        if name == stop_after:
            break
    return clone_id, results


def blue_binlog_position(connection):
    return source_position_on(connection)


def test_nightly_qa_runs_back_to_back_mask_publish_and_keep_exactly_n(
    sandbox, connect, planes, sql_dir, blue
):
    mask = sql_dir.write("masking", "scrub.sql", MASKING)
    blue_root = connect(blue.id, "root")
    position_before = blue_binlog_position(blue_root)
    night = datetime(2026, 1, 1, 2, 0, tzinfo=timezone.utc)

    first, _ = qa_run(blue.id, planes, sql_dir, night, keep=1, masking=[mask])
    second, results = qa_run(blue.id, planes, sql_dir, night + timedelta(days=1), keep=1, masking=[mask])
    assert {c.cluster_id for c in sandbox.list_clusters(qa_tags(blue.id))} == {first, second}
    third, results = qa_run(blue.id, planes, sql_dir, night + timedelta(days=2), keep=1, masking=[mask])

    assert first == f"{blue.id}-qa-20260101-020000"
    assert results[-1] == {"kept": sorted([second, third]), "retired": [first], "blue": {}}
    assert sandbox.find(first) is None
    qa = connect(third, "root")
    assert scalar(qa, "SELECT COUNT(*) FROM shop.customers WHERE email NOT LIKE '%@example.invalid'") == 0
    assert scalar(qa, "SELECT @@global.read_only") == 0  # not replicating: QA may write
    assert scalar(blue_root, "SELECT COUNT(*) FROM shop.customers WHERE email LIKE '%@example.invalid'") == 0
    assert blue_binlog_position(blue_root) == position_before, "the QA refresh wrote to blue"
    published = read_endpoint(sandbox.endpoint_file(f"qa_{blue.id.replace('-', '_')}"))
    assert published.cluster_id == third and results[-2]["port"] == published.port
    assert sandbox.describe(third).tags[READY_TAG] == "true"


def test_a_qa_run_killed_halfway_is_cleaned_up_by_the_next(sandbox, connect, planes, sql_dir, blue):
    night = datetime(2026, 2, 1, 2, 0, tzinfo=timezone.utc)
    good, _ = qa_run(blue.id, planes, sql_dir, night, keep=1)
    killed, _ = qa_run(blue.id, planes, sql_dir, night + timedelta(days=1), keep=1, stop_after="clone")
    assert READY_TAG not in sandbox.describe(killed).tags  # tagged as ours from the start, never ready
    # The newest earlier clone is the half-made one; it must not count among the kept.
    fresh, results = qa_run(blue.id, planes, sql_dir, night + timedelta(days=2), keep=1)
    assert results[-1] == {"kept": sorted([good, fresh]), "retired": [killed], "blue": {}}
    assert sandbox.find(killed) is None


def test_qa_replication_follows_blue_read_only(sandbox, connect, planes, sql_dir, blue):
    night = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)
    clone_id, results = qa_run(blue.id, planes, sql_dir, night, replicate=True)
    assert results[-2]["read_only"] is True
    write_orders(connect, blue.id, "qa-follows")
    qa = connect(clone_id, "root")
    deadline = time.monotonic() + 10
    while scalar(qa, "SELECT COUNT(*) FROM shop.orders WHERE request_id = 'qa-follows'") == 0:
        assert time.monotonic() < deadline, replica_threads(qa)
        time.sleep(0.1)
    assert scalar(qa, "SELECT @@global.read_only") == 1


def test_retiring_the_last_replicating_qa_clone_cleans_up_blue(sandbox, connect, planes, sql_dir, blue):
    blue_root = connect(blue.id, "root")
    retention_before = retention(blue_root)
    night = datetime(2026, 3, 5, 2, 0, tzinfo=timezone.utc)
    replicating, _ = qa_run(blue.id, planes, sql_dir, night, replicate=True)
    assert user_exists(blue_root, REPLICATION_LOGIN) and retention(blue_root) != retention_before

    # QA switches to still copies: tonight's does not replicate, so blue's user and retention go.
    still, results = qa_run(blue.id, planes, sql_dir, night + timedelta(days=1), keep=0)
    assert results[-1]["retired"] == [replicating] and sandbox.find(replicating) is None
    assert results[-1]["blue"]["replication_user_on_blue"] == f"dropped {REPLICATION_LOGIN}"
    assert not user_exists(blue_root, REPLICATION_LOGIN)
    assert retention(blue_root) == retention_before
    assert scalar(connect(still, "root"), "SELECT COUNT(*) FROM shop.orders") > 0


def test_qa_retirement_killed_before_its_deletion_converges_on_retry(
    sandbox, connect, planes, sql_dir, blue, monkeypatch
):
    from aurora_bluegreen.control_plane.sandbox import SandboxBackend

    class WorkerKilled(BaseException):
        pass

    def killed(self, cluster_id):
        raise WorkerKilled(cluster_id)

    blue_root = connect(blue.id, "root")
    retention_before = retention(blue_root)
    night = datetime(2026, 3, 11, 2, 0, tzinfo=timezone.utc)
    replicating, _ = qa_run(blue.id, planes, sql_dir, night, replicate=True)
    with monkeypatch.context() as patched:
        patched.setattr(SandboxBackend, "delete", killed)
        with pytest.raises(WorkerKilled):
            qa_run(blue.id, planes, sql_dir, night + timedelta(days=1), keep=0)
    assert sandbox.find(replicating) is not None  # killed before its deletion, after blue's cleanup

    _, results = qa_run(blue.id, planes, sql_dir, night + timedelta(days=2), keep=0)
    assert replicating in results[-1]["retired"] and sandbox.find(replicating) is None
    assert results[-1]["blue"]["replication_user_on_blue"] == f"{REPLICATION_LOGIN} did not exist"
    assert not user_exists(blue_root, REPLICATION_LOGIN)
    assert retention(blue_root) == retention_before


def test_retiring_a_qa_clone_keeps_blue_set_up_while_another_replicates(
    sandbox, connect, planes, sql_dir, blue
):
    night = datetime(2026, 3, 8, 2, 0, tzinfo=timezone.utc)
    first, _ = qa_run(blue.id, planes, sql_dir, night, replicate=True)
    second, results = qa_run(blue.id, planes, sql_dir, night + timedelta(days=1), replicate=True)
    assert results[-1]["retired"] == [first]
    assert results[-1]["blue"]["replication_user_on_blue"] == f"kept: {second} still replicate from {blue.id}"
    assert user_exists(connect(blue.id, "root"), REPLICATION_LOGIN)
    assert replica_threads(connect(second, "root"))[:2] == ("Yes", "Yes")


@pytest.mark.parametrize(
    ("overrides", "field", "rule"),
    [
        ({"keep_previous": -1}, "keep_previous", "0 or more"),
        ({"masking_files": ["scrub.sql"], "replicate": True}, "replicate", "false when masking_files"),
        ({"masking_files": ["../scrub.sql"]}, r"masking_files\[0\]", "relative path"),
        ({"masking_files": ["nope.sql"]}, r"masking_files\[0\]", "does not exist"),
        ({"qa_cluster_prefix": "q" * 41}, "qa_cluster_prefix", "at most 40"),
        ({"qa_endpoint": "sandbox:qa; DROP TABLE x"}, "qa_endpoint", "a plain SQL identifier"),
        ({"qa_endpoint": "ftp:qa"}, "qa_endpoint", "'none', 'sandbox:<endpoint name>'"),
    ],
)
def test_qa_refresh_refuses_bad_input_before_any_change(sandbox, planes, sql_dir, overrides, field, rule):
    sql_dir.write("masking", "scrub.sql", MASKING)
    arguments = {
        "task_id": "plan",
        "blue_cluster_id": "blue",
        "qa_cluster_prefix": "blue-qa",
        "keep_previous": 1,
        "masking_files": [],
        "sql_folder": sql_dir.folder("masking"),
        "replicate": False,
        "qa_endpoint": "none",
        "replication_conn_id": "life_repl",
        **planes,
        **overrides,
    }
    before = {record.cluster_id for record in sandbox.clusters()}
    with pytest.raises(InvalidInput, match=rf"{field}.*{rule}"):
        PlanQaRefreshOperator(**arguments).execute(context())
    assert {record.cluster_id for record in sandbox.clusters()} == before


def test_failed_masking_deletes_the_unmasked_clone(sandbox, planes, sql_dir, blue):
    bad = sql_dir.write("masking", "bad.sql", "UPDATE shop.customers SET no_such_column = 1;")
    night = datetime(2026, 4, 1, 2, 0, tzinfo=timezone.utc)
    with pytest.raises(SqlFileFailed, match=r"bad.sql statement 1 failed on QA clone .*\(1054\)"):
        qa_run(blue.id, planes, sql_dir, night, masking=[bad])
    assert sandbox.list_clusters(qa_tags(blue.id)) == []


def test_masking_refuses_a_cluster_that_is_not_our_qa_clone(sandbox, connect, planes, sql_dir, blue):
    mask = sql_dir.write("masking", "scrub.sql", MASKING)
    blue_root = connect(blue.id, "root")
    emails = scalar(blue_root, "SELECT COUNT(*) FROM shop.customers WHERE email LIKE '%@example.invalid'")
    with pytest.raises(NotManagedByUs, match="not a qa clone made by aurora-bluegreen"):
        MaskQaCloneOperator(
            task_id="mask_qa",
            cluster_id=blue.id,
            masking_files=[mask],
            sql_folder=sql_dir.folder("masking"),
            **planes,
        ).execute(context())
    assert sandbox.find(blue.id) is not None
    assert (
        scalar(blue_root, "SELECT COUNT(*) FROM shop.customers WHERE email LIKE '%@example.invalid'")
        == emails
    )


def test_qa_replication_refuses_bad_input_before_tagging_anything(sandbox, planes, blue):
    tags_before = sandbox.describe(blue.id).tags
    with pytest.raises(InvalidInput, match="green_cluster_id"):
        StartQaReplicationOperator(
            task_id="replicate_qa",
            replicate=True,
            blue_cluster_id=blue.id,
            green_cluster_id=blue.id,
            replication_conn_id="life_repl",
            **planes,
        ).execute(context())
    assert sandbox.describe(blue.id).tags == tags_before


def test_symlinked_sql_dir_files_resolve_inside(sql_dir):
    """A link that stays inside the folder is fine: only leaving it is refused."""
    from aurora_bluegreen.sql_files import sql_file

    folder = sql_dir.folder("checks")
    (folder / "real.sql").write_text(CHECK_PASSES)
    os.symlink(folder / "real.sql", folder / "alias.sql")
    assert sql_file("check_files[0]", folder, "alias.sql").path == Path(folder / "real.sql").resolve()


def test_the_control_plane_lists_by_tags_and_tags_only_our_clusters(sandbox, planes, blue):
    clone_green(blue, planes)
    ours = {"managed-by": "aurora-bluegreen", "source-cluster": blue.id}
    assert [c.cluster_id for c in sandbox.list_clusters(ours)] == [blue.green]
    assert sandbox.list_clusters({**ours, "role": "qa"}) == []
    sandbox.add_tags(blue.green, {"note": "kept"})
    assert sandbox.describe(blue.green).tags["note"] == "kept"
    with pytest.raises(NotManagedByUs, match="its tags stay as they are"):
        sandbox.add_tags(blue.id, {"note": "never"})
    assert "note" not in sandbox.describe(blue.id).tags
