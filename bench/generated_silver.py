"""Silver-shaped tables straight from the generator's clean data, without running ingest.

The feature store's tests and benchmark need months of history; building it through the
daily jobs would take minutes per test. These are the rows the pipeline would hold in silver
for clean input (the ingest path itself is tested against the same generator elsewhere):
merchants standardized with the generator's own truth, ids as generated, no defects.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.generate import GeneratedData

__all__ = [
    "bronze_order_versions",
    "silver_accounts",
    "silver_customers",
    "silver_orders",
    "silver_transactions",
]

RUN_ID = "generated"


def silver_transactions(data: GeneratedData) -> pa.Table:
    """Every generated transaction in silver.transactions' columns and types."""
    from schemas.transactions import SILVER_TRANSACTIONS

    txns = _plain(data.transactions)
    merchants = pq.read_table(data.truth / "merchants.parquet").rename_columns(
        ["merchant_raw", "merchant", "merchant_category"]
    )
    joined = txns.join(merchants, "merchant_raw", join_type="left outer")
    columns = {
        **{name: joined[name] for name in joined.column_names},
        "txn_date": pc.cast(joined["txn_ts"], pa.date32()),
        "_run_id": pa.array([RUN_ID] * joined.num_rows),
    }
    return _typed(columns, SILVER_TRANSACTIONS).sort_by("txn_id")


def silver_orders(data: GeneratedData) -> pa.Table:
    """The latest version of every generated order, as silver.orders holds it."""
    from lakehouse.generate.mysql_sink import state_as_of
    from schemas.shop import SILVER_SHOP

    orders = _plain(state_as_of(data.orders, ("order_id",), None))
    columns = {
        **{name: orders[name] for name in orders.column_names},
        "order_date": pc.cast(orders["order_ts"], pa.date32()),
        "_run_id": pa.array([RUN_ID] * orders.num_rows),
    }
    return _typed(columns, SILVER_SHOP["orders"])


def bronze_order_versions(data: GeneratedData) -> pa.Table:
    """Every version of every order, as the daily pulls land them in bronze.shop_orders
    (the last version of each day, pulled that day)."""
    from schemas.shop import SHOP_TABLES

    versions = _plain(data.orders).to_pandas()
    versions["_day"] = versions["updated_at"].dt.date
    # A pull sees the last version of each day only.
    versions = versions.sort_values(["order_id", "updated_at"]).drop_duplicates(
        ["order_id", "_day"], keep="last"
    )
    versions = pa.Table.from_pandas(versions.drop(columns="_day"), preserve_index=False)
    columns = {
        **{name: versions[name] for name in versions.column_names},
        "_run_id": pa.array([RUN_ID] * versions.num_rows),
        "_run_date": pc.cast(versions["updated_at"], pa.date32()),
    }
    return _typed(columns, SHOP_TABLES["orders"])


def silver_customers(data: GeneratedData) -> pa.Table:
    """Every generated customer version as silver.customers' SCD2 rows: valid from its
    updated_at until the customer's next version. PII columns are left NULL (the models read
    none of them); birth_year comes from the date of birth as the silver job derives it."""
    from schemas.customers import SILVER_CUSTOMERS

    plain = _plain(data.customers)
    plain = plain.append_column("birth_year", pc.year(plain["date_of_birth"]))
    versions = plain.to_pandas().sort_values(["customer_id", "updated_at"])
    versions["valid_from"] = versions["updated_at"]
    versions["valid_to"] = versions.groupby("customer_id")["updated_at"].shift(-1)
    versions["is_current"] = versions["valid_to"].isna()
    kept = pa.Table.from_pandas(versions, preserve_index=False)
    pii = [name for name in SILVER_CUSTOMERS.pii if name in kept.column_names]
    columns = {name: kept[name] for name in kept.column_names if name not in pii}
    columns |= {name: pa.nulls(kept.num_rows, pa.string()) for name in pii}
    return _typed(columns, SILVER_CUSTOMERS)


def silver_accounts(data: GeneratedData) -> pa.Table:
    """The latest version of every generated account (status active or closed), as
    silver.accounts holds it."""
    from lakehouse.generate.mysql_sink import state_as_of
    from schemas.shop import SILVER_SHOP

    accounts = _plain(state_as_of(data.accounts, ("account_id",), None))
    columns = {
        **{name: accounts[name] for name in accounts.column_names},
        "_run_id": pa.array([RUN_ID] * accounts.num_rows),
    }
    return _typed(columns, SILVER_SHOP["accounts"])


def _plain(table: pa.Table) -> pa.Table:
    """Dictionary columns decoded, timestamps naive UTC (Spark's TimestampType)."""
    columns = {}
    for name in table.column_names:
        column = table[name]
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        columns[name] = column
    return pa.table(columns)


def _typed(columns: dict, contract) -> pa.Table:
    from pyspark.sql.pandas.types import to_arrow_schema

    schema = to_arrow_schema(contract.schema, timezone="UTC")
    schema = pa.schema([f.with_type(_naive(f.type)) for f in schema])
    return pa.table({f.name: pc.cast(columns[f.name], f.type) for f in schema}, schema=schema)


def _naive(dtype: pa.DataType) -> pa.DataType:
    return pa.timestamp("us") if pa.types.is_timestamp(dtype) else dtype
