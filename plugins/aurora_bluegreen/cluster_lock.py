"""One run at a time per blue cluster, whichever of the tool's DAGs started it.

Guarantee: two runs that both pass ``acquire`` for the same blue cluster are never active at the
same time, as long as the claim store is linearizable (Airflow's metadata database is: every
worker reaches the same Variables through the API server). Runs on different blues never wait
for each other.

Why claims in Airflow Variables, checked against the runs' states, and not something else:
- A tag on blue would need the right to tag blue, which the shipped IAM policy withholds on
  purpose (the tool never changes what it did not create); a lock table on blue would write into
  the application's database.
- An Airflow pool counts only running tasks: a deployment waits days in its approval, which holds
  no slot, so a pool would let a second run in exactly then.
- A worker's memory or disk is gone with the worker, and other workers cannot see it.
Airflow has no compare-and-set on Variables, so each run writes only its own claim (one key per
blue and run, so writers never overwrite each other) and then reads everyone's: of two runs
that claim at once, the later reader always sees the earlier claim. A run that sees another
live claim withdraws its own. A claim that passed the check is marked held; a newcomer that
sees a held claim is refused at once, naming the holder; two newcomers that saw each other both
withdraw and try again after a random pause.

Release: the DAG's last task deletes the claims whatever happened upstream. If that never runs
(the run was marked failed by hand, its worker died), the claim names a run that is no longer
active, so the next claimant ignores it and deletes it: a lock is never left behind by a failure.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from aurora_bluegreen.errors import ClusterBusy

PREFIX = "aurora_bluegreen.lock."
ACTIVE_RUN_STATES = frozenset({"queued", "running"})


@dataclass(frozen=True)
class RunRef:
    dag_id: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.dag_id} run {self.run_id}"


@dataclass(frozen=True)
class Claim:
    cluster_id: str
    run: RunRef
    held: bool

    @property
    def key(self) -> str:
        return claim_key(self.cluster_id, self.run)

    def to_json(self) -> str:
        return json.dumps({"cluster_id": self.cluster_id, **asdict(self.run), "held": self.held})

    @classmethod
    def from_json(cls, text: str) -> Claim:
        data = json.loads(text)
        return cls(data["cluster_id"], RunRef(data["dag_id"], data["run_id"]), bool(data["held"]))


def claim_key(cluster_id: str, run: RunRef) -> str:
    # Run ids may hold ':' and '+', which do not belong in a Variable's URL: a digest names the run.
    digest = hashlib.sha256(f"{run.dag_id}\n{run.run_id}".encode()).hexdigest()[:20]
    return f"{cluster_prefix(cluster_id)}{digest}"


def cluster_prefix(cluster_id: str) -> str:
    return f"{PREFIX}{cluster_id}."


class ClaimStore(Protocol):
    """Shared key-value store that every worker sees (Airflow Variables)."""

    def keys(self, prefix: str) -> Sequence[str]: ...
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> None: ...


GO, BUSY, CONTENDED = "go", "busy", "contended"


def verdict(others: Iterable[Claim]) -> str:
    """What a claimant does, given the live claims of other runs on its clusters."""
    others = list(others)
    if not others:
        return GO
    return BUSY if any(claim.held for claim in others) else CONTENDED


def busy_message(cluster_ids: Sequence[str], me: RunRef, others: Sequence[Claim]) -> str:
    holders = "; ".join(
        f"{claim.cluster_id} by {claim.run}{'' if claim.held else ' (claiming it right now)'}"
        for claim in others
    )
    return (
        f"{me} needs blue cluster(s) {', '.join(cluster_ids)}, but another run of this tool holds "
        f"them: {holders}. One run at a time per blue cluster: wait for that run to finish (or fail "
        "it, which releases the cluster), then trigger this one again. Nothing was changed."
    )


class ClusterLock:
    """Claims blue clusters for one run; ``is_active`` says whether a run still holds what it claimed."""

    def __init__(
        self,
        store: ClaimStore,
        is_active: Callable[[RunRef], bool],
        *,
        attempts: int = 5,
        pause: Callable[[], float] = lambda: random.uniform(0.5, 2.0),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.is_active = is_active
        self.attempts = attempts
        self.pause = pause
        self.sleep = sleep

    def acquire(self, cluster_ids: Sequence[str], me: RunRef) -> None:
        """Hold every cluster in ``cluster_ids`` for ``me``, or raise ``ClusterBusy`` holding none."""
        others: list[Claim] = []
        for _ in range(self.attempts):
            self._write(cluster_ids, me, held=False)
            others = [claim for cluster_id in cluster_ids for claim in self._live_others(cluster_id, me)]
            decision = verdict(others)
            if decision == GO:
                self._write(cluster_ids, me, held=True)
                return
            self.release(cluster_ids, me)
            if decision == BUSY:
                break
            self.sleep(self.pause())
        raise ClusterBusy(busy_message(cluster_ids, me, others))

    def release(self, cluster_ids: Sequence[str], me: RunRef) -> None:
        for cluster_id in cluster_ids:
            self.store.delete(claim_key(cluster_id, me))

    def _write(self, cluster_ids: Sequence[str], me: RunRef, *, held: bool) -> None:
        for cluster_id in cluster_ids:
            claim = Claim(cluster_id, me, held)
            self.store.set(claim.key, claim.to_json())

    def _live_others(self, cluster_id: str, me: RunRef) -> list[Claim]:
        live = []
        for key in self.store.keys(cluster_prefix(cluster_id)):
            text = self.store.get(key)
            if text is None:  # withdrawn between listing and reading
                continue
            claim = Claim.from_json(text)
            if claim.cluster_id != cluster_id or claim.run == me:
                continue  # another cluster whose id extends this one, or our own claim
            if self.is_active(claim.run):
                live.append(claim)
            else:
                self.store.delete(key)  # left by a run that ended without releasing
        return live
