"""Reading a table's files: into Spark (the Parquet files delta-rs lists, with the table's
schema and partition values) or as a pyarrow dataset (no Spark)."""

from __future__ import annotations

import pyarrow.dataset as pads
from deltalake import DeltaTable
from pyarrow import fs as pafs
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.delta import _log
from lakehouse.delta._files import Storage, partition_values_from_path

__all__ = ["arrow_dataset", "scan"]


def arrow_dataset(table: DeltaTable, storage: Storage) -> pads.Dataset:
    # Through pyarrow's own file system rather than delta-rs's default Python one: with that,
    # a process that read through Arrow's thread pool aborts at exit about one time in three
    # ("terminate called without an active exception"; deltalake 1.5-1.6, pyarrow 23-25),
    # which turns a finished CLI command into exit code 134.
    files = pafs.SubTreeFileSystem(storage.base, storage.fs)
    return table.to_pyarrow_dataset(filesystem=files)


def scan(
    spark: SparkSession,
    storage: Storage,
    files: list[_log.ActiveFile],
    schema: T.StructType,
    partition_by: list[str],
) -> DataFrame:
    """``files`` as one DataFrame with ``schema``, in the table's column order."""
    if not files:
        return spark.createDataFrame([], schema)
    paths = [storage.spark_path(f.path) for f in files]
    reader = spark.read.schema(schema)
    if not partition_by:
        return reader.parquet(*paths)
    if all(_hive_layout(f, partition_by) for f in files):
        # Spark takes partition values from the directories, typed by the given schema, and
        # puts partition columns last: restore the table's column order.
        frame = reader.option("basePath", storage.spark_path()).parquet(*paths)
        return frame.select(*schema.fieldNames())
    return _scan_by_partition(spark, storage, files, schema, partition_by)


def _scan_by_partition(
    spark: SparkSession,
    storage: Storage,
    files: list[_log.ActiveFile],
    schema: T.StructType,
    partition_by: list[str],
) -> DataFrame:
    # Files written by other engines may not sit in k=v directories: read each partition's
    # files on their own and add its values as literals.
    data_schema = T.StructType([f for f in schema.fields if f.name not in partition_by])
    groups: dict[tuple, list[str]] = {}
    for f in files:
        key = tuple(f.partition[c] for c in partition_by)
        groups.setdefault(key, []).append(storage.spark_path(f.path))
    frames = []
    for key, paths in groups.items():
        frame = spark.read.schema(data_schema).parquet(*paths)
        literals = [
            F.lit(v).cast(schema[c].dataType).alias(c)
            for c, v in zip(partition_by, key, strict=True)
        ]
        frames.append(frame.select("*", *literals).select(*schema.fieldNames()))
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def _hive_layout(file: _log.ActiveFile, partition_by: list[str]) -> bool:
    try:
        return partition_values_from_path(file.path, partition_by) == file.partition_strings
    except ValueError:
        return False
