"""The bulk CSV path's transforms on tiny frames: what counts as malformed, the fast path's
guard, and the exact path's typing of numbered lines."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import types as T

from jobs._bulk_csv import (
    BAD_ROW,
    MALFORMED,
    UNREADABLE,
    check_headers,
    guard_rows,
    malformed,
    read_csv,
    type_lines,
)
from jobs.ingest_csv import parse_lines
from lakehouse.errors import ContractError
from lakehouse.quality import QualitySuite

pytestmark = pytest.mark.unit

SCHEMA = T.StructType(
    [
        T.StructField("k", T.LongType()),
        T.StructField("price", T.DecimalType(15, 2)),
        T.StructField("day", T.DateType()),
        T.StructField("note", T.StringType()),
    ]
)
SUITE = QualitySuite.model_validate(
    {
        "table": "tpch.tiny",
        "rules": [
            {"name": "k_present", "check": "not_null", "column": "k"},
            {"name": "price_in_range", "check": "between", "column": "price", "min": 0, "max": 10},
        ],
    }
)
DAY = dt.date(1996, 3, 13)


def typed(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def test_a_replaced_byte_is_malformed(spark):
    rows = typed(spark, [(1, Decimal("1.00"), DAY, "fine"), (3, Decimal("1.00"), DAY, "caf\ufffd")])
    flags = rows.select("k", malformed(SCHEMA).alias("m")).collect()
    assert {r["k"]: r["m"] for r in flags} == {1: False, 3: True}


def test_the_guard_passes_clean_rows_untouched(spark):
    rows = typed(spark, [(1, Decimal("1.00"), DAY, "a"), (2, Decimal("10.00"), DAY, "b")])
    got = guard_rows(rows, SUITE, schema=SCHEMA).select(*SCHEMA.fieldNames())
    assert sorted(got.collect()) == sorted(rows.collect())


@pytest.mark.parametrize(
    "bad_row",
    [
        (2, Decimal("10.01"), DAY, "above the range"),
        (None, Decimal("1.00"), DAY, "no key"),
        (2, Decimal("1.00"), DAY, "caf\ufffd"),
    ],
    ids=["rule", "not_null", "malformed"],
)
def test_the_guard_raises_on_the_first_bad_row(spark, bad_row):
    rows = typed(spark, [(1, Decimal("1.00"), DAY, "a"), bad_row])
    with pytest.raises(PySparkException, match=BAD_ROW):
        guard_rows(rows, SUITE, schema=SCHEMA).collect()


def numbered(spark, lines: list[str]):
    frame = spark.createDataFrame(
        [("f.csv", n, text) for n, text in enumerate(lines, 1)],
        "source_file string, line_number long, line string",
    )
    return parse_lines(frame, columns=SCHEMA.fieldNames())


def test_type_lines_types_values_with_the_csv_parser(spark):
    lines = ["k,price,day,note", '7,12.50,1996-03-13,"a, quoted note"']
    got = type_lines(numbered(spark, lines), SCHEMA).collect()
    assert [
        (r["line_number"], r["k"], r["price"], r["day"], r["note"], r[MALFORMED]) for r in got
    ] == [(2, 7, Decimal("12.50"), DAY, "a, quoted note", None)]


def test_type_lines_names_each_kind_of_malformed_line(spark):
    lines = [
        "k,price,day,note",
        "1,abc,1996-03-13,x",  # a value that is not of its type
        "2,1.00,1996-03-13",  # a field short
        '3,"1.00,1996-03-13,x',  # the quote never closes: the rest is one field
    ]
    reasons = {
        r["line_number"]: r[MALFORMED] for r in type_lines(numbered(spark, lines), SCHEMA).collect()
    }
    assert reasons[2] == "unconvertible value: price not of the column's type"
    assert reasons[3].startswith("wrong column count")
    assert reasons[4].startswith("bad quoting")


def test_read_csv_reads_with_the_schema_types(spark, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('k,price,day,note\n1,0.04,1996-03-13,plain\n2,1.00,1996-03-14,"a, b"\n')
    got = [tuple(r) for r in read_csv(spark, [path], SCHEMA).collect()]
    want = [(1, Decimal("0.04"), DAY, "plain"), (2, Decimal("1.00"), dt.date(1996, 3, 14), "a, b")]
    assert sorted(got) == want


@pytest.mark.parametrize(
    "line",
    ["2,x,1996-03-13,bad", "2,1.00,1996-03-13", "2,1.00,1996-03-13,a,b", '2,"1.00,1996-03-13,x'],
    ids=["unconvertible", "a field short", "a field too many", "bad quoting"],
)
def test_read_csv_stops_at_a_line_it_cannot_read(spark, tmp_path, line):
    path = tmp_path / "t.csv"
    path.write_text(f"k,price,day,note\n1,0.04,1996-03-13,plain\n{line}\n")
    with pytest.raises((PySparkException, Py4JJavaError), match=UNREADABLE):
        read_csv(spark, [path], SCHEMA).collect()


def test_a_header_naming_other_columns_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("k,day,price,note\n")
    with pytest.raises(
        ContractError, match=r"t.csv has the columns \['k', 'day', 'price', 'note'\]"
    ):
        check_headers([path], SCHEMA.fieldNames(), table="tpch.tiny")
