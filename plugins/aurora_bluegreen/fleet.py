"""A fleet of blue clusters deployed in waves: the plan, and the summary of what became of each.

Guarantee: the plan is refused as a whole, before anything changes, if any two clusters would
collide (a blue twice, a green twice, a green that is another member's blue, or an application
endpoint moved by two members); clusters are deployed in the order given, ``wave_size`` at a
time, and a wave starts only when every cutover of the wave before it succeeded. A failed cutover
therefore stops the waves after it, while clusters already cut over stay cut over, with reverse
replication to their old blue running (the rollback DAG switches one back).

Pure: no Airflow, no servers. The DAG (``dags/aurora_bluegreen_fleet.py``) and its operators
(``operators/fleet.py``) only feed these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from aurora_bluegreen import validation
from aurora_bluegreen.errors import InvalidInput
from aurora_bluegreen.markdown import code, table, text

# Waves are task groups fixed when the DAG is parsed; a run uses as many as its clusters need.
MAX_WAVES = 4
CUT_OVER, ROLLED_BACK, FAILED, REJECTED, NOT_REACHED = (
    "cut over",
    "rolled back",
    "failed",
    "rejected",
    "not reached",
)


@dataclass(frozen=True)
class FleetMember:
    blue_cluster_id: str
    green_cluster_id: str
    writer_instance_id: str
    repoint: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def plan_waves(
    clusters: Sequence[dict[str, Any]], wave_size: int, max_waves: int = MAX_WAVES
) -> list[list[FleetMember]]:
    """The clusters in waves of ``wave_size``, each member checked; ``InvalidInput`` otherwise."""
    from aurora_bluegreen.repointers.registry import parse_repoint_target

    if not isinstance(wave_size, int) or isinstance(wave_size, bool) or wave_size < 1:
        raise InvalidInput("wave_size", wave_size, "a whole number of clusters, at least 1")
    if not clusters:
        raise InvalidInput("clusters", clusters, "a list of at least one blue cluster")
    if len(clusters) > wave_size * max_waves:
        raise InvalidInput(
            "clusters",
            f"{len(clusters)} clusters",
            f"at most {max_waves} waves of wave_size={wave_size}, so at most {wave_size * max_waves} "
            "clusters: raise wave_size or split the fleet into two runs",
        )
    members = []
    for index, entry in enumerate(clusters):
        field = f"clusters[{index}]"
        blue = validation.cluster_identifier(f"{field}.blue_cluster_id", entry.get("blue_cluster_id"))
        green = validation.cluster_identifier(f"{field}.green_cluster_id", entry.get("green_cluster_id"))
        writer = entry.get("writer_instance_id") or f"{green}-writer"
        validation.cluster_identifier(f"{field}.writer_instance_id", writer)
        validation.blue_and_green(blue, green)
        repoint = entry.get("repoint") or "none"
        parse_repoint_target(repoint)
        members.append(FleetMember(blue, green, writer, repoint))
    _refuse_collisions(members)
    return [members[start : start + wave_size] for start in range(0, len(members), wave_size)]


def _refuse_collisions(members: Sequence[FleetMember]) -> None:
    blues = [member.blue_cluster_id for member in members]
    greens = [member.green_cluster_id for member in members]
    for name, ids in (("blue_cluster_id", blues), ("green_cluster_id", greens)):
        repeated = sorted({cluster_id for cluster_id in ids if ids.count(cluster_id) > 1})
        if repeated:
            raise InvalidInput(f"clusters[].{name}", repeated, "each cluster once in a fleet")
    both = sorted(set(blues) & set(greens))
    if both:
        raise InvalidInput("clusters[].green_cluster_id", both, "a new cluster, not another member's blue")
    endpoints = [member.repoint for member in members if member.repoint != "none"]
    repeated = sorted({target for target in endpoints if endpoints.count(target) > 1})
    if repeated:
        raise InvalidInput("clusters[].repoint", repeated, "one application endpoint per member")


def wave_members(clusters: Sequence[dict[str, Any]], wave_size: int, wave: int) -> list[dict[str, str]]:
    """Wave ``wave`` (from 1) as mapping keywords; empty when the fleet has fewer waves."""
    waves = plan_waves(clusters, wave_size)
    return [member.to_dict() for member in waves[wave - 1]] if wave <= len(waves) else []


@dataclass(frozen=True)
class ClusterOutcome:
    wave: int
    blue_cluster_id: str
    green_cluster_id: str
    state: str
    freeze_ms: float | None
    missing_events: int | None
    """0 when green executed exactly blue's final binlog position; None when not known."""
    rollback: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def outcome(
    wave: int,
    member: FleetMember,
    report: dict[str, Any] | None,
    failure: dict[str, Any] | None,
    rejected: bool,
) -> ClusterOutcome:
    """What became of one member, from its cutover's report (success) or failure report."""
    ids = (wave, member.blue_cluster_id, member.green_cluster_id)
    if report:
        exact = report.get("blue_final_position") == report.get("green_executed_position")
        back = report.get("reverse_replication") or "none"
        return ClusterOutcome(*ids, CUT_OVER, report.get("freeze_ms"), 0 if exact else None, f"ready: {back}")
    if failure:
        state = ROLLED_BACK if failure.get("rolled_back") else FAILED
        rollback = (
            f"done: {failure.get('failure')}" if failure.get("rolled_back") else str(failure.get("failure"))
        )
        return ClusterOutcome(
            *ids, state, failure.get("freeze_ms"), 0 if failure.get("rolled_back") else None, rollback
        )
    if rejected:
        return ClusterOutcome(*ids, REJECTED, None, None, "not needed: blue untouched")
    return ClusterOutcome(*ids, NOT_REACHED, None, None, "not needed: blue untouched")


