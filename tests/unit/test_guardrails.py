from aurora_bluegreen.guardrails import (
    GtidHistory,
    GuardrailFacts,
    evidence_summary,
    guardrail_violations,
    read_only_bypass,
    statements_the_freeze_waits_for,
    unseen_local_writes,
)
from aurora_bluegreen.hooks.cluster_sql import Session
from aurora_bluegreen.models import BinlogPosition, ReplicaStatus

HEALTHY = ReplicaStatus("Yes", "Yes", 0, "blue", 3306, BinlogPosition("b.1", 9), BinlogPosition("b.1", 9))


def test_healthy_facts_pass_and_say_which_evidence_was_used():
    facts = GuardrailFacts(replica=HEALTHY, max_lag_seconds=5, green_local_writes=[], approved=True)
    assert guardrail_violations(facts) == []
    assert "no local writes on green (by GTID)" in evidence_summary(facts)
    unproven = GuardrailFacts(replica=HEALTHY, max_lag_seconds=5)
    assert "no GTID evidence" in evidence_summary(unproven)


def test_every_violation_is_reported_at_once():
    facts = GuardrailFacts(
        replica=ReplicaStatus("Yes", "Yes", 30, "blue", 3306, None, None),
        max_lag_seconds=5,
        long_transactions=["thread 7 open 90s (idle in transaction)"],
        running_ddl=["thread 9: ALTER TABLE t ADD c INT"],
        green_local_writes=["0-2-14"],
        approved=False,
    )
    violations = guardrail_violations(facts)
    assert len(violations) == 5
    assert "not approved" in violations[0]
    assert "lags 30s, over the 5s threshold" in violations[1]
    assert "0-2-14" in violations[2]


def test_broken_or_missing_replication_is_a_violation():
    broken = ReplicaStatus("No", "Yes", None, "b", 1, None, None, last_io_errno=1236, last_io_error="purged")
    assert "not healthy: IO thread error 1236" in guardrail_violations(GuardrailFacts(broken, 5))[0]
    assert guardrail_violations(GuardrailFacts(None, 5)) == ["green is not replicating from blue"]


def test_unseen_local_writes_on_a_fresh_mariadb_clone():
    blue = GtidHistory("mariadb", "0-1-900", "1")
    assert unseen_local_writes(GtidHistory("mariadb", "0-1-900", "2"), blue) == []
    assert unseen_local_writes(GtidHistory("mariadb", "0-1-900,0-2-3,1-2-7", "2"), blue) == ["0-2-3", "1-2-7"]


def test_old_blue_as_target_is_judged_against_what_green_has_seen():
    old_blue = GtidHistory("mariadb", "0-1-900,0-2-40", "1")
    green_saw_all = GtidHistory("mariadb", "0-1-900,0-2-40", "2")
    assert unseen_local_writes(old_blue, green_saw_all) == []
    assert unseen_local_writes(GtidHistory("mariadb", "0-1-901,0-2-40", "1"), green_saw_all) == ["0-1-901"]


def test_unseen_local_writes_with_mysql_uuid_sets():
    blue_uuid, green_uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562", "4f22ab58-82db-22f2-af44-d91bb0530673"
    blue = GtidHistory("mysql", f"{blue_uuid}:1-500", blue_uuid)
    assert unseen_local_writes(GtidHistory("mysql", f"{blue_uuid}:1-500", green_uuid), blue) == []
    green = GtidHistory("mysql", f"{blue_uuid}:1-500,\n{green_uuid.upper()}:1-2", green_uuid)
    assert unseen_local_writes(green, blue) == [f"{green_uuid}:1-2"]


def test_read_only_bypass_names_the_account_and_the_privilege():
    grants = {
        "%": ["GRANT USAGE ON *.* TO `app`@`%`", "GRANT SELECT, INSERT ON `shop`.* TO `app`@`%`"],
        "10.0.0.%": ["GRANT SELECT, INSERT, READ_ONLY ADMIN ON *.* TO `app`@`10.0.0.%`"],
        "localhost": ["GRANT ALL PRIVILEGES ON *.* TO `app`@`localhost` WITH GRANT OPTION"],
    }
    assert read_only_bypass(grants) == ["'10.0.0.%' has READ_ONLY ADMIN", "'localhost' has ALL PRIVILEGES"]
    assert read_only_bypass({"%": ["GRANT ALL PRIVILEGES ON `shop`.* TO `app`@`%`"]}) == []
    assert read_only_bypass({"%": ["GRANT CONNECTION_ADMIN ON *.* TO `app`@`%`"]}) == [
        "'%' has CONNECTION_ADMIN"
    ]


def test_a_bypass_through_a_role_is_named_with_its_role():
    grants = {
        "%": [
            "GRANT SELECT, INSERT ON `shop`.* TO `app2`@`%`",
            "GRANT `sneaky_role`@`%` TO `app2`@`%`",
            "GRANT CONNECTION_ADMIN ON *.* TO `sneaky_role`@`%` -- through role sneaky_role",
        ]
    }
    assert read_only_bypass(grants) == ["'%' has CONNECTION_ADMIN through role sneaky_role"]
    assert read_only_bypass({"%": ["GRANT SELECT ON *.* TO `r`@`%` -- through role r"]}) == []


def test_only_writes_running_long_enough_hold_the_freeze():
    def session(thread_id, command, seconds, query):
        return Session(thread_id, "app", "10.0.0.5", command, seconds, query)

    sessions = [
        session(1, "Query", 30, "UPDATE orders SET quantity = 2"),
        session(2, "Query", 30, "SELECT * FROM orders"),
        session(3, "Query", 30, "  (SELECT 1)"),
        session(4, "Sleep", 300, None),
        session(5, "Query", 2, "DELETE FROM orders WHERE id = 1"),
        session(6, "Query", 9, "insert into orders values (1)"),
    ]
    assert statements_the_freeze_waits_for(sessions, 5) == [
        "thread 1 (app) for 30s: UPDATE orders SET quantity = 2",
        "thread 6 (app) for 9s: insert into orders values (1)",
    ]


def test_bypass_users_and_long_writes_are_violations_that_say_what_to_do():
    facts = GuardrailFacts(
        replica=None,
        max_lag_seconds=5,
        long_statements=["thread 1 (app) for 30s: UPDATE orders"],
        bypass_users=["'app2' ('%' has READ_ONLY ADMIN through role sneaky_role)"],
    )
    text = " | ".join(guardrail_violations(facts))
    assert "writes that turning read_only on would wait for: thread 1" in text
    assert "'app2' ('%' has READ_ONLY ADMIN through role sneaky_role)" in text and "Revoke" in text
