"""Green must write binlogs before the approval: after the cutover old blue replicates from it."""

import pytest

from aurora_bluegreen.replication_setup import green_binlog_refusal


@pytest.mark.parametrize(("log_bin", "binlog_format"), [(True, "ROW"), (True, "MIXED"), (True, "row")])
def test_green_writing_row_or_mixed_binlogs_passes(log_bin, binlog_format):
    assert green_binlog_refusal("green", log_bin, binlog_format, "green-params") is None


def test_green_with_binlogs_off_is_refused_naming_its_cluster_parameter_group():
    refusal = green_binlog_refusal("green", False, "ROW", "aurora-bluegreen-green-cluster")
    assert refusal.startswith(
        "green green does not write binlogs old blue could replicate from (binary logging off"
    )
    assert "set by its cluster parameter group aurora-bluegreen-green-cluster" in refusal
    assert "old blue replicates from green" in refusal
    assert "binlog_format ROW or MIXED" in refusal


def test_green_with_statement_binlogs_is_refused():
    refusal = green_binlog_refusal("green", True, "STATEMENT", "green-params")
    assert "(binlog_format=STATEMENT, set by its cluster parameter group green-params)" in refusal


def test_without_a_parameter_group_the_refusal_points_at_the_servers_settings():
    # The sandbox has no parameter groups.
    assert "set by its server's settings" in green_binlog_refusal("green", False, "ROW", None)
