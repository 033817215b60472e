"""The blog's parameter-group rules as pure decisions: which group green gets, and what may be written."""

from datetime import datetime, timedelta, timezone

import pytest

from aurora_bluegreen.errors import ClusterStateError, InvalidInput
from aurora_bluegreen.parameter_groups import (
    Action,
    EngineVersion,
    GroupFacts,
    Level,
    carried_binlog_settings,
    enhanced_binlog_refusal,
    owned_group_name,
    plan_group,
    refusal_to_modify,
    settle_seconds_left,
)

AURORA3 = EngineVersion.parse("aurora-mysql", "8.0.mysql_aurora.3.06.0")
AURORA2 = EngineVersion.parse("aurora-mysql", "5.7.mysql_aurora.2.11.2")
OURS = owned_group_name("green", Level.CLUSTER)


def group(name, family="aurora-mysql8.0", managed=False, used_by=(), created_at=None):
    return GroupFacts(name, family, managed, frozenset(used_by), created_at)


def plan(level=Level.CLUSTER, requested=None, engine=AURORA3, blue_group="blue-params", groups=()):
    return plan_group(
        level=level,
        field=f"{level.value}_parameter_group",
        requested=requested,
        engine=engine,
        green_cluster_id="green",
        blue_cluster_id="blue",
        blue_group=blue_group,
        groups={g.name: g for g in groups},
    )


BLUES = group("blue-params", used_by={"blue"})


@pytest.mark.parametrize(
    ("engine", "version", "family", "level", "fast"),
    [
        ("aurora-mysql", "8.0.mysql_aurora.3.06.0", "aurora-mysql8.0", Level.CLUSTER, True),
        ("aurora-mysql", "8.0.mysql_aurora.3.10.1", "aurora-mysql8.0", Level.CLUSTER, True),
        ("aurora-mysql", "8.0.mysql_aurora.3.05.2", "aurora-mysql8.0", Level.CLUSTER, False),
        ("aurora-mysql", "5.7.mysql_aurora.2.11.2", "aurora-mysql5.7", Level.INSTANCE, False),
        ("aurora", "5.6.10a", "aurora5.6", Level.INSTANCE, False),
    ],
)
def test_engine_version_decides_family_level_and_fast_path(engine, version, family, level, fast):
    parsed = EngineVersion.parse(engine, version)
    assert (parsed.family, parsed.read_only_level, parsed.has_rds_set_read_only) == (family, level, fast)


@pytest.mark.parametrize(
    ("engine", "version"), [("mysql", "8.0.35"), ("aurora-postgresql", "15.4"), ("aurora-mysql", "")]
)
def test_engine_version_refuses_anything_but_aurora_mysql(engine, version):
    with pytest.raises(ValueError, match="not Aurora MySQL"):
        EngineVersion.parse(engine, version)


def test_no_group_named_copies_blues_group_and_never_writes_it():
    result = plan(groups=[BLUES])
    assert (result.name, result.action, result.source) == (OURS, Action.COPY, "blue-params")
    assert result.name != "blue-params"


def test_blues_own_group_named_for_green_is_copied_not_modified():
    result = plan(requested="blue-params", groups=[BLUES])
    assert (result.name, result.action, result.source) == (OURS, Action.COPY, "blue-params")
    assert "blue blue uses blue-params" in result.reason


def test_a_group_someone_else_made_is_copied_even_when_blue_does_not_use_it():
    # Stricter than the blog: the group may be shared by clusters the blog's check never looks at.
    result = plan(requested="team-params", groups=[BLUES, group("team-params", used_by={"reporting"})])
    assert (result.name, result.action, result.source) == (OURS, Action.COPY, "team-params")
    assert (
        "not created by aurora-bluegreen"
        in plan(requested="team-params", groups=[group("team-params")]).reason
    )


def test_a_group_we_made_for_green_is_written_in_place():
    ours = group("green-ro", managed=True, used_by={"green"})
    result = plan(requested="green-ro", groups=[BLUES, ours])
    assert (result.name, result.action) == ("green-ro", Action.WRITE)


def test_a_group_we_made_that_another_cluster_now_uses_is_copied():
    shared = group("green-ro", managed=True, used_by={"green", "blue"})
    result = plan(requested="green-ro", groups=[BLUES, shared])
    assert result.action is Action.COPY and result.name == OURS


def test_a_named_group_that_does_not_exist_is_a_copy_of_blues_under_that_name():
    # An empty group would leave binlog_format at the engine's default (OFF): green would write no
    # binlogs, and old blue could not follow it after the cutover.
    result = plan(requested="green-params", groups=[BLUES])
    assert (result.name, result.action, result.source) == ("green-params", Action.COPY, "blue-params")
    assert result.binlog_source is None


def test_blue_on_the_default_group_gets_a_new_group_with_the_default_groups_binlog_settings():
    # AWS lets nobody copy a default group; the new group takes its binlog settings explicitly.
    result = plan(blue_group="default.aurora-mysql8.0", groups=[group("default.aurora-mysql8.0")])
    assert (result.name, result.action, result.source) == (OURS, Action.CREATE, None)
    assert result.binlog_source == "default.aurora-mysql8.0"
    named = plan(requested="green-params", blue_group="default.aurora-mysql8.0")
    assert (named.name, named.action, named.binlog_source) == (
        "green-params",
        Action.CREATE,
        "default.aurora-mysql8.0",
    )


