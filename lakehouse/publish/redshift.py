"""Idempotent loads of one run date into Redshift (PostgreSQL 15 stands in locally).

A load stages the date's rows in a temp table, checks them, then deletes the date and inserts
the stage in ONE transaction: readers see the old rows or the new ones, and a failure at any
step leaves the old rows in place. Rows reach the stage one of two ways (redshift.load_method):

- ``client``: this process streams them as CSV over the connection (COPY FROM STDIN). PostgreSQL
  only: Redshift has no COPY FROM STDIN.
- ``s3``: Redshift reads the Parquet files lakehouse.publish.s3 wrote (COPY ... FORMAT AS
  PARQUET, assuming redshift.iam_role), the way bulk loads into Redshift are meant to run.

The statements are built in lakehouse.publish.statements. Primary keys are declared in the
DDL; PostgreSQL enforces them, Redshift only records them, so duplicates are checked in the
stage explicitly. Two loads of one date at once cannot both land: PostgreSQL's key refuses the
second insert, Redshift's serializable isolation aborts one of the transactions.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import Literal

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.errors import PublishError, SchemaMismatchError, SourceUnavailableError
from lakehouse.publish._rows import rows_for_date
from lakehouse.publish.statements import (
    column_type,
    copy_from_s3_sql,
    copy_from_stdin_sql,
    create_table_sql,
    duplicate_keys_sql,
    replace_date_sql,
    stage_table_sql,
)

__all__ = ["LoadResult", "connect", "ensure_table", "load_run_date"]

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
    statement = duplicate_keys_sql(contract, stage)
    duplicates = conn.execute(statement).fetchall() if statement else []
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
