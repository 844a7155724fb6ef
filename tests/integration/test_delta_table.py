"""Each table-layer operation on tiny tables, checked with Spark and with delta-rs."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from pyspark.sql import types as T

from lakehouse import AppTransaction, TableContract
from lakehouse.errors import PredicateError

from .helpers import D1, D2, D3, EVENTS, events, rows_of

pytestmark = pytest.mark.integration

BASE = [("a", D1, 1.0, "new"), ("b", D1, 2.0, "new"), ("c", D2, 3.0, "new")]


@pytest.fixture
def table(spark, warehouse):
    table = warehouse.create(EVENTS)
    table.write(events(spark, BASE))
    return table


def delta_rs_rows(table) -> list[tuple]:
    frame = DeltaTable(table.uri).to_pyarrow_table().to_pylist()
    return sorted(
        (
            r["event_id"],
            r["event_date"],
            None if r["amount"] is None else float(r["amount"]),
            r["status"],
        )
        for r in frame
    )


def test_create_records_contract_in_the_log(warehouse):
    table = warehouse.create(EVENTS)
    meta = DeltaTable(table.uri).metadata()
    assert meta.partition_columns == ["event_date"]
    assert meta.description == "test events"
    assert table.primary_key == ("event_id",)
    assert table.count() == 0


def test_append_is_read_back_by_spark_and_delta_rs(spark, table):
    want = [("a", D1, 1.0, "new"), ("b", D1, 2.0, "new"), ("c", D2, 3.0, "new")]
    assert rows_of(table.to_spark(spark)) == want
    assert delta_rs_rows(table) == want
    assert table.to_spark(spark).columns == ["event_id", "event_date", "amount", "status"]


def test_overwrite_replaces_every_row(spark, table):
    table.write(events(spark, [("z", D3, 9.0, "new")]), mode="overwrite")
    assert rows_of(table.to_spark(spark)) == [("z", D3, 9.0, "new")]


def test_replace_where_replaces_only_the_owned_partition(spark, table):
    result = table.write(
        events(spark, [("a2", D1, 5.0, "fixed")]),
        mode="replace_where",
        predicate="event_date = DATE'2024-05-01'",
    )
    assert rows_of(table.to_spark(spark)) == [("a2", D1, 5.0, "fixed"), ("c", D2, 3.0, "new")]
    assert result.rows_written == 1


def test_replace_where_twice_is_idempotent(spark, table):
    day = events(spark, [("a2", D1, 5.0, "fixed")])
    for _ in range(2):
        table.write(day, mode="replace_where", predicate="event_date = DATE'2024-05-01'")
    assert delta_rs_rows(table) == [("a2", D1, 5.0, "fixed"), ("c", D2, 3.0, "new")]


def test_replace_where_refuses_rows_outside_the_predicate(spark, table):
    before = table.version
    with pytest.raises(PredicateError, match="outside"):
        table.write(
            events(spark, [("x", D2, 1.0, "new")]),
            mode="replace_where",
            predicate="event_date = DATE'2024-05-01'",
        )
    assert table.version == before
    assert rows_of(table.to_spark(spark)) == sorted(BASE)


def test_replace_where_on_a_data_column_is_a_clear_error(spark, table):
    with pytest.raises(PredicateError, match="partition columns"):
        table.write(
            events(spark, [("x", D1, 1.0, "new")]), mode="replace_where", predicate="status = 'new'"
        )


def test_app_transaction_retry_writes_nothing(spark, table):
    batch = events(spark, [("d", D3, 4.0, "new")])
    first = table.write(batch, txn=AppTransaction("ingest", 7))
    retry = table.write(batch, txn=AppTransaction("ingest", 7))
    assert (first.skipped, retry.skipped) == (False, True)
    assert retry.version == first.version
    assert table.transaction_version("ingest") == 7
    assert table.count() == 4


def test_merge_updates_inserts_and_deletes(spark, table):
    schema = T.StructType([*EVENTS.schema.fields, T.StructField("op", T.StringType())])
    from decimal import Decimal

    changes = spark.createDataFrame(
        [
            ("a", D1, Decimal("10.00"), "paid", "U"),
            ("b", D1, None, None, "D"),
            ("n", D3, Decimal("7.00"), "new", "I"),
        ],
        schema,
    )
    result = table.merge(changes, delete_if="op = 'D'")
    assert (result.rows_updated, result.rows_inserted, result.rows_deleted) == (1, 1, 1)
    want = [("a", D1, 10.0, "paid"), ("c", D2, 3.0, "new"), ("n", D3, 7.0, "new")]
    assert rows_of(table.to_spark(spark)) == want
    assert delta_rs_rows(table) == want


def test_merge_rewrites_only_files_holding_matched_keys(spark, table):
    table.write(events(spark, [("x", D3, 1.0, "new")]))
    files_before = set(DeltaTable(table.uri).file_uris())
    result = table.merge(events(spark, [("x", D3, 2.0, "paid")]))
    files_after = set(DeltaTable(table.uri).file_uris())
    assert result.files_rewritten == 1
    assert len(files_before - files_after) == 1  # only x's file left the table


def test_merge_with_duplicate_source_keys_is_refused(spark, table):
    from lakehouse.errors import ContractError

    with pytest.raises(ContractError, match="deduplicate"):
        table.merge(events(spark, [("a", D1, 1.0, "x"), ("a", D1, 2.0, "y")]))
    assert rows_of(table.to_spark(spark)) == sorted(BASE)


def test_merge_insert_only_keeps_existing_rows(spark, table):
    table.merge(
        events(spark, [("a", D1, 99.0, "late"), ("q", D2, 1.0, "new")]), when_matched="ignore"
    )
    assert rows_of(table.to_spark(spark)) == sorted([*BASE, ("q", D2, 1.0, "new")])


def test_time_travel_by_version_and_timestamp(spark, table):
    v_first = table.version
    # A moment between the two commits. Not the commitInfo timestamp plus a little: delta-rs
    # (like Spark) resolves as_of by the commit file's modification time, which under load
    # lands some milliseconds after the timestamp written inside the commit.
    time.sleep(0.05)
    between = dt.datetime.now(dt.UTC)
    time.sleep(0.05)
    table.write(events(spark, [("d", D3, 4.0, "new")]))
    assert table.to_spark(spark, version=v_first).count() == 3
    assert table.to_spark(spark, as_of=between).count() == 3
    assert table.to_spark(spark).count() == 4


def test_filters_prune_partitions_and_skip_files(spark, table):
    table.write(events(spark, [("m", D3, 100.0, "new")]))
    got = table.to_spark(spark, filters=[("event_date", "=", "2024-05-01")])
    assert rows_of(got) == [("a", D1, 1.0, "new"), ("b", D1, 2.0, "new")]
    skipped = table.to_spark(spark, filters=[("amount", ">", 50)])
    assert rows_of(skipped) == [("m", D3, 100.0, "new")]
    assert len(skipped.inputFiles()) == 1  # min/max statistics excluded the other files


def test_arrow_reads_take_the_same_filters_columns_and_versions_as_spark(spark, table):
    table.write(events(spark, [("m", D3, 100.0, "new")]))
    got = table.to_arrow(filters=[("event_date", "in", [D1, D3]), ("amount", ">", 1.5)])
    assert sorted(got.column("event_id").to_pylist()) == ["b", "m"]
    assert table.to_arrow(columns=["status"]).column_names == ["status"]
    assert table.to_arrow(version=2).num_rows == len(BASE)
    assert table.to_arrow_dataset().count_rows() == len(BASE) + 1
    with pytest.raises(PredicateError, match="unknown column 'colour'"):
        table.to_arrow(filters=[("colour", "=", "red")])


def test_a_process_reading_with_arrow_exits_cleanly(table):
    """Read through delta-rs's own file system, about one process in three aborted at exit
    (exit code 134) after its work was done; the table layer reads through pyarrow's."""
    script = (
        "import sys; from lakehouse.delta import Table; "
        "print(Table('events', sys.argv[1]).to_arrow().num_rows)"
    )
    for _ in range(8):
        done = subprocess.run(
            [sys.executable, "-c", script, table.uri], capture_output=True, text=True
        )
        assert (done.returncode, done.stdout.strip()) == (0, str(len(BASE))), done.stderr[-500:]


