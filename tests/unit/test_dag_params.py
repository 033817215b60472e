"""The trigger forms reject bad input before any task runs, and the DAGs have the designed flow."""

import itertools

import pytest
from airflow.sdk.definitions.param import ParamValidationError
from helpers import DAGS_DIR, load_dag

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.params import param


@pytest.fixture(scope="module")
def dag(deployment_dag):
    return deployment_dag


@pytest.fixture(scope="module")
def qa_dag():
    return load_dag(DAGS_DIR / "aurora_qa_refresh.py", "qa_refresh_dag")


@pytest.fixture(scope="module")
def teardown_dag():
    return load_dag(DAGS_DIR / "aurora_bluegreen_teardown.py", "teardown_dag")


def resolve(dag, name, value):
    return dag.params.get_param(name).resolve(value)


def test_defaults_are_valid(dag):
    dag.params.validate()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("blue_cluster_id", "1blue"),
        ("blue_cluster_id", "blue-"),
        ("green_cluster_id", "gr--een"),
        ("green_cluster_id", "g" * 64),
        ("writer_instance_id", "writer'; DROP TABLE t; --"),
        ("binlog_retention_hours", 0),
        ("binlog_retention_hours", 2161),
        ("max_lag_seconds", 0),
        ("max_lag_seconds", -1),
        ("max_freeze_seconds", 0),
        ("repoint", "dns:whatever"),
        ("repoint", "sandbox:app; rm -rf /"),
        ("vpc_security_group_ids", ["not-a-group"]),
        ("admin_conn_id", ""),
        ("cluster_parameter_group", "pg'); DROP"),
        ("migration_files", ["../../etc/passwd.sql"]),
        ("migration_files", ["/abs/path.sql"]),
        ("migration_files", ["notes.txt"]),
        ("migration_files", "one.sql"),
        ("check_files", ["sub/../../x.sql"]),
        ("check_files", ["x.sql; DROP"]),
        ("checks_warn_only", "yes"),
        ("max_lag_seconds", 3601),
        ("max_lag_seconds", float("nan")),
        ("max_lag_seconds", float("inf")),
        ("max_freeze_seconds", 601),
        ("max_freeze_seconds", float("nan")),
        ("quiet_seconds", float("nan")),
        ("approval_timeout_hours", 0),
        ("approval_timeout_hours", 721),
        ("approval_timeout_hours", float("nan")),
        ("approvers", "alice"),
        ("approvers", [""]),
    ],
)
def test_form_rejects(dag, name, value):
    with pytest.raises(ParamValidationError):
        resolve(dag, name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("blue_cluster_id", "a"),
        ("green_cluster_id", "prod-green-2"),
        ("max_lag_seconds", 0.5),
        ("vpc_security_group_ids", ["sg-0abc123"]),
        ("repoint", "none"),
        ("cluster_parameter_group", None),
        ("migration_files", ["add_gift_wrap_to_orders.sql", "2026/01_more.sql"]),
        ("check_files", []),
        ("checks_warn_only", True),
        ("max_lag_seconds", 3600),
        ("max_freeze_seconds", 600),
        ("approvers", ["alice", "bob"]),
        ("approval_timeout_hours", None),
        ("approval_timeout_hours", 0.5),
    ],
)
def test_form_accepts(dag, name, value):
    assert resolve(dag, name, value) == value


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_and_infinity_are_refused_with_the_value_shown(dag, value):
    with pytest.raises(ParamValidationError, match=str(value)):
        resolve(dag, "max_lag_seconds", value)


@pytest.fixture(scope="module")
def rollback_dag():
    return load_dag(DAGS_DIR / "aurora_bluegreen_rollback.py", "rollback_dag_params")


def every_param(*dags):
    return [(dag.dag_id, name, dag.params.get_param(name)) for dag in dags for name in dag.params]


def test_every_field_is_in_a_section_and_says_its_rule_in_words(dag, rollback_dag):
    from aurora_bluegreen.params import SECTIONS

    for dag_id, name, form_param in every_param(dag, rollback_dag):
        assert form_param.schema.get("section") in SECTIONS, (dag_id, name)
        pattern = form_param.schema.get("pattern") or form_param.schema.get("items", {}).get("pattern")
        if pattern:
            assert "Rule:" in (form_param.description or ""), (dag_id, name)
            assert pattern not in form_param.description, (dag_id, name)


