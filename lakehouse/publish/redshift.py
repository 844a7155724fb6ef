"""Idempotent loads of one run date into Redshift (PostgreSQL 15 stands in locally).

A load stages the date's rows in a temp table, checks them, then deletes the date and inserts
the stage in ONE transaction: readers see the old rows or the new ones, and a failure at any
step leaves the old rows in place. Rows reach the stage one of two ways (redshift.load_method):

- ``client``: this process streams them as CSV over the connection (COPY FROM STDIN). PostgreSQL
  only: Redshift has no COPY FROM STDIN.
- ``s3``: Redshift reads the Parquet files lakehouse.publish.s3 wrote (COPY ... FORMAT AS
  PARQUET, assuming redshift.iam_role), the way bulk loads into Redshift are meant to run.

Every statement is composed with psycopg.sql (identifiers quoted, values as literals), so the
exact text sent is what the unit tests read. Primary keys are declared in the DDL; PostgreSQL
enforces them, Redshift only records them, so duplicates are checked in the stage explicitly.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Literal

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql
from pyspark.sql import types as T

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.errors import (
    ConfigError,
    ContractError,
    PublishError,
    SchemaMismatchError,
    SourceUnavailableError,
)
from lakehouse.publish._rows import file_columns, partition_column, rows_for_date

__all__ = [
    "LoadResult",
    "connect",
    "copy_from_s3_sql",
    "create_table_sql",
    "ensure_table",
    "load_run_date",
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
_CSV_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class LoadResult:
    table: str  # schema.table in Redshift
    run_date: dt.date
    rows_deleted: int
    rows_loaded: int
    method: Literal["client", "s3"]


def connect(cfg: Config) -> psycopg.Connection:
    """An autocommit connection to cfg.redshift; loads open their own transaction."""
    rs = cfg.redshift
    try:
        return psycopg.connect(
            host=rs.host,
            port=rs.port,
            dbname=rs.database,
            user=rs.user,
            password=rs.password.get_secret_value() if rs.password else None,
            connect_timeout=rs.connect_timeout,
            application_name="lakehouse-publish",
            autocommit=True,
        )
    except psycopg.OperationalError as err:
        raise SourceUnavailableError(
            f"redshift {rs.user}@{rs.host}:{rs.port}/{rs.database} does not answer "
            f"({_first_line(err)}); locally run `lakehouse services up postgres`"
        ) from None


# -- statements --------------------------------------------------------------------------------
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


def duplicate_keys_sql(contract: TableContract, stage: str) -> sql.Composed:
    keys = [k for k in contract.primary_key if k != partition_column(contract)]
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


# -- doing it ----------------------------------------------------------------------------------
def ensure_table(conn: psycopg.Connection, contract: TableContract, *, schema: str) -> None:
    """Create the schema and table if missing; add the contract's new nullable columns to an
    existing table (an additive contract version). Other differences are errors."""
    if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone():
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    existing = [
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
            (schema, contract.entity),
        )
    ]
    if not existing:
        conn.execute(create_table_sql(contract, schema=schema))
        return
    new = [f for f in contract.schema.fields if f.name not in existing]
    dropped = [name for name in existing if name not in contract.column_names]
    if dropped or any(not f.nullable for f in new):
        raise SchemaMismatchError(
            f"{schema}.{contract.entity}: the Redshift table's columns {existing} differ from "
            f"contract {contract.name} v{contract.version} beyond new nullable columns; "
            "migrate the table by hand or publish the contract under a new table name"
        )
    for field in new:
        conn.execute(
            sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
                sql.Identifier(schema, contract.entity),
                sql.Identifier(field.name),
                sql.SQL(column_type(field, contract)),
            )
        )


def load_run_date(
    rows: pa.Table,
    contract: TableContract,
    *,
    cfg: Config,
    run_date: dt.date,
    s3_uri: str | None = None,
) -> LoadResult:
    """Replace ``run_date``'s rows of the contract's Redshift table with ``rows``.

    With redshift.load_method ``s3`` the rows are read from ``s3_uri`` (the prefix
    lakehouse.publish.s3.write_run_date returned for the same rows); ``rows`` then only
    serves to check the count Redshift loaded.
    """
    method = cfg.redshift.load_method
    checked = rows_for_date(rows, contract, run_date=run_date)
    schema = cfg.redshift.schema_name
    stage = f"stage_{contract.entity}"
    if method == "s3":
        if s3_uri is None:
            raise PublishError(
                f"{contract.name}: redshift.load_method is s3; publish {run_date} to S3 "
                "first and pass its URI (lakehouse.publish.publish_run_date does both)"
            )
        fill = copy_from_s3_sql(stage, uri=s3_uri, iam_role=cfg.redshift.iam_role)
    delete, insert = replace_date_sql(contract, stage, schema=schema, run_date=run_date)
    with connect(cfg) as conn:
        try:
            ensure_table(conn, contract, schema=schema)
            with conn.transaction():
                conn.execute(stage_table_sql(contract, stage))
                if method == "s3":
                    conn.execute(fill)
                else:
                    _copy_rows(conn, checked, copy_from_stdin_sql(contract, stage))
                _check_stage(conn, contract, stage, expected=checked.num_rows)
                deleted = conn.execute(delete).rowcount
                loaded = conn.execute(insert).rowcount
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(stage)))
        except psycopg.Error as err:
            raise PublishError(
                f"{schema}.{contract.entity} {run_date}: the load failed and was rolled back, "
                f"the date keeps its previous rows ({_first_line(err)})"
            ) from err
    return LoadResult(f"{schema}.{contract.entity}", run_date, deleted, loaded, method)


def _copy_rows(conn: psycopg.Connection, rows: pa.Table, statement: sql.Composed) -> None:
    """Stream the rows as CSV (Arrow writes it in C): strings are always quoted, so an empty
    string stays '' and only an unquoted empty field is NULL, as PostgreSQL's CSV reads it."""
    options = pacsv.WriteOptions(include_header=False)
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for batch in rows.to_batches(max_chunksize=_CSV_BATCH_ROWS):
            buffer = io.BytesIO()
            pacsv.write_csv(batch, buffer, write_options=options)
            copy.write(buffer.getbuffer())


def _check_stage(
    conn: psycopg.Connection, contract: TableContract, stage: str, *, expected: int
) -> None:
    duplicates = conn.execute(duplicate_keys_sql(contract, stage)).fetchall()
    if duplicates:
        raise PublishError(
            f"{contract.name}: the rows repeat primary key {contract.primary_key}, e.g. "
            f"{[tuple(d[:-1]) for d in duplicates]}; nothing was loaded, fix the job"
        )
    staged = conn.execute(sql.SQL("SELECT COUNT(*) FROM {}").format(sql.Identifier(stage)))
    count = staged.fetchone()[0]
    if count != expected:
        # S3 path: files other than the ones just published, or a partial listing.
        raise PublishError(
            f"{contract.name}: staged {count} rows, expected {expected}; nothing was loaded, "
            "check the date's S3 prefix holds only the published file"
        )


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
