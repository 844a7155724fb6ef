"""Tables Spark wrote through the layer read the same from engines that share none of its code."""

from __future__ import annotations

from pathlib import Path

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


def test_files_written_by_another_engine_outside_partition_directories_are_read(spark, warehouse):
    """Delta does not require k=v directories; such files are read with their logged values."""
    import json
    import time

    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake.transaction import AddAction

    table = warehouse.create(EVENTS)
    table.write(events(spark, [("a", D1, 1.5, "new")]))
    foreign = pa.table(
        {"event_id": ["z"], "amount": pa.array([None], pa.decimal128(18, 2)), "status": ["x"]}
    )
    path = f"{table.uri}/imported/z.parquet"
    (Path(table.uri) / "imported").mkdir()
    pq.write_table(foreign, path)
    delta = DeltaTable(table.uri)
    delta.create_write_transaction(
        [
            AddAction(
                "imported/z.parquet",
                Path(path).stat().st_size,
                {"event_date": "2024-05-02"},
                int(time.time() * 1000),
                True,
                json.dumps({"numRecords": 1}),
            )
        ],
        "append",
        delta.schema(),
        partition_by=["event_date"],
    )
    got = sorted(
        (r["event_id"], r["event_date"], r["status"]) for r in table.to_spark(spark).collect()
    )
    assert got == [("a", D1, "new"), ("z", D2, "x")]