def test_aws_only_fields_are_together(dag):
    from aurora_bluegreen.params import AWS

    aws = {name for name in dag.params if dag.params.get_param(name).schema["section"] == AWS}
    assert aws == {
        "cluster_parameter_group",
        "instance_parameter_group",
        "vpc_security_group_ids",
        "db_subnet_group",
        "snapshot_blue",
        "green_reader_count",
        "reader_instance_class",
    }


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("blue_cluster_id", "None"),
        ("blue_cluster_id", "True"),
        ("green_cluster_id", "False"),
        ("admin_conn_id", "12345"),
        ("control_plane_conn_id", "1e3"),
    ],
)
def test_a_string_param_stays_a_string_when_rendered_natively(dag, name, typed):
    from aurora_bluegreen.params import param

    task = dag.get_task("preflight")
    assert dag.render_template_as_native_obj
    assert task.render_template(param(name), {"params": {name: typed}}) == typed


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("approvers", ["alice"]),
        ("max_lag_seconds", 2.5),
        ("snapshot_blue", False),
        ("approval_timeout_hours", None),
    ],
)
def test_other_params_keep_their_type_when_rendered_natively(dag, name, value):
    from aurora_bluegreen.params import param

    assert dag.get_task("preflight").render_template(param(name), {"params": {name: value}}) == value


def test_nan_reaches_the_operator_as_its_name_and_is_refused_there(dag):
    from aurora_bluegreen import validation
    from aurora_bluegreen.params import param

    rendered = dag.get_task("preflight").render_template(
        param("max_lag_seconds"), {"params": {"max_lag_seconds": float("nan")}}
    )
    with pytest.raises(InvalidInput, match=r"max_lag_seconds='nan' is invalid"):
        validation.positive_number("max_lag_seconds", rendered)


def test_without_native_rendering_the_operators_say_what_to_set():
    from airflow.sdk import DAG

    from aurora_bluegreen.operators.approval import CutoverApprovalOperator
    from aurora_bluegreen.operators.cutover import VerifyCutoverOperator
    from aurora_bluegreen.params import param

    with DAG("text_rendering", schedule=None):
        verify = VerifyCutoverOperator(
            task_id="verify",
            blue_cluster_id=param("blue_cluster_id"),
            green_cluster_id="green",
            control_plane_conn_id="c",
            admin_conn_id="a",
        )
        approve = CutoverApprovalOperator(task_id="approve", subject="s", approvers=param("approvers"))
    for task in (verify, approve):
        with pytest.raises(InvalidInput, match="render_template_as_native_obj=True"):
            task.render_template_fields({"params": {}})


def assert_flow(dag, order):
    for upstream, downstream in itertools.pairwise(order):
        assert downstream in dag.get_task(upstream).downstream_task_ids, (upstream, downstream)


def test_dag_has_the_designed_flow(dag):
    assert_flow(
        dag,
        [
            "preflight",
            "snapshot_wanted",
            "snapshot_blue",
            "clone_green",
            "record_teardown_facts",
            "start_replication",
            "upgrade_green",
            "wait_for_catch_up",
            "migrate_green",
            "wait_after_migrations",
            "check_green",
            "add_readers",
            "approve_cutover",
            "cutover",
            "verify",
        ],
    )
    # A rejection (or a timed-out approval) skips the cutover; only then does "rejected" run.
    assert dag.get_task("rejected").upstream_task_ids == {"cutover"}
    assert dag.get_task("rejected").trigger_rule == "all_skipped"
    approve = dag.get_task("approve_cutover")
    assert approve.defaults == ["Reject"]
    assert {"approvers", "approval_timeout_hours"} <= set(approve.template_fields)
    # The files are checked before anything changes: the snapshot and clone wait for them.
    assert "snapshot_wanted" in dag.get_task("check_sql_files").downstream_task_ids
    # Optional AWS-only steps skip on the sandbox without skipping what follows them.
    assert dag.get_task("clone_green").trigger_rule == "none_failed"
    assert dag.get_task("approve_cutover").trigger_rule == "none_failed"
    assert dag.get_task("lag_dashboard").downstream_task_ids == set()
    assert dag.get_task("migrate_green").retries == 0  # DDL is not idempotent
    assert_holds_blue(dag, "preflight", "verify")
    assert_holds_blue(dag, "check_sql_files", "verify")


def assert_holds_blue(dag, first, last):
    """Blue is held before ``first`` and released after ``last``, by a teardown that always runs;
    no DAG-wide limit on runs blocks other blue clusters."""
    hold, release = dag.get_task("hold_blue"), dag.get_task("release_blue")
    assert first in hold.downstream_task_ids and last in release.upstream_task_ids
    assert hold.is_setup and release.is_teardown and hold.task_id in release.upstream_task_ids
    assert hold.cluster_ids == param("blue_cluster_id") == release.cluster_ids
    assert dag.max_active_runs > 1