def fleet_problem(outcomes: Sequence[ClusterOutcome]) -> str | None:
    """Why the run failed, or None: every cluster cut over, or the fleet stopped by a Reject."""
    failed = [item.blue_cluster_id for item in outcomes if item.state in (FAILED, ROLLED_BACK)]
    if failed:
        return (
            f"cutover failed for {', '.join(failed)}; later waves were not started, and the clusters "
            "cut over before stay cut over with reverse replication (see the table in this log)"
        )
    rejected = any(item.state == REJECTED for item in outcomes)
    stuck = [item.blue_cluster_id for item in outcomes if item.state == NOT_REACHED]
    if stuck and not rejected:
        return (
            f"never reached the cutover: {', '.join(stuck)} (an earlier task failed or the blue "
            "clusters were held by another run; see the failed task's log)"
        )
    return None


def summary_table(outcomes: Sequence[ClusterOutcome]) -> str:
    return table(
        ["wave", "blue", "green", "state", "freeze ms", "missing", "rollback"],
        (
            [
                item.wave,
                code(item.blue_cluster_id),
                code(item.green_cluster_id),
                item.state,
                "" if item.freeze_ms is None else f"{item.freeze_ms:.1f}",
                "unknown" if item.missing_events is None else item.missing_events,
                text(item.rollback),
            ]
            for item in outcomes
        ),
    )


def approval_table(
    members: Sequence[dict[str, Any]], lags: Sequence[dict[str, Any] | None], max_lag_seconds: float
) -> str:
    """Every member of a wave with its lag and replication checks, for the wave's approval."""

    def row(member: dict[str, Any], lag: dict[str, Any] | None) -> list[object]:
        lag = lag or {}
        position = lag.get("exec_position") or {}
        threads = lag.get("io_running") == "Yes" and lag.get("sql_running") == "Yes"
        return [
            code(member["blue_cluster_id"]),
            code(member["green_cluster_id"]),
            f"{lag.get('seconds_behind', '?')} (threshold {max_lag_seconds})",
            "both threads running"
            if threads
            else text(f"IO {lag.get('io_running')} SQL {lag.get('sql_running')}"),
            code(f"{position.get('file', '?')}:{position.get('position', '?')}"),
            code(member["repoint"]),
        ]

    return table(
        ["blue", "green", "lag (s)", "replication", "green executed up to", "application"],
        (row(member, lag) for member, lag in zip(members, lags, strict=False)),
    )
