"""One run date's rows checked against a score table's contract before they leave the lakehouse.

Both targets (Parquet on S3, Redshift) take the same shape: the contract's columns minus the
partition column, in contract order, typed as the contract says. The partition value lives in
the S3 path (Hive layout, as Spark and pyarrow read it) and is supplied by the loader in
Redshift, whose COPY from Parquet maps file columns to table columns by position.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.pandas.types import to_arrow_schema

from lakehouse.contracts import TableContract
from lakehouse.errors import ContractError, PublishError, SchemaMismatchError

__all__ = ["file_columns", "partition_column", "rows_for_date"]


def partition_column(contract: TableContract) -> str:
    """The one date column a published table is partitioned by (score_date)."""
    if len(contract.partition_by) != 1:
        raise ContractError(
            f"{contract.name}: published tables are partitioned by exactly one date column, "
            f"found {list(contract.partition_by)}"
        )
    return contract.partition_by[0]


def file_columns(contract: TableContract) -> list[str]:
    """The columns of a published Parquet file and of the Redshift stage table, in order."""
    partition = partition_column(contract)
    return [name for name in contract.column_names if name != partition]


def rows_for_date(rows: pa.Table, contract: TableContract, *, run_date: dt.date) -> pa.Table:
    """``rows`` cast to the contract's types, checked, without the partition column.

    Raises SchemaMismatchError for a missing, extra or uncastable column or a NULL in a NOT
    NULL column, and PublishError for a row of another date: loading it would leave that
    date with duplicates, since only ``run_date`` is replaced.
    """
    schema = to_arrow_schema(contract.schema, timezone="UTC")
    missing = [name for name in schema.names if name not in rows.column_names]
    extra = [name for name in rows.column_names if name not in schema.names]
    if missing or extra:
        raise SchemaMismatchError(
            f"{contract.name} v{contract.version}: rows to publish lack {missing} and have "
            f"unknown {extra}; select exactly the contract's columns {list(schema.names)}"
        )
    columns = [_cast(rows.column(field.name), field, contract) for field in schema]
    partition = partition_column(contract)
    dates = columns[schema.get_field_index(partition)]
    other = pc.sum(pc.not_equal(dates, pa.scalar(run_date, pa.date32()))).as_py() or 0
    if other:
        raise PublishError(
            f"{contract.name}: {other} row(s) have {partition} other than {run_date}; publish "
            "one date at a time (filter the rows on the run date)"
        )
    kept = [(f, c) for f, c in zip(schema, columns, strict=True) if f.name != partition]
    return pa.Table.from_arrays([c for _, c in kept], schema=pa.schema([f for f, _ in kept]))


def _cast(column: pa.ChunkedArray, field: pa.Field, contract: TableContract) -> pa.ChunkedArray:
    try:
        cast = column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise SchemaMismatchError(
            f"{contract.name} v{contract.version}: column '{field.name}' is {column.type}, "
            f"expected {field.type}, and does not convert ({_first_line(err)}); fix the job "
            "that produced it"
        ) from None
    if not field.nullable and cast.null_count:
        raise SchemaMismatchError(
            f"{contract.name} v{contract.version}: column '{field.name}' is NOT NULL but "
            f"{cast.null_count} row(s) have no value; fix the job that produced them"
        )
    return cast


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
