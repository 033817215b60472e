"""Checks made before the freeze: any violation stops the cutover with nothing changed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from aurora_bluegreen.gtid import MysqlGtidSet
from aurora_bluegreen.models import ReplicaStatus

# Privileges that let a session write while read_only=1 (MariaDB 10.11 and MySQL 8 / Aurora 3).
# A plain SUPER is blocked by read_only on MariaDB 10.11 but not on MySQL, so it counts too.
_READ_ONLY_BYPASS = re.compile(
    r"\b(ALL PRIVILEGES|SUPER|READ_ONLY ADMIN|CONNECTION_ADMIN)\b.* ON \*\.\* TO ", re.IGNORECASE
)


def read_only_bypass(grants_by_host: dict[str, list[str]]) -> list[str]:
    """The accounts whose grants let them write through read_only, each with the grant that does it.

    Such an application user could write to blue during the freeze, after blue's final position
    was read: that write would never reach green.
    """
    found = []
    for host, grants in sorted(grants_by_host.items()):
        for grant in grants:
            match = _READ_ONLY_BYPASS.search(grant)
            if match:
                found.append(f"'{host}' has {match.group(1).upper()}")
                break
    return found


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
    running_ddl: list[str] = field(default_factory=list)
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
    if facts.running_ddl:
        violations.append("blue is running DDL: " + "; ".join(facts.running_ddl))
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
    return f"replication healthy, lag {lag}s; {local}; no long transactions or DDL on blue; {approval}"
