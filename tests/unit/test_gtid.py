import pytest

from aurora_bluegreen.gtid import MariadbGtidSet, MysqlGtidSet, parse_gtid_set

BLUE = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
GREEN = "4a6b2c1d-0000-11ee-8f00-0242ac120002"


def test_mysql_set_parses_the_multiline_text_servers_print():
    # gtid_executed as MySQL prints it: upper case allowed, a newline after every comma.
    text = f"{BLUE.upper()}:1-5:7,\n{GREEN}:1-3\n"
    gtids = MysqlGtidSet.parse(text)
    assert str(gtids) == f"{BLUE}:1-5:7,{GREEN}:1-3"
    assert not gtids.is_empty


def test_mysql_set_merges_overlapping_and_adjacent_intervals():
    assert str(MysqlGtidSet.parse(f"{BLUE}:4-6:1-3:9:8,{BLUE}:2-5")) == f"{BLUE}:1-6:8-9"


def test_mysql_set_keeps_tagged_intervals_apart():
    gtids = MysqlGtidSet.parse(f"{BLUE}:1-3:Deploy:1-2:5")
    assert str(gtids) == f"{BLUE}:1-3:deploy:1-2:5"
    assert not gtids.contains(MysqlGtidSet.parse(f"{BLUE}:4"))
    assert gtids.contains(MysqlGtidSet.parse(f"{BLUE}:deploy:2"))


def test_mysql_contains_is_a_superset_test():
    blue = MysqlGtidSet.parse(f"{BLUE}:1-100")
    green = MysqlGtidSet.parse(f"{BLUE}:1-100,{GREEN}:1-2")
    assert green.contains(blue)
    assert not blue.contains(green)
    assert blue.contains(blue)
    assert not MysqlGtidSet.parse(f"{BLUE}:1-50:52-100").contains(blue), "a hole is missing work"
    assert MysqlGtidSet.parse(f"{BLUE}:1-49,{BLUE}:50-100").contains(blue)


def test_mysql_equality_ignores_how_the_text_was_written():
    assert MysqlGtidSet.parse(f"{BLUE}:1-3:4-5") == MysqlGtidSet.parse(f" {BLUE.upper()}:1-5 ")
    assert MysqlGtidSet.parse(f"{BLUE}:1-5") != MysqlGtidSet.parse(f"{BLUE}:1-6")
    assert len({MysqlGtidSet.parse(f"{BLUE}:1-3:4-5"), MysqlGtidSet.parse(f"{BLUE}:1-5")}) == 1


@pytest.mark.parametrize(
    "text",
    [
        "not-a-uuid:1-5",
        f"{BLUE}",
        f"{BLUE}:",
        f"{BLUE}:0-3",
        f"{BLUE}:5-3",
        f"{BLUE}:1-x",
        f"{BLUE}:1,,{GREEN}:1",
        f"{BLUE}:tag",
        f"{BLUE}:tag:other:1",
    ],
)
def test_mysql_malformed_text_is_refused_with_the_text(text):
    with pytest.raises(ValueError, match="malformed MySQL GTID set"):
        MysqlGtidSet.parse(text)


def test_mariadb_position_compares_per_domain_by_sequence():
    blue = MariadbGtidSet.parse("0-1-42,1-2-5")
    assert str(blue) == "0-1-42,1-2-5"
    assert MariadbGtidSet.parse("0-1-42,1-2-5").contains(blue)
    assert MariadbGtidSet.parse("1-2-6,\n0-1-50").contains(blue)
    assert not MariadbGtidSet.parse("0-1-41,1-2-5").contains(blue)
    assert not MariadbGtidSet.parse("0-1-42").contains(blue), "domain 1 is missing"
    # Green's own writes continue the domain under green's server id: blue has not seen them.
    green = MariadbGtidSet.parse("0-7-43,1-2-5")
    assert green.contains(blue) and not blue.contains(green)


def test_mariadb_equality_and_order():
    assert MariadbGtidSet.parse("1-2-5,0-1-42") == MariadbGtidSet.parse("0-1-42, 1-2-5")
    assert MariadbGtidSet.parse("0-1-42") != MariadbGtidSet.parse("0-2-42")


@pytest.mark.parametrize("text", ["0-1", "0-1-x", "0-1-2-3", "a-b-c", "0-1-2,0-3-4", "0-1-2,"])
def test_mariadb_malformed_text_is_refused(text):
    with pytest.raises(ValueError, match="malformed MariaDB GTID position"):
        MariadbGtidSet.parse(text)


def test_parse_tells_the_flavours_apart():
    assert isinstance(parse_gtid_set("0-1-42"), MariadbGtidSet)
    assert isinstance(parse_gtid_set(f"{BLUE}:1"), MysqlGtidSet)


def test_empty_sets_have_no_flavour():
    assert parse_gtid_set("").is_empty and parse_gtid_set(None).is_empty and parse_gtid_set(" \n").is_empty
    assert MysqlGtidSet.parse("") == MariadbGtidSet.parse("")
    assert MariadbGtidSet.parse("0-1-1").contains(MysqlGtidSet.parse(""))
    assert not MysqlGtidSet.parse("").contains(MariadbGtidSet.parse("0-1-1"))


def test_comparing_flavours_is_an_error_not_an_answer():
    with pytest.raises(ValueError, match="cannot compare a MySQL GTID set with a MariaDB one"):
        MysqlGtidSet.parse(f"{BLUE}:1").contains(MariadbGtidSet.parse("0-1-1"))
    assert MysqlGtidSet.parse(f"{BLUE}:1") != MariadbGtidSet.parse("0-1-1")
