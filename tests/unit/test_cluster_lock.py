"""One run per blue cluster: the claim protocol over an in-memory store, as Airflow's Variables."""

from __future__ import annotations

import pytest

from aurora_bluegreen.cluster_lock import BUSY, CONTENDED, GO, PREFIX, Claim, ClusterLock, RunRef, verdict
from aurora_bluegreen.errors import ClusterBusy

DEPLOY = RunRef("aurora_bluegreen_deployment", "manual__2026-12-02T03:00:00+00:00")
FLEET = RunRef("aurora_bluegreen_fleet", "fleet_1")
TEARDOWN = RunRef("aurora_bluegreen_teardown", "teardown_1")


class Store(dict):
    def keys(self, prefix):
        return [key for key in list(super().keys()) if key.startswith(prefix)]

    def get(self, key):
        return super().get(key)

    def set(self, key, value):
        self[key] = value

    def delete(self, key):
        self.pop(key, None)


def lock(store, active=lambda run: True, **kwargs):
    return ClusterLock(store, active, pause=lambda: 0, sleep=lambda _: None, **kwargs)


def holders(store):
    return sorted(
        (claim.cluster_id, claim.run.run_id, claim.held) for claim in map(Claim.from_json, store.values())
    )


def test_runs_on_different_blues_both_hold_theirs():
    store = Store()
    lock(store).acquire(["blue-a"], DEPLOY)
    lock(store).acquire(["blue-b", "blue-c"], FLEET)
    assert holders(store) == [
        ("blue-a", DEPLOY.run_id, True),
        ("blue-b", FLEET.run_id, True),
        ("blue-c", FLEET.run_id, True),
    ]
    assert all(key.startswith(PREFIX) and ":" not in key and "+" not in key for key in store)


def test_a_second_run_on_a_held_blue_is_refused_naming_the_holder_and_holds_nothing():
    store = Store()
    lock(store).acquire(["blue-a", "blue-b"], FLEET)
    with pytest.raises(ClusterBusy) as refused:
        lock(store).acquire(["blue-c", "blue-b"], DEPLOY)
    message = str(refused.value)
    assert "blue-b by aurora_bluegreen_fleet run fleet_1" in message and "Nothing was changed" in message
    assert "blue-c" not in {claim.cluster_id for claim in map(Claim.from_json, store.values())}
    assert holders(store) == [("blue-a", FLEET.run_id, True), ("blue-b", FLEET.run_id, True)]


def test_a_retry_of_the_same_run_keeps_its_hold():
    store = Store()
    lock(store).acquire(["blue-a"], DEPLOY)
    lock(store).acquire(["blue-a"], DEPLOY)
    assert holders(store) == [("blue-a", DEPLOY.run_id, True)]


def test_release_lets_the_next_run_in():
    store = Store()
    lock(store).acquire(["blue-a"], DEPLOY)
    lock(store).release(["blue-a"], DEPLOY)
    lock(store).acquire(["blue-a"], TEARDOWN)
    assert holders(store) == [("blue-a", TEARDOWN.run_id, True)]


def test_a_claim_left_by_a_run_that_is_no_longer_active_is_ignored_and_removed():
    store = Store()
    lock(store).acquire(["blue-a"], DEPLOY)  # its worker died before the release task ran
    lock(store, active=lambda run: run != DEPLOY).acquire(["blue-a"], TEARDOWN)
    assert holders(store) == [("blue-a", TEARDOWN.run_id, True)]


def test_two_runs_claiming_at_the_same_moment_never_both_hold():
    """The interleaving that defeats a read-then-write lock: both write, then both read."""
    store = Store()
    first, second = lock(store, attempts=1), lock(store, attempts=1)
    first._write(["blue-a"], DEPLOY, held=False)
    second._write(["blue-a"], TEARDOWN, held=False)
    seen_by_first = first._live_others("blue-a", DEPLOY)
    seen_by_second = second._live_others("blue-a", TEARDOWN)
    assert verdict(seen_by_first) == CONTENDED and verdict(seen_by_second) == CONTENDED
    # Had one read before the other wrote, the later reader alone would see the other's claim.
    assert verdict([]) == GO and verdict([Claim("blue-a", FLEET, held=True)]) == BUSY


def test_contenders_withdraw_and_one_gets_in_on_a_later_attempt():
    store = Store()
    store.set(Claim("blue-a", FLEET, held=False).key, Claim("blue-a", FLEET, held=False).to_json())
    pauses = []

    def fleet_gives_up(_seconds):
        pauses.append(_seconds)
        store.delete(Claim("blue-a", FLEET, held=False).key)

    ClusterLock(store, lambda run: True, pause=lambda: 0.7, sleep=fleet_gives_up).acquire(["blue-a"], DEPLOY)
    assert pauses == [0.7]
    assert holders(store) == [("blue-a", DEPLOY.run_id, True)]


def test_contention_that_never_settles_is_refused_after_the_attempts():
    store = Store()
    claim = Claim("blue-a", FLEET, held=False)
    store.set(claim.key, claim.to_json())
    with pytest.raises(ClusterBusy, match="claiming it right now"):
        lock(store, attempts=3).acquire(["blue-a"], DEPLOY)
    assert holders(store) == [("blue-a", FLEET.run_id, False)]


def test_a_cluster_whose_id_extends_another_is_a_different_lock():
    store = Store()
    lock(store).acquire(["blue"], DEPLOY)
    lock(store).acquire(["blue-2"], TEARDOWN)
    assert len(store) == 2
