"""Every bad input gives a clear error and leaves what is stored unchanged."""

from __future__ import annotations

import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import TableContract
from lakehouse.errors import (
    CorruptTableError,
    NotADeltaTableError,
    SchemaMismatchError,
    TableExistsError,
    TableNotFoundError,
)

from .helpers import D1, D2, EVENTS, events, rows_of

pytestmark = pytest.mark.integration

BASE = [("a", D1, 1.0, "new"), ("b", D2, 2.0, "new")]


@pytest.fixture
def table(spark, warehouse):
    table = warehouse.create(EVENTS)
    table.write(events(spark, BASE))
    return table


def data_files(table) -> set[str]:
    from pathlib import Path

    files = Path(table.uri).rglob("*.parquet")
    return {str(p) for p in files if not {"_staging", "_delta_log"} & set(p.parts)}


def assert_unchanged(spark, table, version: int, files: set[str]) -> None:
    assert table.version == version
    assert rows_of(table.to_spark(spark)) == sorted(BASE)
    assert data_files(table) == files, "a failed write left files behind"


def test_wrong_column_type_is_refused(spark, table):
    version, files = table.version, data_files(table)
    bad = events(spark, [("c", D1, 1.0, "new")]).withColumn("amount", F.lit("1.00"))
    with pytest.raises(SchemaMismatchError, match="'amount' is string, expected decimal"):
        table.write(bad)
    assert_unchanged(spark, table, version, files)


def test_missing_required_column_is_refused(spark, table):
    version, files = table.version, data_files(table)
    with pytest.raises(SchemaMismatchError, match="missing required column 'event_id'"):
        table.write(events(spark, [("c", D1, 1.0, "new")]).drop("event_id"))
    assert_unchanged(spark, table, version, files)


def test_null_in_not_null_column_is_refused_after_staging(spark, table):
    version, files = table.version, data_files(table)
    nullable = T.StructType([T.StructField(f.name, f.dataType, True) for f in EVENTS.schema.fields])
    bad = spark.createDataFrame([(None, D1, None, "new")], nullable)
    with pytest.raises(SchemaMismatchError, match="'event_id' is NOT NULL"):
        table.write(bad)
    assert_unchanged(spark, table, version, files)


def test_null_partition_value_in_not_null_partition_column_is_refused(spark, table):
    version, files = table.version, data_files(table)
    nullable = T.StructType([T.StructField(f.name, f.dataType, True) for f in EVENTS.schema.fields])
    with pytest.raises(SchemaMismatchError, match="'event_date' is NOT NULL"):
        table.write(spark.createDataFrame([("c", None, None, "new")], nullable))
    assert_unchanged(spark, table, version, files)


def test_missing_table_names_the_fix(warehouse):
    with pytest.raises(TableNotFoundError, match="create it first"):
        warehouse.table("silver.nothing_here")


def test_directory_without_delta_log_is_not_a_delta_table(spark, warehouse, tmp_path):
    target = warehouse.uri_for("silver.plain_parquet")
    spark.range(3).write.parquet(target)
    with pytest.raises(NotADeltaTableError, match="no _delta_log"):
        warehouse.table("silver.plain_parquet")


def test_corrupt_commit_file_is_a_clear_error(table):
    from pathlib import Path

    latest = sorted(Path(table.uri, "_delta_log").glob("*.json"))[-1]
    latest.write_text('{"add": {"path": ')  # a truncated commit
    with pytest.raises(CorruptTableError, match="cannot be read"):
        table.delta()


def test_corrupt_data_file_fails_the_read_naming_the_file(spark, table):
    from pathlib import Path

    victim = sorted(data_files(table))[0]
    Path(victim).write_bytes(b"not parquet at all")
    with pytest.raises(Exception, match=Path(victim).name):
        table.to_spark(spark).collect()


def test_contract_changing_a_type_is_refused(warehouse, table):
    changed = TableContract(
        name=EVENTS.name,
        owner="t",
        description="d",
        partition_by=("event_date",),
        schema=T.StructType(
            [
                f if f.name != "amount" else T.StructField("amount", T.DoubleType())
                for f in EVENTS.schema.fields
            ]
        ),
    )
    with pytest.raises(SchemaMismatchError, match="'amount' decimal\\(18,2\\) -> double"):
        warehouse.create(changed)


def test_contract_repartitioning_is_refused(warehouse, table):
    moved = TableContract(
        name=EVENTS.name, owner="t", description="d", schema=EVENTS.schema, partition_by=()
    )
    with pytest.raises(TableExistsError, match="new table name"):
        warehouse.create(moved)
    assert DeltaTable(table.uri).metadata().partition_columns == ["event_date"]
