"""Tables Spark wrote through the layer read the same from engines that share none of its code."""

from __future__ import annotations

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from .helpers import D1, D2, EVENTS, events

pytestmark = pytest.mark.integration

ROWS = [("a", D1, 1.5, "new"), ("b", D1, None, "paid"), ("c", D2, 3.25, None)]


@pytest.fixture
def table(spark, warehouse):
    table = warehouse.create(EVENTS)
    table.write(events(spark, ROWS))
    table.merge(events(spark, [("b", D1, 2.0, "paid")]))
    return table


def test_polars_reads_what_spark_wrote(table):
    got = pl.read_delta(table.uri).sort("event_id")
    assert got["event_id"].to_list() == ["a", "b", "c"]
    assert [None if v is None else float(v) for v in got["amount"].to_list()] == [1.5, 2.0, 3.25]
    assert got["event_date"].to_list() == [D1, D1, D2]


def test_duckdb_and_spark_agree_on_aggregates(spark, table):
    dataset = DeltaTable(table.uri).to_pyarrow_dataset()  # noqa: F841 (DuckDB scans it by name)
    by_duckdb = duckdb.sql(
        "SELECT event_date, count(*), sum(amount) FROM dataset GROUP BY 1 ORDER BY 1"
    ).fetchall()
    by_spark = (
        table.to_spark(spark)
        .groupBy("event_date")
        .agg(F.count("*"), F.sum("amount"))
        .orderBy("event_date")
        .collect()
    )
    want = [(D1, 2, 3.5), (D2, 1, 3.25)]
    assert [(d, n, float(t)) for d, n, t in by_duckdb] == want
    assert [(d, n, float(t)) for d, n, t in by_spark] == want
