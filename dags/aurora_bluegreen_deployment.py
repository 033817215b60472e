"""Blue/green deployment of an Aurora MySQL cluster (or the local sandbox), with an approved cutover.

Green exists so people can try schema changes and checks on live data before they commit: the
optional migration files (``sql/migrations/`` next to this file) are applied to green while it
replicates, the optional check files (``sql/checks/``) run on green afterwards, and both results
are in the approval's body.

Parse cost: only operator classes are imported here, and no task does work at parse time. The
AWS-only tasks import the amazon provider and boto3 when they run, not when this file is parsed
(``operators/aws_base.py``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Param

from aurora_bluegreen.notifications import approval_notifiers_from_env
from aurora_bluegreen.operators.approval import CutoverApprovalOperator, RejectionNoticeOperator
from aurora_bluegreen.operators.checks import RunChecksOperator, checks_markdown
from aurora_bluegreen.operators.clone import CloneClusterOperator
from aurora_bluegreen.operators.cluster_lock import hold_for_the_run
from aurora_bluegreen.operators.cutover import CutoverOperator, VerifyCutoverOperator
from aurora_bluegreen.operators.dashboard import BinlogLagDashboardOperator
from aurora_bluegreen.operators.migrations import ApplyMigrationsOperator, migrations_markdown
from aurora_bluegreen.operators.preflight import PreflightOperator
from aurora_bluegreen.operators.readers import AuroraReadersOperator
from aurora_bluegreen.operators.replication import StartBinlogReplicationOperator
from aurora_bluegreen.operators.snapshot import ClusterSnapshotOperator
from aurora_bluegreen.operators.sql_inputs import ValidateSqlFilesOperator
from aurora_bluegreen.operators.teardown import RecordTeardownFactsOperator
from aurora_bluegreen.operators.upgrade import UpgradeGreenOperator
from aurora_bluegreen.ownership import REPLICATES_TAG
from aurora_bluegreen.params import (
    AWS,
    CLUSTERS,
    CUTOVER,
    LONGEST_FREEZE_SECONDS,
    LONGEST_LAG_SECONDS,
    QA,
    TARGET_ENGINE_VERSION_SCHEMA,
    approval_params,
    cluster_id_param,
    connection_params,
    freeze_params,
    param,
    repoint_param,
    seconds_param,
)
from aurora_bluegreen.sensors.replica_lag import ReplicaLagSensor
from aurora_bluegreen.sql_files import FILE_NAME_PATTERN, FILE_NAME_RULE

OPTIONAL_NAME_SCHEMA = {"type": ["null", "string"], "maxLength": 255, "pattern": "^[A-Za-z0-9._-]*$"}
NAME_RULE = "Rule: up to 255 letters, digits, '.', '_' or '-'; empty for AWS's default."
SQL_FILES_SCHEMA = {"type": "array", "items": {"type": "string", "pattern": FILE_NAME_PATTERN}}
# The only places migration and check files may come from: fixed here, never by a trigger form.
SQL_DIR = Path(__file__).resolve().parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"
CHECKS_DIR = SQL_DIR / "checks"


# What each step is called in the UI, and where its page is (docs/operators/ in the repository).
TASK_GUIDE = {
    "check_sql_files": (
        "Check the SQL files",
        "validate_sql_files",
        "Refuses missing files or paths outside dags/sql.",
    ),
    "preflight": (
        "Preflight",
        "preflight",
        "Validates every input and blue's binlog settings; changes nothing.",
    ),
    "snapshot_wanted": ("Snapshot wanted?", None, "Skips the snapshot unless `snapshot_blue` is set."),
    "snapshot_blue": (
        "Snapshot blue (AWS)",
        "snapshot",
        "A manual cluster snapshot of blue before anything changes.",
    ),
    "clone_green": (
        "Clone blue into green",
        "clone",
        "Copy-on-write clone plus its writer; waits in the triggerer.",
    ),
    "record_teardown_facts": (
        "Record what teardown restores",
        "record_teardown_facts",
        "Blue's retention, kept on green's tags.",
    ),
    "start_replication": (
        "Replicate blue → green",
        "start_replication",
        "From the clone's exact binlog coordinates.",
    ),
    "upgrade_green": (
        "Upgrade green's engine",
        "upgrade_green",
        "Only with `target_engine_version`; replication checked again from its exact position.",
    ),
    "lag_dashboard": (
        "Lag dashboard (AWS)",
        "lag_dashboard",
        "CloudWatch dashboard of AuroraBinlogReplicaLag (docs/aws.md).",
    ),
    "wait_for_catch_up": (
        "Wait for green to catch up",
        "replica_lag_sensor",
        "Fails at once if replication breaks.",
    ),
    "migrate_green": (
        "Schema changes on green",
        "apply_migrations",
        "Applies the migration files while green replicates.",
    ),
    "wait_after_migrations": (
        "Wait for green again",
        "replica_lag_sensor",
        "Replication must survive the schema changes.",
    ),
    "check_green": ("Checks on green", "run_checks", "Runs the check files; results go into the approval."),
    "add_readers": (
        "Readers for green (AWS)",
        "readers",
        "Aurora readers across the subnet group's zones (docs/aws.md).",
    ),
    "approve_cutover": (
        "Approve the cutover",
        "approval",
        "Waits for an approver: Approve cuts over; Reject, or no answer in time, leaves blue as it is.",
    ),
    "rejected": (
        "Rejected: nothing changed",
        "approval",
        "Runs only after a rejection or a timed-out approval, and says which.",
    ),
    "cutover": ("Cut over (write freeze)", "cutover", "The critical section; its log holds the step table."),
    "verify": (
        "Verify the end state",
        "verify_cutover",
        "Green writable and no longer a replica; blue read-only.",
    ),
}


def guide(task_id: str) -> dict[str, str]:
    name, page, summary = TASK_GUIDE[task_id]
    more = f" See `docs/operators/{page}.md`." if page else ""
    return {"task_id": task_id, "task_display_name": name, "doc_md": summary + more}


def wanted(flag: bool) -> bool:
    return bool(flag)


def lag_sensor(task_id: str, planes: dict[str, str]) -> ReplicaLagSensor:
    """Wait, in the triggerer, until green is within the lag threshold; fail at once if it broke."""
    return ReplicaLagSensor(
        **guide(task_id),
        green_cluster_id=param("green_cluster_id"),
        max_lag_seconds=param("max_lag_seconds"),
        poke_interval=2,
        **planes,
    )


APPROVAL_BODY = """\
{%- set clone = ti.xcom_pull(task_ids='clone_green') -%}
{%- set lag = ti.xcom_pull(task_ids='wait_after_migrations') -%}
{%- set upgrade = ti.xcom_pull(task_ids='upgrade_green') -%}
Green has caught up with blue, with the schema changes and check results below. **Approve**
freezes writes on blue (read-only), waits until green has executed blue's last binlog event, makes
green the writer and repoints the application. **Reject** leaves blue untouched and green
replicating; run `aurora_bluegreen_teardown` to remove green. No answer by the deadline is a
rejection; until then, leaving this open postpones the cutover while green keeps replicating.