def test_statistics_are_written_to_the_log(table):
    actions = pa.table(DeltaTable(table.uri).get_add_actions(flatten=True)).to_pylist()
    by_date = {a["partition.event_date"]: a for a in actions}
    assert by_date[D2]["num_records"] == 1
    assert by_date[D2]["min.event_id"] == "c"
    assert by_date[D2]["null_count.amount"] == 0


def test_schema_evolution_adds_nullable_columns(spark, warehouse, table):
    wider = TableContract(
        name=EVENTS.name,
        owner="tests",
        description="v2",
        version=2,
        primary_key=("event_id",),
        partition_by=("event_date",),
        schema=T.StructType(
            [*EVENTS.schema.fields, T.StructField("channel", T.StringType(), True)]
        ),
    )
    warehouse.create(wider)
    assert table.schema.fieldNames()[-1] == "channel"
    assert table.to_spark(spark).filter("channel IS NULL").count() == 3


def test_write_with_new_column_needs_add_columns_mode(spark, table):
    from pyspark.sql import functions as F

    from lakehouse.errors import SchemaMismatchError

    wide = events(spark, [("e", D3, 1.0, "new")]).withColumn("note", F.lit("hi"))
    with pytest.raises(SchemaMismatchError, match="add_columns"):
        table.write(wide)
    table.write(wide, schema_mode="add_columns")
    assert rows_of(table.to_spark(spark).filter("note = 'hi'")) == [("e", D3, 1.0, "new")]


