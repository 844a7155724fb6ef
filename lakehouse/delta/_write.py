"""Staging a DataFrame as Parquet files (Spark, distributed) and publishing them into the table.

Spark writes into ``_staging/<uuid>/`` under the table root: Delta readers ignore directories
starting with ``_`` and the files are not in the log, so a crash here leaves nothing visible.
Publishing moves each file to its partition directory (a rename on local and HDFS file systems);
until the commit lands those files are orphans that ``vacuum`` removes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import pyarrow as pa
from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.delta._files import DataFile, Storage, describe_files
from lakehouse.errors import PredicateError, SchemaMismatchError


def align(
    df: DataFrame,
    schema: T.StructType,
    *,
    name: str,
    allow_new_columns: bool,
    keep: Sequence[str] = (),
) -> tuple[DataFrame, T.StructType]:
    """Select ``df``'s columns in table order; returns it and the (possibly widened) schema.

    Missing nullable columns are filled with NULL; new columns are allowed only when asked and
    only as nullable; any type difference is an error (cast in the transform instead). Columns
    in ``keep`` pass through at the end, unchecked (internal flags).
    """
    table_types = {f.name: f for f in schema.fields}
    incoming = {f.name: f.dataType for f in df.schema.fields if f.name not in keep}
    wrong = [
        f"'{c}' is {t.simpleString()}, expected {table_types[c].dataType.simpleString()}"
        for c, t in incoming.items()
        if c in table_types and t != table_types[c].dataType
    ]
    missing = [f.name for f in schema.fields if f.name not in incoming and not f.nullable]
    extra = [c for c in incoming if c not in table_types]
    if wrong or missing or (extra and not allow_new_columns):
        problems = wrong + [f"missing required column '{c}'" for c in missing]
        problems += [f"unexpected column '{c}'" for c in extra if not allow_new_columns]
        hint = "cast or select the columns to the contract"
        if extra and not allow_new_columns:
            hint += ", or pass schema_mode='add_columns' to add nullable columns"
        raise SchemaMismatchError(f"{name}: " + "; ".join(problems) + f"; {hint}")
    widened = T.StructType(
        [*schema.fields, *(T.StructField(c, incoming[c], nullable=True) for c in extra)]
    )
    columns = [
        F.col(f.name) if f.name in incoming else F.lit(None).cast(f.dataType).alias(f.name)
        for f in widened.fields
    ]
    return df.select(*columns, *keep), widened


def stage(
    df: DataFrame,
    storage: Storage,
    *,
    schema: T.StructType,
    partition_by: Sequence[str],
    max_records_per_file: int,
) -> tuple[str, list[DataFile]]:
    """Write ``df`` as Parquet under a fresh staging directory and describe each file. If the
    Spark job fails, the staging directory goes too (Spark's abort removes only its own
    ``_temporary`` files, not the directory it was asked to write)."""
    staging = storage.new_staging_dir()
    writer = df.write.mode("errorifexists").option("maxRecordsPerFile", max_records_per_file)
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    try:
        writer.parquet(storage.spark_path(staging))
        listed = storage.list_parquet(staging)
        files = describe_files(
            storage, listed, root=staging, schema=schema, partition_by=tuple(partition_by)
        )
    except BaseException:
        drop_staging(storage, staging)
        raise
    return staging, files


def check_not_null(files: Sequence[DataFile], schema: T.StructType, *, name: str) -> None:
    required = [f.name for f in schema.fields if not f.nullable]
    for file in files:
        for column in required:
            nulls = file.null_counts.get(column, 0)
            if nulls or (column in file.partition_values and file.partition_values[column] is None):
                raise SchemaMismatchError(
                    f"{name}: column '{column}' is NOT NULL but the data has NULLs; filter or "
                    "quarantine those rows before writing"
                )


def publish(storage: Storage, staging: str, files: Sequence[DataFile]) -> None:
    for file in files:
        storage.move(f"{staging}/{file.path}", file.path)


def unpublish(storage: Storage, files: Sequence[DataFile]) -> None:
    """Best effort after a failed commit: the files are invisible anyway, vacuum would take them."""
    for file in files:
        with contextlib.suppress(OSError):
            storage.delete_file(file.path)


def drop_staging(storage: Storage, staging: str) -> None:
    with contextlib.suppress(OSError):
        storage.delete_dir(staging)


def partitions_matching(
    spark: SparkSession,
    predicate: str,
    partitions: Sequence[dict[str, str | None]],
    *,
    schema: T.StructType,
    partition_by: Sequence[str],
    name: str,
) -> list[bool]:
    """Evaluate a SQL predicate on partition values with Spark's own SQL semantics.

    Runs on a small driver-side frame (one row per file), never on the data. The frame is built
    from Arrow, so it is a local relation: Spark evaluates the filter while it optimizes the
    query, without starting a job (a frame of Python rows would cost a job per call).
    """
    if not partition_by:
        raise PredicateError(f"{name}: replace_where needs a partitioned table; use overwrite")
    types = {f.name: f.dataType for f in schema.fields}
    columns = {"_i": pa.array(range(len(partitions)), pa.int64())}
    columns |= {c: pa.array([p.get(c) for p in partitions], pa.string()) for c in partition_by}
    frame = spark.createDataFrame(pa.table(columns))
    typed = frame.select("_i", *(F.col(c).cast(types[c]).alias(c) for c in partition_by))
    try:
        hits = {row["_i"] for row in typed.filter(F.expr(predicate)).select("_i").collect()}
    except (AnalysisException, ParseException) as err:
        first_line = str(err).strip().splitlines()[0]
        raise PredicateError(
            f"{name}: replace_where predicate {predicate!r} must be SQL over the partition "
            f"columns {list(partition_by)} ({first_line})"
        ) from None
    return [i in hits for i in range(len(partitions))]