The lag and positions are as green reported them at **{{ lag.observed_at }}**, and the checks ran
before that. The cutover measures everything again, exactly, before it freezes blue.

| | |
|---|---|
| Blue (production) | `{{ params.blue_cluster_id }}` |
| Green | `{{ params.green_cluster_id }}` at `{{ clone.endpoint }}:{{ clone.port }}` |
| Clone taken at blue's | `{{ clone.coordinates.position.file }}:{{ clone.coordinates.position.position }}` |
| Figures taken at | {{ lag.observed_at }} |
| Replication lag | {{ lag.seconds_behind }} s (threshold {{ params.max_lag_seconds }} s) |
| Green has read up to | `{{ lag.read_position.file }}:{{ lag.read_position.position }}` |
| Blue's engine | {{ upgrade.blue_version }} |
| Green's engine | {{ upgrade.green_version }}{{ '' if upgrade.skipped else ' (upgraded here)' }} |
| Green has executed up to | `{{ lag.exec_position.file }}:{{ lag.exec_position.position }}` |
| Freeze budget | {{ params.max_freeze_seconds }} s, rolled back if exceeded |
| How blue is frozen | `{{ params.freeze_method }}` |
| Application endpoint | `{{ params.repoint }}` |

### Schema changes applied to green
{{ ti.xcom_pull(task_ids='migrate_green') | migrations_table }}