def test_optimize_compacts_and_keeps_rows(spark, table):
    for i in range(3):
        table.write(events(spark, [(f"s{i}", D3, float(i), "new")]))
    before = rows_of(table.to_spark(spark))
    result = table.optimize(spark)
    assert result.files_removed >= 3
    assert rows_of(table.to_spark(spark)) == before
    assert table.history(1)[0]["lakehouse.operation"] == "optimize"


def test_vacuum_removes_unreferenced_files_only(spark, table):
    table.write(events(spark, [("z", D3, 9.0, "new")]), mode="overwrite")
    removed = table.vacuum(retention_hours=0)
    assert removed  # the files of the overwritten version
    assert rows_of(table.to_spark(spark)) == [("z", D3, 9.0, "new")]
    assert delta_rs_rows(table) == [("z", D3, 9.0, "new")]


def test_partition_values_round_trip_with_types(spark, warehouse):
    contract = TableContract(
        name="silver.odd_partitions",
        owner="tests",
        description="partition edge cases",
        partition_by=("day", "n", "label"),
        schema=T.StructType(
            [
                T.StructField("id", T.LongType(), False),
                T.StructField("day", T.DateType(), True),
                T.StructField("n", T.IntegerType(), True),
                T.StructField("label", T.StringType(), True),
            ]
        ),
    )
    table = warehouse.create(contract)
    rows = [
        (1, D1, 7, "a b/c=d%e"),
        (2, D2, -3, "ü:x?*[]{}"),
        (3, None, None, None),
        (4, D1, 7, "007"),
    ]
    table.write(spark.createDataFrame(rows, contract.schema))
    got = sorted(tuple(r) for r in table.to_spark(spark).collect())
    assert got == sorted(rows, key=lambda r: r[0])
    by_delta_rs = sorted(
        (r["id"], r["day"], r["n"], r["label"])
        for r in DeltaTable(table.uri).to_pyarrow_table().to_pylist()
    )
    assert by_delta_rs == sorted(rows, key=lambda r: r[0])
    only = table.to_spark(spark, filters=[("label", "=", "a b/c=d%e")])
    assert [r["id"] for r in only.collect()] == [1]


def test_before_commit_sees_the_staged_rows_and_a_raise_commits_nothing(spark, table):
    before = table.version
    seen = []

    def look(staged) -> None:
        assert table.version == before  # staged, not yet committed
        seen.extend(sorted(staged.to_table(columns=["event_id", "status"]).to_pylist(), key=str))

    batch = events(spark, [("d", D3, 4.0, "new"), ("e", D1, 5.0, "late")])
    table.write(batch, before_commit=look)
    assert seen == [{"event_id": "d", "status": "new"}, {"event_id": "e", "status": "late"}]
    assert table.version == before + 1

    def refuse(staged) -> None:
        raise RuntimeError("the alerts topic is down")

    with pytest.raises(RuntimeError, match="alerts topic"):
        table.write(events(spark, [("f", D3, 6.0, "new")]), before_commit=refuse)
    assert table.version == before + 1
    assert table.count() == 5
    assert list((Path(table.uri) / "_staging").iterdir()) == []


def test_a_failed_spark_write_leaves_no_staging_directory(spark, table):
    from pyspark.errors import PySparkException
    from pyspark.sql import functions as F

    before = table.version
    failing = events(spark, [("x", D3, 1.0, "new")]).withColumn(
        "status", F.when(F.col("event_id") == "x", F.raise_error(F.lit("boom"))).cast("string")
    )
    with pytest.raises(PySparkException, match="boom"):
        table.write(failing)
    assert table.version == before
    assert list((Path(table.uri) / "_staging").iterdir()) == []


def test_a_task_meeting_partitions_interleaved_writes_one_file_for_each(spark, warehouse):
    table = warehouse.create(EVENTS)
    start = dt.date(2024, 1, 1)
    rows = [(f"e{i:03d}", start + dt.timedelta(days=i % 40), float(i), "new") for i in range(120)]
    table.write(events(spark, rows).coalesce(1))  # one task, the 40 days in turn
    assert rows_of(table.to_spark(spark)) == sorted(rows)
    actions = pa.table(DeltaTable(table.uri).get_add_actions(flatten=True)).to_pylist()
    by_day = sorted(
        (a["partition.event_date"], a["num_records"], a["min.event_id"]) for a in actions
    )
    assert by_day == [(start + dt.timedelta(days=d), 3, f"e{d:03d}") for d in range(40)]
