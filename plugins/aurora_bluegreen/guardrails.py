"""Checks made before the freeze: any violation stops the cutover with nothing changed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aurora_bluegreen.gtid import MysqlGtidSet
from aurora_bluegreen.models import ReplicaStatus

# Privileges that let a session write while read_only=1 (MariaDB 10.11 and MySQL 8 / Aurora 3).
# A plain SUPER is blocked by read_only on MariaDB 10.11 but not on MySQL, so it counts too.
_READ_ONLY_BYPASS = re.compile(
    r"\b(ALL PRIVILEGES|SUPER|READ_ONLY ADMIN|CONNECTION_ADMIN)\b.* ON \*\.\* TO ", re.IGNORECASE
)
_THROUGH_ROLE = re.compile(r" -- through role (\S+)$")
# Statements that take no write lock: SET GLOBAL read_only does not wait for them.
_READS = ("SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "WITH", "SET", "DO", "USE", "HELP")


def read_only_bypass(grants_by_host: dict[str, list[str]]) -> list[str]:
    """The accounts whose grants let them write through read_only, each with the grant that does it.

    Such a user could write to blue during the freeze, after blue's final position was read: that
    write would never reach green. Grants that arrive through a role (lines ending in
    ``-- through role <name>``, as ``ClusterSqlHook.grants_by_host`` lists them) count too.
    """
    found = []
    for host, grants in sorted(grants_by_host.items()):
        for grant in grants:
            match = _READ_ONLY_BYPASS.search(grant)
            if match:
                role = _THROUGH_ROLE.search(grant)
                found.append(
                    f"'{host}' has {match.group(1).upper()}"
                    + (f" through role {role.group(1)}" if role else "")
                )
                break
    return found


def statements_the_freeze_waits_for(sessions: list[Any], min_seconds: float) -> list[str]:
    """Writes running for ``min_seconds`` or more: turning read_only on waits until they finish."""
    return [
        f"thread {s.thread_id} ({s.user}) for {s.seconds}s: {s.query}"
        for s in sessions
        if s.command == "Query"
        and s.seconds >= min_seconds
        and (s.query or "").lstrip(" (").split(" ", 1)[0].upper() not in _READS
    ]


@dataclass(frozen=True)
class GtidHistory:
    """A server's id and the GTIDs of its binlog history (MariaDB gtid_binlog_state, MySQL gtid_executed)."""

    engine: str
    history: str
    own_id: str


def unseen_local_writes(target: GtidHistory, source: GtidHistory) -> list[str]:
    """GTIDs the target committed itself that the source never executed: writes a cutover would strand.

    Comparing with the source, not just looking for the target's own id, is what lets a cluster
    that used to be blue (full of its own old GTIDs, all replicated to green) become the target
    of a switch back.
    """
    if target.engine == "mariadb":
        seen = {(domain, server): sequence for domain, server, sequence in _mariadb_entries(source.history)}
        return [
            f"{domain}-{server}-{sequence}"
            for domain, server, sequence in _mariadb_entries(target.history)
            if str(server) == target.own_id and sequence > seen.get((domain, server), 0)
        ]
    own = [
        entry
        for entry in target.history.replace("\n", "").split(",")
        if entry.strip().split(":", 1)[0].lower() == target.own_id.lower()
    ]
    own_set = MysqlGtidSet.parse(",".join(own))
    return [] if MysqlGtidSet.parse(source.history).contains(own_set) else [str(own_set)]


def _mariadb_entries(history: str) -> list[tuple[int, int, int]]:
    entries = []
    for entry in history.replace(" ", "").replace("\n", "").split(","):
        if entry:
            domain, server, sequence = (int(part) for part in entry.split("-"))
            entries.append((domain, server, sequence))
    return entries


@dataclass(frozen=True)
class GuardrailFacts:
    """What was read from both clusters just before the freeze."""

    replica: ReplicaStatus | None
    max_lag_seconds: float
    long_transactions: list[str] = field(default_factory=list)
    long_statements: list[str] = field(default_factory=list)
    running_ddl: list[str] = field(default_factory=list)
    bypass_users: list[str] = field(default_factory=list)
    """Users other than the master user, with a session on blue or named as the application's, who
    can write through read_only: each with the grant that lets them."""
    green_local_writes: list[str] | None = None
    approved: bool | None = None
    expected_green_writes: tuple[str, ...] = ()
    """Green's own GTIDs written on purpose (the deployment's schema changes), exactly as recorded."""


def guardrail_violations(facts: GuardrailFacts) -> list[str]:
    """Every reason not to freeze blue now, in words a person can act on."""
    violations = []
    if facts.approved is False:
        violations.append("the cutover was not approved")
    replica = facts.replica
    if replica is None:
        violations.append("green is not replicating from blue")
    elif not replica.is_running or replica.error:
        violations.append(f"replication on green is not healthy: {replica.error or replica.summary()}")
    elif replica.seconds_behind is None or replica.seconds_behind > facts.max_lag_seconds:
        violations.append(
            f"green lags {replica.seconds_behind}s, over the {facts.max_lag_seconds}s threshold"
        )
    unexpected = [gtid for gtid in facts.green_local_writes or () if gtid not in facts.expected_green_writes]
    if unexpected:
        violations.append(
            "green has writes that did not come from blue (its own GTIDs "
            f"{', '.join(unexpected)}); they would be lost or conflict"
        )
    if facts.long_transactions:
        violations.append(
            "blue has long-running transactions that the freeze would cut off: "
            + "; ".join(facts.long_transactions)
        )
    if facts.long_statements:
        violations.append(
            "blue runs writes that turning read_only on would wait for: " + "; ".join(facts.long_statements)
        )
    if facts.running_ddl:
        violations.append("blue is running DDL: " + "; ".join(facts.running_ddl))
    if facts.bypass_users:
        violations.append(
            "users who can write through read_only are connected to blue or are the application's, so "
            "the freeze could not stop their writes: "
            + "; ".join(facts.bypass_users)
            + ". Revoke that privilege (or the role that carries it), or end their sessions first"
        )
    return violations


def evidence_summary(facts: GuardrailFacts) -> str:
    """One line saying what was checked and on what evidence."""
    lag = facts.replica.seconds_behind if facts.replica else None
    local = (
        "no GTID evidence for local writes on green (GTID off)"
        if facts.green_local_writes is None
        else "no local writes on green (by GTID)"
        if not facts.green_local_writes
        else f"green's only local writes are the schema changes ({', '.join(facts.green_local_writes)})"
    )
    approval = {True: "approved", False: "NOT approved", None: "approval not checked"}[facts.approved]
    return (
        f"replication healthy, lag {lag}s; {local}; no long transactions, long writes or DDL on blue; "
        f"no user but the master user can write through read_only; {approval}"
    )
