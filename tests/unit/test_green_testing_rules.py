"""Pure rules behind testing on green and QA clones: SQL files, check verdicts, retirement, tables."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.models import ClusterInfo
from aurora_bluegreen.operators.checks import check_verdict, checks_markdown, is_true
from aurora_bluegreen.operators.migrations import migrations_markdown
from aurora_bluegreen.qa_clones import (
    READY_TAG,
    STAMP_TAG,
    clone_names,
    clones_to_retire,
    keep_count,
    nightly_schedule,
    qa_tags,
)
from aurora_bluegreen.sql_files import one_line, split_statements, sql_file, sql_files


def test_statements_split_on_semicolons_outside_quotes_and_blocks_without_comments():
    text = """-- header
ALTER TABLE t ADD COLUMN note VARCHAR(9) DEFAULT 'a;b';  # trailing
/* block ; comment */ UPDATE t SET note = '--not a comment';
CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;
-- nothing after this
"""
    assert split_statements(text) == [
        "ALTER TABLE t ADD COLUMN note VARCHAR(9) DEFAULT 'a;b'",
        "UPDATE t SET note = '--not a comment'",
        "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END",
    ]


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "migrations"
    (root / "sub").mkdir(parents=True)
    (root / "one.sql").write_text("SELECT 1;")
    (root / "sub" / "two.sql").write_text("SELECT 2; SELECT 3;")
    (root / "empty.sql").write_text("-- nothing but a comment\n")
    (root / "delimiter.sql").write_text("DELIMITER $$\nSELECT 1$$\n")
    (tmp_path / "secret.sql").write_text("SELECT 'outside';")
    (root / "escape.sql").symlink_to(tmp_path / "secret.sql")
    (root / "latin1.sql").write_bytes("SELECT 'caf\xe9';".encode("latin-1"))
    return root


def test_files_inside_the_folder_are_read_and_split(folder):
    files = sql_files("migration_files", folder, ["one.sql", "sub/two.sql"])
    assert [(f.name, f.statements) for f in files] == [
        ("one.sql", ("SELECT 1",)),
        ("sub/two.sql", ("SELECT 2", "SELECT 3")),
    ]
    assert sql_files("migration_files", folder, []) == sql_files("migration_files", folder, None) == []


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("../secret.sql", "no '..'"),
        ("sub/../../secret.sql", "no '..'"),
        ("/etc/hosts.sql", "relative path"),
        ("escape.sql", "no link leading out"),
        ("missing.sql", "does not exist"),
        ("one.txt", ".sql file"),
        ("", ".sql file"),
        (None, ".sql file"),
        ("empty.sql", "at least one SQL statement"),
        ("delimiter.sql", "without DELIMITER"),
        ("latin1.sql", "UTF-8"),
        ("one.sql; rm -rf /", ".sql file"),
    ],
)
def test_bad_files_are_refused_naming_field_and_rule(folder, name, rule):
    with pytest.raises(InvalidInput) as error:
        sql_file("migration_files[0]", folder, name)
    assert error.value.field == "migration_files[0]" and rule in str(error.value)


def test_lists_are_checked_as_lists(folder):
    with pytest.raises(InvalidInput, match="a list of file names"):
        sql_files("check_files", folder, "one.sql")
    with pytest.raises(InvalidInput, match=r"check_files\[1\].*named only once"):
        sql_files("check_files", folder, ["one.sql", "one.sql"])
    with pytest.raises(InvalidInput, match=r"check_files\[0\].*exactly one SELECT or WITH query"):
        sql_files("check_files", folder, ["sub/two.sql"], one_query=True)


def test_one_line_shortens_for_logs():
    assert one_line("SELECT\n  1,\n  2") == "SELECT 1, 2"
    assert one_line("x" * 200, width=10) == "x" * 9 + "…"


@pytest.mark.parametrize(
    ("statement", "shown"),
    [
        ("CREATE USER 'qa'@'%' IDENTIFIED BY 'se''cr;et'", "CREATE USER 'qa'@'%' IDENTIFIED BY '***'"),
        (
            "ALTER USER qa IDENTIFIED WITH mysql_native_password AS '*AB12'",
            "ALTER USER qa IDENTIFIED WITH mysql_native_password AS '***'",
        ),
        ("SET PASSWORD FOR 'qa'@'%' = PASSWORD('p\\'w')", "SET PASSWORD FOR 'qa'@'%' = PASSWORD('***')"),
        ("UPDATE shop.users SET password = 'hunter2'", "UPDATE shop.users SET password = '***'"),
        ("SELECT 'IDENTIFIED BY' AS words", "SELECT 'IDENTIFIED BY' AS words"),
    ],
)
def test_passwords_in_the_users_sql_never_reach_logs_or_the_approval(statement, shown):
    assert one_line(statement) == shown


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (1, True),
        (0, False),
        (None, False),
        (Decimal("0.5"), True),
        (b"\x01", True),
        (b"\x00", False),
        ("1", True),
        ("0", False),
        ("true", True),
        ("no", False),
    ],
)
def test_sql_truth_of_a_first_column(value, truth):
    assert is_true(value) is truth


def test_check_verdicts_say_why():
    assert check_verdict(["ok"], [(1,), (1,)]) == (True, "2 rows, all true")
    assert check_verdict(["ok"], [(1,), (0, "x")]) == (False, "1 of 2 rows are not true (row 2: 0, 'x')")
    assert check_verdict(["ok"], [])[1].startswith("returned no rows")
    assert check_verdict([], [])[1].startswith("the statement returned no result set")


def clone(cluster_id, stamp=None, ready=True):
    tags = {**qa_tags("blue")}
    if stamp:
        tags[STAMP_TAG] = stamp
    if ready:
        tags[READY_TAG] = "true"
    return ClusterInfo(cluster_id, "available", "127.0.0.1", 3306, tags=tags)


def test_retirement_keeps_the_newest_ready_clones_and_always_drops_unfinished_ones():
    clones = [
        clone("qa-1", "2026-01-01T02:00:00Z"),
        clone("qa-3", "2026-01-03T02:00:00Z", ready=False),  # newest, but a run died on it
        clone("qa-2", "2026-01-02T02:00:00Z"),
        clone("qa-4", "2026-01-04T02:00:00Z", ready=False),  # tonight's, still being made
    ]
    ids = [c.cluster_id for c in clones_to_retire(clones, "qa-4", keep=1)]
    assert sorted(ids) == ["qa-1", "qa-3"]
    assert sorted(c.cluster_id for c in clones_to_retire(clones, "qa-4", keep=0)) == ["qa-1", "qa-2", "qa-3"]
    assert sorted(c.cluster_id for c in clones_to_retire(clones, "qa-4", keep=5)) == ["qa-3"]


def test_clone_names_are_date_stamped_from_the_due_time():
    due = datetime(2026, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=1)))
    assert clone_names("blue-qa", due) == {
        "cluster_id": "blue-qa-20260101-020000",
        "writer_instance_id": "blue-qa-20260101-020000-writer",
        "stamp": "2026-01-01T02:00:00Z",
    }
    with pytest.raises(InvalidInput, match="at most 40"):
        clone_names("q" * 41, due)
    with pytest.raises(InvalidInput, match="qa_cluster_prefix"):
        clone_names("qa_prefix", due)


@pytest.mark.parametrize("value", [-1, 1.0, True, "2", None])
def test_keep_count_is_a_whole_number_from_zero(value):
    with pytest.raises(InvalidInput, match="keep_previous"):
        keep_count(value)


@pytest.mark.parametrize("expression", ["0 2 * * *", "@daily", " 30 1 * * 1-5 "])
def test_nightly_schedule_accepts_cron(expression):
    assert nightly_schedule(expression) == expression.strip()


def test_tables_for_the_approval_cannot_be_broken_by_cell_content():
    migrations = migrations_markdown(
        {"statements": [{"file": "a.sql", "number": 1, "sql": "UPDATE t SET x = 'a|`b'", "ms": 2.5}]}
    )
    assert "| `a.sql` | 1 | `UPDATE t SET x = 'a\\|'b'` | 2.5 |" in migrations
    assert migrations_markdown(None) == migrations_markdown({"statements": []})
    checks = checks_markdown(
        {
            "checks": [{"name": "n", "passed": False, "seconds": 0.01, "detail": "1 | 2"}],
            "passed": 0,
            "failed": 1,
        }
    )
    assert "| `n` | ❌ **FAIL** | 0.010 s | 1 \\| 2 |" in checks and "1 of 1 checks failed" in checks


class FakeTi:
    def __init__(self, xcoms):
        self.xcoms = xcoms

    def xcom_pull(self, task_ids):
        return self.xcoms.get(task_ids)


def test_the_approval_body_shows_migrations_and_checks(deployment_dag_module):
    module = deployment_dag_module
    ti = FakeTi(
        {
            "clone_green": {
                "endpoint": "h",
                "port": 1,
                "coordinates": {"position": {"file": "f", "position": 4}},
            },
            "wait_after_migrations": {
                "observed_at": "2026-12-02 03:30:00 UTC",
                "seconds_behind": 0,
                "read_position": {"file": "f", "position": 9},
                "exec_position": {"file": "f", "position": 9},
            },
            "upgrade_green": {
                "blue_version": "10.11.19-MariaDB",
                "green_version": "11.8.9-MariaDB",
                "skipped": False,
            },
            "migrate_green": {
                "statements": [{"file": "m.sql", "number": 1, "sql": "ALTER TABLE t ADD c INT", "ms": 3.0}]
            },
            "check_green": {
                "checks": [{"name": "ok", "passed": True, "seconds": 0.1, "detail": "1 row, all true"}],
                "passed": 1,
                "failed": 0,
            },
        }
    )
    template = module.dag.get_template_env().from_string(module.APPROVAL_BODY)
    params = {name: f"<{name}>" for name in module.dag.params}
    body = template.render(ti=ti, params=params)
    assert "| Figures taken at | 2026-12-02 03:30:00 UTC |" in body
    assert "| `m.sql` | 1 | `ALTER TABLE t ADD c INT` | 3.0 |" in body
    assert "| Blue's engine | 10.11.19-MariaDB |" in body
    assert "| Green's engine | 11.8.9-MariaDB (upgraded here) |" in body
    assert "| `ok` | ✅ pass | 0.100 s | 1 row, all true |" in body and "All 1 checks passed." in body
