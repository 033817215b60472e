"""Reading, from both clusters, the facts the guardrails judge just before the freeze.

The judging is ``guardrails.guardrail_violations``, a pure function; this is the reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aurora_bluegreen.guardrails import (
    GuardrailFacts,
    read_only_bypass,
    statements_the_freeze_waits_for,
    unseen_local_writes,
)
from aurora_bluegreen.protocols import ClusterSql

# Accounts of the platform, not of any application: Aurora's own rdsadmin, which is always
# connected and holds every privilege, and the sandbox's root, which plays it. Their sessions
# neither count as a read_only bypass nor are ended.
PLATFORM_ACCOUNTS = frozenset({"rdsadmin", "root"})


def read_guardrail_facts(
    blue: ClusterSql,
    green: ClusterSql,
    limits: Any,
    *,
    approved: bool | None,
    expected_green_writes: tuple[str, ...],
    application_users: Sequence[str],
) -> GuardrailFacts:
    """``limits``: the cutover's ``CutoverLimits``."""
    sessions = blue.sessions()
    return GuardrailFacts(
        replica=green.replica_status(),
        max_lag_seconds=limits.max_lag_seconds,
        long_transactions=[
            f"thread {t.thread_id} open {t.seconds_open}s ({t.query or 'idle in transaction'})"
            for t in blue.long_running_transactions(limits.max_transaction_seconds)
        ],
        long_statements=statements_the_freeze_waits_for(sessions, limits.max_statement_seconds),
        running_ddl=[f"thread {s.thread_id}: {s.query}" for s in blue.running_ddl()],
        bypass_users=bypass_users(blue, sessions, application_users),
        green_local_writes=green_local_writes(blue, green),
        approved=approved,
        expected_green_writes=expected_green_writes,
    )


def bypass_users(blue: ClusterSql, sessions: Sequence[Any], application_users: Sequence[str]) -> list[str]:
    """Users besides the master user who could write through read_only: connected now, or the
    application's. The master user's own other sessions are ended inside the freeze instead."""
    users = {session.user for session in sessions} - PLATFORM_ACCOUNTS
    users = (users | set(application_users)) - {blue.login}
    found = []
    for user in sorted(users):
        bypass = read_only_bypass(blue.grants_by_host(user))
        if bypass:
            found.append(f"{user!r} ({', '.join(bypass)})")
    return found


def green_local_writes(blue: ClusterSql, green: ClusterSql) -> list[str] | None:
    """Green's own GTIDs that blue never executed; None where GTIDs give no evidence."""
    green_history, blue_history = green.gtid_history(), blue.gtid_history()
    if green_history is None or blue_history is None:
        return None
    return unseen_local_writes(green_history, blue_history)
