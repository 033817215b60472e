"""The rule "never touch what we did not make", and how a clone of ours is known to be the writer."""

import pytest

from aurora_bluegreen.errors import InvalidInput, NotManagedByUs
from aurora_bluegreen.ownership import (
    clones_of,
    is_ours,
    is_the_writer,
    may_become_writer,
    ownership_tags,
    require_clone_of,
    require_ours,
    require_reusable,
    writer_tags,
)
from aurora_bluegreen.teardown import green_is_the_writer

OURS = ownership_tags("green", "blue", "run-1")


def test_ownership_tags_mark_role_source_and_run():
    assert OURS == {
        "managed-by": "aurora-bluegreen",
        "role": "green",
        "source-cluster": "blue",
        "dag-run": "run-1",
    }
    assert is_ours(OURS) and not is_ours({"role": "green"})
    assert clones_of("blue", "qa", replicating=True) == {
        "managed-by": "aurora-bluegreen",
        "source-cluster": "blue",
        "role": "qa",
        "replicates-from-source": "true",
    }
    with pytest.raises(ValueError):
        ownership_tags("production", "blue")


def test_refusals_name_what_is_not_ours_and_what_is_not_done():
    with pytest.raises(
        NotManagedByUs, match=r"prod is not tagged managed-by=aurora-bluegreen: .* so it stays"
    ):
        require_ours("prod", {}, "it stays")
    with pytest.raises(
        NotManagedByUs, match="green_cluster_id='g' is not a green that aurora-bluegreen made"
    ):
        require_clone_of("green_cluster_id", "g", {**OURS, "source-cluster": "other"}, "green", "blue")
    with pytest.raises(
        NotManagedByUs, match="names an existing cluster that aurora-bluegreen did not create"
    ):
        require_reusable("cluster_id", "g", {}, "blue")
    with pytest.raises(InvalidInput, match="the existing g is a clone of blue"):
        require_reusable("cluster_id", "g", OURS, "other-blue")


def test_only_our_clone_or_the_cluster_it_came_from_may_become_the_writer():
    assert may_become_writer("g", OURS, {})  # the cutover to our clone
    assert may_become_writer("blue", {}, OURS)  # the switch back to where our clone came from
    assert not may_become_writer("other", {}, OURS)
    assert not may_become_writer("blue", {}, {"source-cluster": "blue"})  # a stranger's tag proves nothing


def test_the_writer_mark_goes_on_clusters_of_ours_only_and_a_switch_back_clears_it():
    marks = writer_tags(OURS, {}, "2026-12-02T00:00:00+00:00")
    assert marks == {"target": {"writer-since": "2026-12-02T00:00:00+00:00"}}
    assert is_the_writer({**OURS, **marks["target"]})
    back = writer_tags({}, {**OURS, **marks["target"]}, "2026-12-03T00:00:00+00:00")
    assert back == {"source": {"writer-since": "switched back 2026-12-03T00:00:00+00:00"}}
    assert not is_the_writer({**OURS, **back["source"]}) and not is_the_writer(OURS)


@pytest.mark.parametrize(
    ("facts", "verdict"),
    [
        # Green answers: writable and no replica is the cutover's end state, whatever blue says.
        ({"green_answers": True, "green_writable": True, "blue_read_only": False}, True),
        ({"green_answers": True, "green_writable": False, "blue_read_only": True}, False),
        ({"green_answers": True, "green_writable": True, "green_replicates": True}, False),
        # Green silent: a frozen blue leaves it open; old blue replicating from green or the tag decide.
        ({"green_answers": False, "blue_read_only": True}, None),
        ({"green_answers": False, "blue_read_only": False}, False),
        ({"green_answers": False, "blue_read_only": False, "blue_replicates_from_green": True}, True),
        ({"green_answers": False, "blue_read_only": False, "tagged_writer": True}, True),
    ],
)
def test_green_is_the_writer_does_not_take_blues_read_only_as_proof(facts, verdict):
    defaults = {
        "green_writable": False,
        "green_replicates": False,
        "blue_read_only": False,
        "blue_replicates_from_green": False,
        "tagged_writer": False,
    }
    assert green_is_the_writer(**{**defaults, **facts}) is verdict
