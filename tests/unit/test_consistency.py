from aurora_bluegreen.consistency import ConsistencyReport, TableShape, tables_to_compare
from aurora_bluegreen.dialects import table_checksum


def test_tables_to_compare_uses_common_columns_and_names_every_skip():
    blue = {
        ("shop", "orders"): TableShape(("id", "amount"), 10),
        ("shop", "big"): TableShape(("id",), 5_000_000),
        ("shop", "dropped_on_green"): TableShape(("id",), 1),
    }
    green = {
        ("shop", "orders"): TableShape(("id", "amount", "added_by_migration"), 11),
        ("shop", "big"): TableShape(("id",), 5_000_000),
        ("shop", "new_on_green"): TableShape(("id",), 0),
    }
    compare, skipped = tables_to_compare(blue, green, max_rows=1_000_000)
    assert compare == [("shop", "orders", ["id", "amount"])]
    assert skipped == [
        "shop.big has about 5000000 rows, over the 1000000 bound",
        "shop.dropped_on_green exists only on blue",
        "shop.new_on_green exists only on green",
    ]


def test_report_summary_says_what_differs():
    report = ConsistencyReport(checked=["shop.a", "shop.b"], mismatched=["shop.b: blue 2 rows, green 3 rows"])
    assert not report.consistent
    assert report.summary().endswith("DIFFERENT: shop.b: blue 2 rows, green 3 rows")
    assert report.to_dict()["consistent"] is False


def test_checksum_sql_quotes_identifiers_and_separates_null_from_empty():
    statement = table_checksum("shop", "we`ird", ["id", "note"])
    assert "FROM `shop`.`we``ird`" in statement.sql
    assert "`note`, ISNULL(`note`)" in statement.sql