def test_the_example_sql_files_pass_their_folders_rules(dag):
    from aurora_bluegreen.sql_files import sql_files

    module_dir = DAGS_DIR / "sql"
    migrations = [p.name for p in (module_dir / "migrations").glob("*.sql")]
    checks = [p.name for p in (module_dir / "checks").glob("*.sql")]
    assert len(sql_files("migration_files", module_dir / "migrations", migrations)) == len(migrations) >= 2
    assert len(sql_files("check_files", module_dir / "checks", checks, one_query=True)) == len(checks) >= 2
    assert sql_files("masking_files", module_dir / "masking", ["scrub_customer_pii.sql"])


def test_qa_refresh_is_nightly_without_catchup_one_at_a_time_per_blue(qa_dag):
    assert qa_dag.timetable.expression == "0 2 * * *"
    assert qa_dag.catchup is False
    assert_holds_blue(qa_dag, "plan", "retire_earlier_qa")
    qa_dag.params.validate()
    assert_flow(qa_dag, ["plan", "clone_qa", "mask_qa", "replicate_qa", "publish_qa", "retire_earlier_qa"])
    assert qa_dag.get_task("publish_qa").trigger_rule == "none_failed"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("keep_previous", -1),
        ("keep_previous", 1.5),
        ("masking_files", ["../scrub.sql"]),
        ("qa_cluster_prefix", "q" * 41),
        ("qa_cluster_prefix", "qa_prefix"),
        ("replicate", "no"),
        ("qa_endpoint", "sandbox:qa; rm -rf /"),
    ],
)
def test_qa_form_rejects(qa_dag, name, value):
    with pytest.raises(ParamValidationError):
        resolve(qa_dag, name, value)


@pytest.mark.parametrize("schedule", ["0 2 * *", "61 2 * * *", "every night", "@once", ""])
def test_an_invalid_qa_schedule_is_an_import_error_naming_the_setting(monkeypatch, schedule):
    monkeypatch.setenv("AIRFLOW__AURORA_BLUEGREEN__QA_REFRESH_SCHEDULE", schedule)
    with pytest.raises(InvalidInput, match=r"qa_refresh_schedule.*cron expression"):
        load_dag(DAGS_DIR / "aurora_qa_refresh.py", "qa_refresh_bad_schedule")


def test_the_qa_schedule_can_be_configured(monkeypatch):
    monkeypatch.setenv("AIRFLOW__AURORA_BLUEGREEN__QA_REFRESH_SCHEDULE", "30 3 * * 1-5")
    assert (
        load_dag(DAGS_DIR / "aurora_qa_refresh.py", "qa_refresh_weekdays").timetable.expression
        == "30 3 * * 1-5"
    )


def test_rollback_approval_is_assigned_times_out_and_says_when_rejected(rollback_dag):
    rollback_dag.params.validate()
    assert_flow(rollback_dag, ["wait_for_old_blue", "approve_switch_back", "switch_back", "verify"])
    assert rollback_dag.get_task("rejected").upstream_task_ids == {"switch_back"}
    approve = rollback_dag.get_task("approve_switch_back")
    assert approve.defaults == ["Reject"] and approve.approvers == "{{ params.approvers | pprint }}"


def test_teardown_form_and_flow(teardown_dag):
    teardown_dag.params.validate()
    assert_flow(teardown_dag, ["teardown", "delete_lag_dashboard"])
    assert_holds_blue(teardown_dag, "teardown", "delete_lag_dashboard")
    with pytest.raises(ParamValidationError):
        resolve(teardown_dag, "green_cluster_id", "green'; DROP")


@pytest.mark.parametrize(
    ("value", "rendered"), [("11.8", "11.8"), ("11.10", "11.10"), (None, None), ("", "")]
)
def test_a_target_engine_version_reaches_the_tasks_as_the_string_typed(dag, value, rendered):
    """The DAG renders native objects: 11.8 would arrive as a float, 11.10 as 11.1."""
    task = dag.get_task("upgrade_green")
    template = dag.get_template_env().from_string(task.target_engine_version)
    assert template.render(params={"target_engine_version": value}) == rendered


def test_rollback_holds_old_blue_for_the_run():
    rollback = load_dag(DAGS_DIR / "aurora_bluegreen_rollback.py", "rollback_dag")
    assert_holds_blue(rollback, "wait_for_old_blue", "verify")