### Checks on green
{{ ti.xcom_pull(task_ids='check_green') | checks_table }}
"""

with DAG(
    dag_id="aurora_bluegreen_deployment",
    description="Clone blue into green, replicate, approve, cut over with a bounded write freeze",
    schedule=None,
    catchup=False,
    render_template_as_native_obj=True,
    user_defined_filters={"migrations_table": migrations_markdown, "checks_table": checks_markdown},
    tags=["aurora", "blue-green"],
    doc_md=__doc__,
    params={
        "blue_cluster_id": cluster_id_param("blue", "Blue cluster id", "The production cluster (blue)."),
        "green_cluster_id": cluster_id_param(
            "green", "Green cluster id", "The clone to create; must differ from blue."
        ),
        "writer_instance_id": cluster_id_param("green-writer", "Green writer instance id"),
        "binlog_retention_hours": Param(
            24,
            type="integer",
            minimum=1,
            maximum=2160,
            title="Binlog retention on blue (hours)",
            description="Rule: a whole number from 1 to 2160 (90 days, Aurora's maximum).",
            section=CLUSTERS,
        ),
        **connection_params(),
        "cluster_parameter_group": Param(
            None,
            **OPTIONAL_NAME_SCHEMA,
            title="Green cluster parameter group",
            description=NAME_RULE,
            section=AWS,
        ),
        "instance_parameter_group": Param(
            None,
            **OPTIONAL_NAME_SCHEMA,
            title="Green instance parameter group",
            description=NAME_RULE,
            section=AWS,
        ),
        "vpc_security_group_ids": Param(
            [],
            type="array",
            items={"type": "string", "pattern": "^sg-[0-9a-f]+$"},
            title="Green VPC security groups",
            description="Rule: security group ids, 'sg-' followed by lowercase hex digits.",
            section=AWS,
        ),
        "db_subnet_group": Param(
            None, **OPTIONAL_NAME_SCHEMA, title="Green DB subnet group", description=NAME_RULE, section=AWS
        ),
        "snapshot_blue": Param(
            False,
            type="boolean",
            title="Snapshot blue first (AWS)",
            description="A manual cluster snapshot of blue before anything changes, as the blog advises.",
            section=AWS,
        ),
        "green_reader_count": Param(
            0,
            type="integer",
            minimum=0,
            maximum=15,
            title="Aurora readers for green before the approval (AWS)",
            description="Readers spread across the subnet group's zones, for production traffic. "
            "Rule: 0 to 15.",
            section=AWS,
        ),
        "reader_instance_class": Param(
            None,
            type=["null", "string"],
            pattern="^(db\\.[a-z0-9]+\\.[a-z0-9]+)?$",
            title="Reader instance class (default: the writer's)",
            description="Rule: an instance class such as db.r6g.large, or empty for the writer's.",
            section=AWS,
        ),
        "migration_files": Param(
            [],
            **SQL_FILES_SCHEMA,
            title="Schema changes to try on green",
            description=f"SQL files in {MIGRATIONS_DIR}, applied in this order to green while it "
            f"replicates, after it caught up and before the approval. Rule: {FILE_NAME_RULE}.",
            section=QA,
        ),
        "check_files": Param(
            [],
            **SQL_FILES_SCHEMA,
            title="Checks to run on green",
            description=f"SQL files in {CHECKS_DIR}, one query each whose rows must all have a true "
            f"first column; the results are shown in the approval. Rule: {FILE_NAME_RULE}.",
            section=QA,
        ),
        "checks_warn_only": Param(
            False,
            type="boolean",
            title="Checks only warn",
            description="A failing check is shown in the approval instead of stopping the run.",
            section=QA,
        ),
        "max_lag_seconds": seconds_param(
            5, "Lag threshold (seconds) before approval and cutover", maximum=LONGEST_LAG_SECONDS
        ),
        "max_freeze_seconds": seconds_param(
            10,
            "Write-freeze budget for the cutover (seconds)",
            maximum=LONGEST_FREEZE_SECONDS,
            purpose="Past it, the cutover rolls back and blue takes writes again.",
        ),
        "repoint": repoint_param("sandbox:app", "How the application is moved to green"),
        "application_users": Param(
            [],
            type="array",
            items={"type": "string", "minLength": 1, "maxLength": 80},
            title="The application's MySQL users",
            description="Preflight refuses any that can write through read_only (SUPER, READ_ONLY ADMIN, "
            "CONNECTION_ADMIN, ALL): the cutover could not freeze their writes.",
            section=CUTOVER,
        ),
        "target_engine_version": Param(
            None,
            **TARGET_ENGINE_VERSION_SCHEMA,
            title="Upgrade green's engine to (empty: no upgrade)",
            description="While green replicates, before the approval: an RDS EngineVersion that blue's "
            "version lists as a valid upgrade target (8.0.mysql_aurora.3.10.0), or on the sandbox's "
            "MariaDB engine a release series (11.8). Preflight refuses any other. See "
            "docs/operators/upgrade_green.md. Rule: empty, or digits.digits and an optional suffix.",
            section=QA,
        ),
        **freeze_params(),
        **approval_params(),
    },
) as dag:
    planes = {
        "control_plane_conn_id": param("control_plane_conn_id"),
        "admin_conn_id": param("admin_conn_id"),
    }

    check_sql_files = ValidateSqlFilesOperator(
        **guide("check_sql_files"),
        files={"migration_files": param("migration_files"), "check_files": param("check_files")},
        folders={"migration_files": MIGRATIONS_DIR, "check_files": CHECKS_DIR},
        queries=["check_files"],
    )
    preflight = PreflightOperator(
        **guide("preflight"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        writer_instance_id=param("writer_instance_id"),
        binlog_retention_hours=param("binlog_retention_hours"),
        max_lag_seconds=param("max_lag_seconds"),
        max_freeze_seconds=param("max_freeze_seconds"),
        replication_conn_id=param("replication_conn_id"),
        application_users=param("application_users"),
        freeze_method=param("freeze_method"),
        quiet_seconds=param("quiet_seconds"),
        target_engine_version=param("target_engine_version"),
        **planes,
    )
    snapshot_wanted = ShortCircuitOperator(
        **guide("snapshot_wanted"),
        python_callable=wanted,
        op_kwargs={"flag": param("snapshot_blue")},
        ignore_downstream_trigger_rules=False,
    )
    snapshot_blue = ClusterSnapshotOperator(
        **guide("snapshot_blue"),
        cluster_id=param("blue_cluster_id"),
        snapshot_id="{{ params.blue_cluster_id }}-before-{{ ts_nodash | lower }}",
        tags={
            "managed-by": "aurora-bluegreen",
            "role": "snapshot",
            "source-cluster": "{{ params.blue_cluster_id }}",
            "dag-run": "{{ run_id }}",
        },
        aws_conn_id=param("control_plane_conn_id"),
    )
    clone = CloneClusterOperator(
        **guide("clone_green"),
        source_cluster_id=param("blue_cluster_id"),
        cluster_id=param("green_cluster_id"),
        writer_instance_id=param("writer_instance_id"),
        cluster_parameter_group=param("cluster_parameter_group"),
        instance_parameter_group=param("instance_parameter_group"),
        vpc_security_group_ids=param("vpc_security_group_ids"),
        db_subnet_group=param("db_subnet_group"),
        control_plane_conn_id=param("control_plane_conn_id"),
        tags={REPLICATES_TAG: "true"},
        poll_interval=2,
        trigger_rule="none_failed",
        retries=2,
        retry_delay=timedelta(seconds=5),
    )
    record_teardown_facts = RecordTeardownFactsOperator(
        **guide("record_teardown_facts"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        retries=2,
        retry_delay=timedelta(seconds=5),
        **planes,
    )
    replicate = StartBinlogReplicationOperator(
        **guide("start_replication"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        binlog_retention_hours=param("binlog_retention_hours"),
        replication_conn_id=param("replication_conn_id"),
        retries=2,
        retry_delay=timedelta(seconds=5),
        **planes,
    )
    lag_dashboard = BinlogLagDashboardOperator(
        **guide("lag_dashboard"),
        writer_instance_id=param("writer_instance_id"),
        aws_conn_id=param("control_plane_conn_id"),
    )
    upgrade_green = UpgradeGreenOperator(
        **guide("upgrade_green"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        target_engine_version=param("target_engine_version"),
        poll_interval=30,
        **planes,
    )
    wait_for_catch_up = lag_sensor("wait_for_catch_up", planes)
    migrate = ApplyMigrationsOperator(
        **guide("migrate_green"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        migration_files=param("migration_files"),
        sql_folder=MIGRATIONS_DIR,
        **planes,
    )
    # Green must still be replicating, and caught up again, after the schema changes.
    wait_after_migrations = lag_sensor("wait_after_migrations", planes)
    checks = RunChecksOperator(
        **guide("check_green"),
        green_cluster_id=param("green_cluster_id"),
        check_files=param("check_files"),
        warn_only=param("checks_warn_only"),
        sql_folder=CHECKS_DIR,
        **planes,
    )
    add_readers = AuroraReadersOperator(
        **guide("add_readers"),
        cluster_id=param("green_cluster_id"),
        reader_count=param("green_reader_count"),
        instance_class=param("reader_instance_class"),
        aws_conn_id=param("control_plane_conn_id"),
        deferrable=True,
        waiter_delay=30,
        waiter_max_attempts=60,
    )
    approve = CutoverApprovalOperator(
        **guide("approve_cutover"),
        trigger_rule="none_failed",
        subject="Cut over {{ params.blue_cluster_id }} to {{ params.green_cluster_id }}?",
        notifiers=approval_notifiers_from_env(),
        body=APPROVAL_BODY,
        approvers=param("approvers"),
        approval_timeout_hours=param("approval_timeout_hours"),
    )
    rejected = RejectionNoticeOperator(**guide("rejected"), approval_task_id="approve_cutover")
    cutover = CutoverOperator(
        **guide("cutover"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        max_freeze_seconds=param("max_freeze_seconds"),
        max_lag_seconds=param("max_lag_seconds"),
        repoint=param("repoint"),
        replication_conn_id=param("replication_conn_id"),
        approval_task_id="approve_cutover",
        # The schema changes' own GTIDs on green: written on purpose, so not a reason to refuse.
        expected_green_writes="{{ ti.xcom_pull(task_ids='migrate_green')['green_local_writes'] }}",
        # Checked again for a read_only bypass at the cutover, with every user connected to blue.
        application_users=param("application_users"),
        freeze_method=param("freeze_method"),
        quiet_seconds=param("quiet_seconds"),
        # A retry converges: it finishes or repeats the critical section, never runs it twice.
        retries=1,
        retry_delay=timedelta(seconds=2),
        **planes,
    )
    verify = VerifyCutoverOperator(
        **guide("verify"),
        blue_cluster_id=param("blue_cluster_id"),
        green_cluster_id=param("green_cluster_id"),
        freeze_method=param("freeze_method"),
        **planes,
    )

    [check_sql_files, preflight] >> snapshot_wanted >> snapshot_blue >> clone
    # The lag sensor runs after the upgrade: green must catch up again on its new engine.
    clone >> record_teardown_facts >> replicate >> upgrade_green >> wait_for_catch_up
    replicate >> lag_dashboard  # a leaf: skipped on the sandbox without skipping the chain
    wait_for_catch_up >> migrate >> wait_after_migrations >> checks >> add_readers >> approve
    approve >> cutover >> verify
    cutover >> rejected  # runs only when the approval skipped the cutover
    hold_for_the_run(param("blue_cluster_id"), [check_sql_files, preflight], verify)
