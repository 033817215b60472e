from aurora_bluegreen.guardrails import GuardrailFacts, evidence_summary, guardrail_violations
from aurora_bluegreen.hooks.dialects import Engine
from aurora_bluegreen.hooks.replication import own_gtids
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


def test_own_gtids_picks_this_servers_entries_in_both_flavours():
    assert own_gtids(Engine.MARIADB, "0-1-900,0-2-3,1-2-7", "2") == ["0-2-3", "1-2-7"]
    assert own_gtids(Engine.MARIADB, "0-1-900", "2") == []
    uuid_blue, uuid_green = "3e11fa47-71ca-11e1-9e33-c80aa9429562", "4f22ab58-82db-22f2-af44-d91bb0530673"
    history = f"{uuid_blue}:1-500,\n{uuid_green.upper()}:1-2"
    assert own_gtids(Engine.MYSQL, history, uuid_green) == [f"{uuid_green.upper()}:1-2"]
