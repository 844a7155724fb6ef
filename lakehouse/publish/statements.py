"""The SQL lakehouse.publish.redshift sends, composed with psycopg.sql: identifiers quoted,
values as literals, so the exact text is what the unit tests read. Only SQL that both Redshift
and PostgreSQL 15 (the local stand-in) accept, except COPY, which differs by nature: COPY FROM
STDIN exists only in PostgreSQL, COPY FROM 's3://...' only in Redshift."""

from __future__ import annotations

import datetime as dt
import re

from psycopg import sql
from pyspark.sql import types as T

from lakehouse.contracts import TableContract
from lakehouse.errors import ConfigError, ContractError
from lakehouse.publish._rows import file_columns, partition_column

__all__ = [
    "column_type",
    "copy_from_s3_sql",
    "copy_from_stdin_sql",
    "create_table_sql",
    "duplicate_keys_sql",
    "replace_date_sql",
    "stage_table_sql",
]

DEFAULT_VARCHAR = 256
# Spark type -> the SQL type both Redshift and PostgreSQL accept. Timestamps are UTC instants
# stored as TIMESTAMP (no zone), as Redshift's COPY loads Parquet's UTC-adjusted timestamps.
_TYPES: dict[type[T.DataType], str] = {
    T.BooleanType: "BOOLEAN",
    T.ShortType: "SMALLINT",
    T.IntegerType: "INTEGER",
    T.LongType: "BIGINT",
    T.FloatType: "REAL",
    T.DoubleType: "DOUBLE PRECISION",
    T.DateType: "DATE",
    T.TimestampType: "TIMESTAMP",
    T.TimestampNTZType: "TIMESTAMP",
}
_IAM_ROLE = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")


def column_type(field: T.StructField, contract: TableContract) -> str:
    if isinstance(field.dataType, T.StringType):
        return f"VARCHAR({_varchar_lengths(contract).get(field.name, DEFAULT_VARCHAR)})"
    if isinstance(field.dataType, T.DecimalType):
        return f"DECIMAL({field.dataType.precision},{field.dataType.scale})"
    name = _TYPES.get(type(field.dataType))
    if name is None:
        raise ContractError(
            f"{contract.name}: column '{field.name}' is {field.dataType.simpleString()}, which "
            "has no Redshift type here; publish it as a string or a scalar column"
        )
    return name


def _varchar_lengths(contract: TableContract) -> dict[str, int]:
    spec = contract.properties.get("redshift.varchar", "")
    try:
        pairs = [item.split("=") for item in spec.split(",") if item.strip()]
        return {name.strip(): int(length) for name, length in pairs}
    except ValueError:
        raise ContractError(
            f"{contract.name}: property redshift.varchar={spec!r}; write 'column=length,...'"
        ) from None


def _column_defs(contract: TableContract, names: list[str]) -> sql.Composed:
    fields = {f.name: f for f in contract.schema.fields}
    return sql.SQL(", ").join(
        sql.SQL("{} {}{}").format(
            sql.Identifier(name),
            sql.SQL(column_type(fields[name], contract)),
            sql.SQL("" if fields[name].nullable else " NOT NULL"),
        )
        for name in names
    )


def create_table_sql(contract: TableContract, *, schema: str) -> sql.Composed:
    """CREATE TABLE for the contract. Redshift picks sort and distribution keys itself
    (AUTO), so none are declared."""
    key = sql.SQL("")
    if contract.primary_key:
        key = sql.SQL(", PRIMARY KEY ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, contract.primary_key))
        )
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}{})").format(
        sql.Identifier(schema, contract.entity),
        _column_defs(contract, list(contract.column_names)),
        key,
    )


def stage_table_sql(contract: TableContract, stage: str) -> sql.Composed:
    """The temp stage: the published file's columns, in its order (COPY from Parquet maps
    columns by position), with the contract's NOT NULLs."""
    return sql.SQL("CREATE TEMP TABLE {} ({})").format(
        sql.Identifier(stage), _column_defs(contract, file_columns(contract))
    )


def copy_from_stdin_sql(contract: TableContract, stage: str) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
        sql.Identifier(stage), sql.SQL(", ").join(map(sql.Identifier, file_columns(contract)))
    )


def copy_from_s3_sql(stage: str, *, uri: str, iam_role: str | None) -> sql.Composed:
    """Redshift's COPY of one date's Parquet prefix into the stage. No column list and no
    REGION: Redshift accepts neither for Parquet (the bucket must be in the cluster's region)."""
    if not uri.startswith("s3://") or any(c in uri for c in "'\\\n\r"):
        raise ConfigError(f"{uri!r}: COPY reads from an s3:// URI without quotes or backslashes")
    if iam_role is None:
        raise ConfigError(
            "redshift.load_method is s3 but redshift.iam_role is unset; set "
            "LAKEHOUSE__REDSHIFT__IAM_ROLE to the ARN of the role Redshift assumes to read S3"
        )
    roles = iam_role.split(",")  # a chain of roles is written comma-separated
    if iam_role == "default":
        role = sql.SQL("default")  # the cluster's default role, written as a keyword
    elif all(_IAM_ROLE.fullmatch(r) for r in roles):
        role = sql.Literal(iam_role)
    else:
        raise ConfigError(
            f"redshift.iam_role {iam_role!r} is not 'default' or an IAM role ARN "
            "(arn:aws:iam::<12-digit account>:role/<name>); fix LAKEHOUSE__REDSHIFT__IAM_ROLE"
        )
    return sql.SQL("COPY {} FROM {} IAM_ROLE {} FORMAT AS PARQUET").format(
        sql.Identifier(stage), sql.Literal(uri), role
    )


def duplicate_keys_sql(contract: TableContract, stage: str) -> sql.Composed | None:
    """Up to three keys the stage holds twice; None for a contract without a key."""
    keys = [k for k in contract.primary_key if k != partition_column(contract)]
    if not keys:
        return None
    columns = sql.SQL(", ").join(map(sql.Identifier, keys))
    return sql.SQL("SELECT {}, COUNT(*) FROM {} GROUP BY {} HAVING COUNT(*) > 1 LIMIT 3").format(
        columns, sql.Identifier(stage), columns
    )


def replace_date_sql(
    contract: TableContract, stage: str, *, schema: str, run_date: dt.date
) -> tuple[sql.Composed, sql.Composed]:
    """DELETE the run date, then INSERT the stage with the run date as its partition value."""
    target = sql.Identifier(schema, contract.entity)
    partition = partition_column(contract)
    day = sql.Literal(run_date)
    delete = sql.SQL("DELETE FROM {} WHERE {} = {}").format(target, sql.Identifier(partition), day)
    insert = sql.SQL("INSERT INTO {} ({}) SELECT {}, {} FROM {}").format(
        target,
        sql.SQL(", ").join(map(sql.Identifier, [partition, *file_columns(contract)])),
        day,
        sql.SQL(", ").join(map(sql.Identifier, file_columns(contract))),
        sql.Identifier(stage),
    )
    return delete, insert
