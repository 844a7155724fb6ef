"""Load the generated MariaDB side (the e-commerce arm's OLTP tables) into a real server.

Tables get primary keys and an index on ``updated_at`` (what incremental pulls filter on).
``load_mysql(data, up_to=day)`` upserts the state as of the end of that day, so loading day by
day shows later days updating earlier rows. Identifiers come from the constants below; every
data value travels as a query parameter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.errors import LakehouseError
from lakehouse.generate.spec import GeneratedData

__all__ = ["DDL", "PRIMARY_KEYS", "load_mysql", "state_as_of"]

PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "regions": ("region_id",),
    "suppliers": ("supplier_id",),
    "products": ("product_id",),
    "customers": ("customer_id",),
    "accounts": ("account_id",),
    "orders": ("order_id",),
    "order_items": ("order_id", "line_no"),
}
DDL: dict[str, str] = {
    "regions": "region_id VARCHAR(8) NOT NULL, name VARCHAR(64) NOT NULL, country CHAR(2) NOT NULL",
    "suppliers": (
        "supplier_id VARCHAR(8) NOT NULL, name VARCHAR(128) NOT NULL, region_id VARCHAR(8)"
    ),
    "products": (
        "product_id VARCHAR(12) NOT NULL, name VARCHAR(128) NOT NULL, category VARCHAR(32),"
        " supplier_id VARCHAR(8), unit_price DECIMAL(12,2)"
    ),
    "customers": (
        "customer_id VARCHAR(16) NOT NULL, first_name VARCHAR(64), last_name VARCHAR(64),"
        " email VARCHAR(128), phone VARCHAR(32), date_of_birth DATE, address VARCHAR(160),"
        " city VARCHAR(64), region VARCHAR(64), signup_date DATE, income_band VARCHAR(16),"
        " credit_score_band VARCHAR(16)"
    ),
    "accounts": (
        "account_id VARCHAR(16) NOT NULL, customer_id VARCHAR(16) NOT NULL,"
        " product_code VARCHAR(16), opened_date DATE, status VARCHAR(16)"
    ),
    "orders": (
        "order_id VARCHAR(16) NOT NULL, customer_id VARCHAR(16), order_ts DATETIME,"
        " status VARCHAR(16), channel VARCHAR(16), currency CHAR(3), total_amount DECIMAL(14,2)"
    ),
    "order_items": (
        "order_id VARCHAR(16) NOT NULL, line_no INT NOT NULL, product_id VARCHAR(12),"
        " quantity INT, unit_price DECIMAL(12,2)"
    ),
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def state_as_of(table: pa.Table, key: tuple[str, ...], up_to: date | None) -> pa.Table:
    """The latest version per key with ``updated_at`` up to the end of ``up_to`` (UTC)."""
    if up_to is not None:
        end = datetime.combine(up_to + timedelta(days=1), time(0), tzinfo=UTC)
        table = table.filter(
            pc.less(table["updated_at"], pa.scalar(end, table.schema.field("updated_at").type))
        )
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([*((k, "ascending") for k in key), ("updated_at", "ascending")])
    keys = [ordered[k].to_numpy(zero_copy_only=False) for k in key]
    last = np.ones(ordered.num_rows, dtype=bool)
    same_as_next = np.ones(ordered.num_rows - 1, dtype=bool)
    for values in keys:
        same_as_next &= values[1:] == values[:-1]
    last[:-1] = ~same_as_next
    return ordered.filter(pa.array(last))


def _rows(table: pa.Table, batch_size: int) -> Iterator[list[tuple]]:
    # pymysql wants naive datetimes; the values are UTC.
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(
                index, field.name, pc.cast(table[field.name], pa.timestamp("s"))
            )
    for batch in table.to_batches(max_chunksize=batch_size):
        columns = [col.to_pylist() for col in batch.columns]
        yield list(zip(*columns, strict=True))


def _create_sql(name: str) -> str:
    key = ", ".join(PRIMARY_KEYS[name])
    return (
        f"CREATE TABLE IF NOT EXISTS `{name}` ({DDL[name]}, updated_at DATETIME NOT NULL,"
        f" PRIMARY KEY ({key}), INDEX ix_{name}_updated_at (updated_at))"
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    )


def _upsert_sql(name: str, columns: list[str]) -> str:
    names = ", ".join(f"`{c}`" for c in columns)
    params = ", ".join(["%s"] * len(columns))
    updates = ", ".join(f"`{c}`=VALUES(`{c}`)" for c in columns if c not in PRIMARY_KEYS[name])
    return f"INSERT INTO `{name}` ({names}) VALUES ({params}) ON DUPLICATE KEY UPDATE {updates}"


def load_mysql(
    data: GeneratedData,
    *,
    host: str,
    port: int,
    user: str,
    password: str | None,
    database: str,
    up_to: date | None = None,
    batch_size: int = 5_000,
) -> dict[str, int]:
    """Create the tables if needed and upsert the state as of ``up_to`` (all of it if None).

    Returns the rows upserted per table. Re-running with the same ``up_to`` changes nothing.
    """
    import pymysql

    if not _IDENTIFIER.fullmatch(database):
        raise LakehouseError(
            f"MySQL database name {database!r} is not a plain identifier; use letters, digits, _"
        )
    try:
        conn = pymysql.connect(
            host=host,
            port=port,
            user=user,
            password=password or "",
            charset="utf8mb4",
            autocommit=False,
        )
    except pymysql.err.OperationalError as err:
        raise LakehouseError(
            f"MySQL at {host}:{port}: cannot connect as {user!r} ({err});"
            " start it with `lakehouse services start` or fix the mysql settings"
        ) from err
    loaded: dict[str, int] = {}
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{database}`")
            for name, key in PRIMARY_KEYS.items():
                cur.execute(_create_sql(name))
                rows = state_as_of(getattr(data, name), key, up_to)
                sql = _upsert_sql(name, rows.column_names)
                for batch in _rows(rows, batch_size):
                    cur.executemany(sql, batch)
                conn.commit()
                loaded[name] = rows.num_rows
    finally:
        conn.close()
    return loaded
