import pytest

from aurora_bluegreen import validation
from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.parameter_groups import EngineVersion, max_binlog_retention_hours


@pytest.mark.parametrize("value", ["a", "blue", "prod-db-1", "A" + "b" * 62])
def test_cluster_identifier_accepts_aws_rules(value):
    assert validation.cluster_identifier("blue_cluster_id", value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "1blue",
        "-blue",
        "blue-",
        "blue--green",
        "blue_green",
        "blue.green",
        "a" * 64,
        "blué",
        None,
        7,
        "blue'; DROP TABLE x; --",
    ],
)
def test_cluster_identifier_rejects_with_field_and_rule(value):
    with pytest.raises(InvalidInput) as error:
        validation.cluster_identifier("green_cluster_id", value)
    assert "green_cluster_id" in str(error.value)
    assert validation.CLUSTER_ID_RULE in str(error.value)


@pytest.mark.parametrize("value", ["repl", "repl_user_123456", "R2d2"])
def test_replication_user_name_accepts(value):
    assert validation.replication_user_name("user", value) == value


@pytest.mark.parametrize(
    "value", ["rep", "repl_user_1234567", "1repl", "_repl", "repl-user", "repl user", "repl'@'%", ""]
)
def test_replication_user_name_rejects(value):
    with pytest.raises(InvalidInput, match="4-16 letters"):
        validation.replication_user_name("aurora_replication.login", value)


@pytest.mark.parametrize("value", [0, -1, -0.5, "5", None, True, float("nan")])
def test_positive_number_rejects(value):
    with pytest.raises(InvalidInput, match="max_lag_seconds"):
        validation.positive_number("max_lag_seconds", value)


@pytest.mark.parametrize("value", [0, 2161, -3, 1.5, "24"])
def test_retention_hours_rejects(value):
    with pytest.raises(InvalidInput, match="1 to 2160"):
        validation.retention_hours("binlog_retention_hours", value)


def test_green_equal_to_blue_is_rejected_case_insensitively():
    with pytest.raises(InvalidInput, match="different from blue_cluster_id"):
        validation.distinct_clusters("Prod", "prod")


def test_missing_connection_names_field(monkeypatch):
    with pytest.raises(InvalidInput, match=r"admin_conn_id='no_such_conn'.*existing Airflow connection"):
        validation.connection_exists("admin_conn_id", "no_such_conn")


def aurora(version):
    return EngineVersion.parse("aurora-mysql", version)


@pytest.mark.parametrize(
    ("engine", "hours"),
    [
        (None, 2160),  # not known to be Aurora (the sandbox): the largest Aurora allows
        (aurora("5.7.mysql_aurora.2.07.9"), 168),
        (aurora("5.7.mysql_aurora.2.10.3"), 168),
        (aurora("5.7.mysql_aurora.2.11.0"), 2160),
        (aurora("5.7.mysql_aurora.2.12.1"), 2160),
        (aurora("8.0.mysql_aurora.3.01.0"), 2160),
        (aurora("8.0.mysql_aurora.3.06.0"), 2160),
        (EngineVersion.parse("aurora", "5.6.10a"), 2160),  # Aurora MySQL 1
    ],
)
def test_max_binlog_retention_hours_depends_on_the_aurora_version(engine, hours):
    assert max_binlog_retention_hours(engine) == hours


def test_retention_over_what_blues_version_keeps_is_refused_naming_the_field_and_its_maximum():
    old = aurora("5.7.mysql_aurora.2.10.3")
    assert validation.retention_hours("binlog_retention_hours", 168, old) == 168
    with pytest.raises(InvalidInput) as error:
        validation.retention_hours("binlog_retention_hours", 169, old)
    assert error.value.field == "binlog_retention_hours"
    assert "from 1 to 168" in str(error.value)
    assert "5.7.mysql_aurora.2.10.3" in str(error.value)
    assert (
        validation.retention_hours("binlog_retention_hours", 2160, aurora("8.0.mysql_aurora.3.06.0")) == 2160
    )


@pytest.mark.parametrize(
    ("engine", "version", "expected"),
    [
        ("aurora-mysql", "8.0.mysql_aurora.3.06.0", "8.0.mysql_aurora.3.06.0"),
        (None, None, None),
        ("aurora-mysql", None, None),
        ("mysql", "8.0.35", None),
    ],
)
def test_an_engine_version_is_taken_only_where_the_control_plane_reports_aurora_mysql(
    engine, version, expected
):
    reported = EngineVersion.reported(engine, version)
    assert (reported.version if reported else None) == expected
