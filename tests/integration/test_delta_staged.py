"""Staged writes (pyarrow writers in any process, one commit by the driver): the files read the
same as Spark-written ones in Spark, delta-rs and the layer's Arrow reader; only the listed
files are committed; NOT NULL, types and app transactions hold as for ``Table.write``."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql import types as T

from lakehouse import AppTransaction, TableContract
from lakehouse.errors import SchemaMismatchError

from .helpers import D1, D2, EVENTS, events, rows_of

pytestmark = pytest.mark.integration


def arrow_events(rows: list[tuple]) -> pa.Table:
    return pa.table(
        {
            "event_id": [r[0] for r in rows],
            "event_date": [r[1] for r in rows],
            "amount": pa.array(
                [None if r[2] is None else Decimal(str(r[2])) for r in rows], pa.decimal128(18, 2)
            ),
            "status": [r[3] for r in rows],
        }
    )


def test_staged_files_read_like_spark_written_ones(spark, warehouse):
    rows = [("a", D1, 1.5, "new"), ("b", D2, None, "old"), ("c", D2, -3.0, None)]
    by_spark = warehouse.create(dataclasses.replace(EVENTS, name="silver.by_spark"))
    by_spark.write(events(spark, rows))
    staged_table = warehouse.create(EVENTS)
    staging = staged_table.new_staging()
    files = staging.write(arrow_events(rows))
    assert sorted(files) == [("2024-05-01",), ("2024-05-02",)]
    result = staged_table.commit_staged(staging, list(files.values()))
    assert (result.rows_written, result.files_added) == (3, 2)
    assert rows_of(staged_table.to_spark(spark)) == rows_of(by_spark.to_spark(spark))
    assert staged_table.to_spark(spark).schema == by_spark.to_spark(spark).schema
    delta_rs = DeltaTable(staged_table.uri).to_pyarrow_table().sort_by("event_id")
    assert delta_rs.to_pylist() == by_spark.to_arrow().sort_by("event_id").to_pylist()
    # The log's statistics prune like Spark-written files' do.
    only = staged_table.to_spark(spark, filters=[("amount", "<", 0)])
    assert [r["event_id"] for r in only.collect()] == ["c"]


def test_partition_values_are_escaped_as_spark_escapes_them(spark, warehouse):
    contract = TableContract(
        name="silver.odd_staged",
        owner="tests",
        description="partition edge cases",
        partition_by=("label",),
        schema=T.StructType(
            [T.StructField("id", T.LongType(), False), T.StructField("label", T.StringType())]
        ),
    )
    labels = ["a b/c=d%e", "ü:x?*[]{}", None, "007"]
    table = warehouse.create(contract)
    staging = table.new_staging()
    files = staging.write(pa.table({"id": list(range(4)), "label": labels}))
    table.commit_staged(staging, list(files.values()))
    got = sorted((r["id"], r["label"]) for r in table.to_spark(spark).collect())
    assert got == list(enumerate(labels))
    by_delta_rs = DeltaTable(table.uri).to_pyarrow_table().sort_by("id")["label"].to_pylist()
    assert by_delta_rs == labels


def test_only_the_listed_files_are_committed_and_the_staging_goes(warehouse):
    table = warehouse.create(EVENTS)
    staging = table.new_staging()
    kept = staging.write(arrow_events([("a", D1, 1.0, "new")]))
    staging.write(arrow_events([("a", D1, 1.0, "new")]))  # a failed attempt's copy
    table.commit_staged(staging, list(kept.values()))
    assert DeltaTable(table.uri).to_pyarrow_table()["event_id"].to_pylist() == ["a"]
    assert not table._storage.exists(staging.path)


def test_not_null_wrong_types_and_replays_are_refused_or_skipped(warehouse):
    table = warehouse.create(EVENTS)
    staging = table.new_staging()
    files = staging.write(arrow_events([(None, D1, 1.0, "new")]))
    with pytest.raises(SchemaMismatchError, match="event_id"):
        table.commit_staged(staging, list(files.values()))
    before = table.version
    assert table.count() == 0
    wrong = arrow_events([("a", D1, 1.0, "new")]).set_column(
        2, "amount", pa.array(["x"], pa.string())
    )
    with pytest.raises(SchemaMismatchError, match="types"):
        table.new_staging().write(wrong)
    txn = AppTransaction("app", 3)
    for _ in range(2):
        staging = table.new_staging()
        files = staging.write(arrow_events([("a", dt.date(2024, 5, 1), 1.0, "new")]))
        table.commit_staged(staging, list(files.values()), txn=txn)
    assert table.count() == 1
    assert table.version == before + 1


def test_a_frequently_committed_table_is_checkpointed_every_ten_commits(spark, warehouse):
    # Readers replay the JSON commits since the last checkpoint: a streaming table commits
    # once a micro-batch, and delta-rs's own default (100) made every load slower.
    table = warehouse.create(dataclasses.replace(EVENTS, name="silver.often"))
    for i in range(12):
        staging = table.new_staging()
        files = staging.write(arrow_events([(f"e{i}", D1, float(i), "new")]))
        table.commit_staged(staging, list(files.values()))
    assert table.delta().metadata().configuration["delta.checkpointInterval"] == "10"
    log = {p.name for p in (Path(table.uri) / "_delta_log").iterdir()}
    assert any(name.endswith(".checkpoint.parquet") for name in log), sorted(log)
    assert DeltaTable(table.uri).to_pyarrow_table().num_rows == 12
    assert table.to_spark(spark).count() == 12