def test_a_new_instance_group_carries_no_binlog_settings_because_they_live_in_the_cluster_group():
    result = plan(level=Level.INSTANCE, engine=AURORA2, blue_group="default.aurora-mysql5.7")
    assert (result.action, result.binlog_source) == (Action.CREATE, None)


def test_binlog_settings_carried_are_blues_modifiable_binlog_parameters_with_a_value():
    listed = [
        {"ParameterName": "binlog_format", "ParameterValue": "OFF", "IsModifiable": True},
        {"ParameterName": "binlog_row_image", "ParameterValue": "full", "IsModifiable": True},
        {"ParameterName": "binlog_checksum", "IsModifiable": True},
        {"ParameterName": "binlog_row_metadata", "ParameterValue": "minimal", "IsModifiable": False},
        {"ParameterName": "character_set_server", "ParameterValue": "utf8mb4", "IsModifiable": True},
    ]
    assert carried_binlog_settings("default.aurora-mysql8.0", listed) == {
        "binlog_format": "OFF",
        "binlog_row_image": "full",
    }


def test_a_group_that_lists_no_binlog_format_cannot_be_carried_over():
    with pytest.raises(ClusterStateError, match=r"default.aurora-mysql8.0 lists no binlog_format"):
        carried_binlog_settings("default.aurora-mysql8.0", [])


def test_a_retry_writes_the_group_it_created_the_first_time():
    result = plan(groups=[BLUES, group(OURS, managed=True)])
    assert (result.name, result.action) == (OURS, Action.WRITE)


def test_a_group_made_earlier_carries_its_creation_time_into_the_plan():
    made = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
    assert plan(groups=[BLUES, group(OURS, managed=True, created_at=made)]).created_at == made
    named = group("green-ro", managed=True, used_by={"green"}, created_at=made)
    assert plan(requested="green-ro", groups=[BLUES, named]).created_at == made


NOW = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("created_at", "settle", "left"),
    [
        (NOW, 300, 300),
        (NOW - timedelta(seconds=100), 300, 200),
        (NOW - timedelta(seconds=301), 300, 0),
        (None, 300, 300),  # when it was made is unknown: wait in full, as AWS advises
        (None, 0, 0),
    ],
)
def test_settle_seconds_left(created_at, settle, left):
    assert settle_seconds_left(created_at, NOW, settle) == left


def test_a_foreign_group_squatting_on_our_name_is_refused():
    with pytest.raises(InvalidInput, match=r"cluster_parameter_group.*was not created by aurora-bluegreen"):
        plan(groups=[BLUES, group(OURS)])


def test_wrong_family_is_refused_naming_the_field():
    with pytest.raises(InvalidInput) as error:
        plan(requested="old-params", groups=[group("old-params", family="aurora-mysql5.7")])
    assert error.value.field == "cluster_parameter_group"
    assert "family aurora-mysql8.0 (it is aurora-mysql5.7)" in str(error.value)


def test_aurora2_applies_the_rules_to_the_instance_group():
    blue_instance = group("blue-db-params", family="aurora-mysql5.7", used_by={"blue"})
    result = plan(level=Level.INSTANCE, engine=AURORA2, blue_group="blue-db-params", groups=[blue_instance])
    assert (result.name, result.action) == (owned_group_name("green", Level.INSTANCE), Action.COPY)
    # ... and attaches the cluster group as it is, since read_only does not live there.
    cluster = plan(engine=AURORA2, blue_group="blue-params", groups=[group("blue-params", "aurora-mysql5.7")])
    assert (cluster.name, cluster.action) == ("blue-params", Action.ATTACH)


def test_aurora3_attaches_the_instance_group_as_it_is():
    named = plan(
        level=Level.INSTANCE, requested="blue-db-params", groups=[group("blue-db-params", used_by={"blue"})]
    )
    assert (named.name, named.action, named.writes_read_only) == ("blue-db-params", Action.ATTACH, False)
    default = plan(level=Level.INSTANCE, blue_group="default.aurora-mysql8.0")
    assert (default.name, default.action) == (None, Action.ATTACH)


def test_a_missing_group_at_the_level_without_read_only_is_a_typo():
    with pytest.raises(InvalidInput, match=r"instance_parameter_group.*an existing instance parameter group"):
        plan(level=Level.INSTANCE, requested="typo-params")


@pytest.mark.parametrize(
    ("facts", "refused"),
    [
        (group("g", managed=True, used_by={"green"}), None),
        (group("g", managed=True), None),
        (group("g", managed=False, used_by={"green"}), "was not created by aurora-bluegreen"),
        (group("g", managed=True, used_by={"green", "blue"}), "is also used by blue"),
    ],
)
def test_refusal_to_modify(facts, refused):
    reason = refusal_to_modify(facts, "green")
    assert reason is None if refused is None else refused in reason


def test_enhanced_binlog_on_blue_is_refused_saying_what_why_and_what_to_do():
    rule = enhanced_binlog_refusal("blue-params", {"aurora_enhanced_binlog": "1", "binlog_format": "ROW"})
    assert "blue-params sets aurora_enhanced_binlog=1 (enhanced binlog)" in rule
    assert "not copied to clones" in rule
    assert "aurora_enhanced_binlog=0, binlog_backup=1, binlog_replication_globaldb=1" in rule


@pytest.mark.parametrize("parameters", [{}, {"aurora_enhanced_binlog": "0"}, {"binlog_format": "ROW"}])
def test_community_binlog_is_fine(parameters):
    assert enhanced_binlog_refusal("blue-params", parameters) is None
