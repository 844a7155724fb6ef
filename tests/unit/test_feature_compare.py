"""bench.feature_sql.compare: the check that decides whether Spark and DuckDB features agree."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from bench.feature_sql import compare, find_differences

pytestmark = pytest.mark.unit

SPEND = pa.schema(
    [
        ("customer_id", pa.string()),
        ("spend_sum_7d", pa.float64()),
        ("spend_count_7d", pa.int64()),
        ("home_location", pa.string()),
    ]
)


def spend(rows: list[tuple]) -> pa.Table:
    return pa.Table.from_pylist([dict(zip(SPEND.names, row, strict=True)) for row in rows], SPEND)


def test_equal_tables_in_another_row_order_have_no_differences():
    rows = [("C1", 10.5, 2, "Lyon"), ("C2", 0.0, 0, None)]
    assert compare(spend(rows), spend(rows[::-1]), keys=["customer_id"]) == []


def test_null_equals_null():
    expected = spend([("C1", None, 0, None)])
    got = spend([("C1", None, 0, None)])
    assert compare(expected, got, keys=["customer_id"]) == []


def test_null_against_a_value_is_a_difference():
    expected = spend([("C1", None, 1, "Lyon")])
    got = spend([("C1", 0.0, 1, None)])
    assert compare(expected, got, keys=["customer_id"]) == [
        "key (customer_id='C1') column 'spend_sum_7d': expected NULL, got 0.0",
        "key (customer_id='C1') column 'home_location': expected 'Lyon', got NULL",
    ]


def test_a_differing_value_is_reported_with_key_column_and_both_values():
    expected = spend([("C1", 10.5, 2, "Lyon"), ("C2", 3.0, 1, "Nice")])
    got = spend([("C1", 10.5, 3, "Lyon"), ("C2", 3.0, 1, "Nice")])
    assert compare(expected, got, keys=["customer_id"]) == [
        "key (customer_id='C1') column 'spend_count_7d': expected 2, got 3"
    ]


def test_doubles_within_tolerance_are_equal_and_beyond_it_differ():
    expected = spend([("C1", 1000.0, 1, None), ("C2", 1000.0, 1, None)])
    off = 1000.0 * (1 + 1e-6)
    got = spend([("C1", 1000.0 * (1 + 1e-12), 1, None), ("C2", off, 1, None)])
    assert compare(expected, got, keys=["customer_id"]) == [
        f"key (customer_id='C2') column 'spend_sum_7d': expected 1000.0, got {off!r}"
    ]


def test_a_missing_key_and_an_extra_key_are_reported():
    expected = spend([("C1", 1.0, 1, None), ("C2", 2.0, 1, None)])
    got = spend([("C1", 1.0, 1, None), ("C3", 3.0, 1, None)])
    assert compare(expected, got, keys=["customer_id"]) == [
        "key (customer_id='C2'): missing from got",
        "key (customer_id='C3'): only in got",
    ]


def test_duplicate_keys_are_reported():
    expected = spend([("C1", 1.0, 1, None)])
    got = spend([("C1", 1.0, 1, None), ("C1", 1.0, 1, None)])
    assert "key (customer_id='C1'): 2 rows in got" in compare(expected, got, keys=["customer_id"])


def test_missing_extra_and_retyped_columns_are_reported():
    expected = spend([("C1", 1.0, 1, None)])
    got = pa.table(
        {
            "customer_id": ["C1"],
            "spend_sum_7d": [1.0],
            "spend_count_7d": pa.array([1], pa.int32()),
            "feature_ts": [dt.datetime(2024, 1, 2)],
        }
    )
    assert sorted(compare(expected, got, keys=["customer_id"])) == [
        "column 'feature_ts' (timestamp[us]) only in got",
        "column 'home_location' (string) missing from got",
        "column 'spend_count_7d': type int64 expected, int32 got",
    ]


def test_timestamps_compare_as_instants_whatever_their_time_zone_label():
    naive = pa.table({"customer_id": ["C1"], "feature_ts": pa.array([dt.datetime(2024, 1, 2, 3)])})
    utc = pa.table(
        {
            "customer_id": ["C1"],
            "feature_ts": pa.array([dt.datetime(2024, 1, 2, 3)], pa.timestamp("us", tz="UTC")),
        }
    )
    assert compare(naive, utc, keys=["customer_id", "feature_ts"]) == []


def test_many_differences_are_counted_and_only_the_first_shown():
    expected = spend([(f"C{i:03d}", float(i), 1, None) for i in range(50)])
    got = spend([(f"C{i:03d}", float(i) + 1, 1, None) for i in range(50)])
    found = find_differences(expected, got, keys=["customer_id"], limit=5)
    messages = compare(expected, got, keys=["customer_id"], limit=5)
    assert found.total == 50
    assert messages[-1] == "... and 45 more differences not shown"
    assert messages[0] == "key (customer_id='C000') column 'spend_sum_7d': expected 0.0, got 1.0"
