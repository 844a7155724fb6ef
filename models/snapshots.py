"""Customer snapshots for the segmentation and next-best-offer models.

A snapshot of date ``D`` is one row per customer holding an account open at the end of ``D``
with a transaction in the ``active_days`` up to it (the churn model's population), observed
just after ``D`` ends: the feature store's daily views of ``D`` (nothing later), the
silver.customers version valid then (birth year, credit and income bands, signup date) and
the products the customer held on ``D`` (silver.accounts).

    snapshots = load_customer_snapshots(store, [d1, d2], active_days=30, products=PRODUCTS)
    features = customer_features(snapshots.rows)           # pure: what the models read
    opened = products_opened(snapshots.accounts, snapshots.rows, horizon_days=30, ...)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from feature_store.transforms import SPEND_CATEGORIES
from lakehouse.errors import ModelInputError, SourceUnavailableError, TableNotFoundError
from models.training_set import (
    check_materialized,
    churn_population,
    model_features,
    observed_at,
    read_accounts,
)

__all__ = [
    "ACCOUNTS",
    "CREDIT_BANDS",
    "CUSTOMERS",
    "INCOME_BANDS",
    "SNAPSHOT_VIEWS",
    "CustomerSnapshots",
    "customer_features",
    "load_customer_snapshots",
    "products_held",
    "products_opened",
    "require_columns",
]

KEY, SNAPSHOT, EVENT_TS = "customer_id", "snapshot_date", "event_ts"
TRANSACTIONS, CUSTOMERS, ACCOUNTS = "silver.transactions", "silver.customers", "silver.accounts"
SNAPSHOT_VIEWS = (
    "customer_spend",
    "customer_lifestyle",
    "customer_activity",
    "customer_cashflow",
    "customer_income",
)
ATTRIBUTES = ("birth_year", "credit_score_band", "income_band", "signup_date")
# The bands silver.customers carries, lowest first (the generator's and the source's order).
CREDIT_BANDS = ("poor", "fair", "good", "very_good", "excellent")
INCOME_BANDS = ("<20k", "20-40k", "40-70k", "70-120k", "120k+")
CLOSED = "closed"


@dataclass(frozen=True, eq=False)
class CustomerSnapshots:
    rows: pd.DataFrame  # customer_id, snapshot_date, view features, attributes, held_<product>
    accounts: pd.DataFrame  # customer_id, product_code, opened_date, closed_date (NaT: open)
    tables: dict[str, int]  # Delta table -> version read (lineage)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], *, model: str) -> None:
    """Raise ModelInputError naming the columns ``model`` needs that ``frame`` lacks."""
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise ModelInputError(
            f"{model}: input rows lack column(s) {missing}; build them with the model's "
            f"feature loader (models/{model}.py) or add the feature views they come from"
        )


def load_customer_snapshots(
    store,
    dates: Sequence[dt.date],
    *,
    active_days: int,
    products: Sequence[str],
    views: Sequence[str] = SNAPSHOT_VIEWS,
) -> CustomerSnapshots:
    """The snapshots of ``dates`` collected to pandas (see the module docstring). Raises
    SourceUnavailableError when a silver table or a date's feature views are missing."""
    warehouse, spark = store.warehouse, store.spark
    dates = sorted(set(dates))
    check_materialized(warehouse, store.registry, dates, views)
    tables = {name: _table(warehouse, name) for name in (TRANSACTIONS, CUSTOMERS, ACCOUNTS)}
    customer_days = tables[TRANSACTIONS].to_spark(spark, columns=[KEY, "txn_date"])
    entities = _customers_on(store, customer_days, dates, active_days=active_days)
    numeric = model_features(store.registry, views)
    featured = store.get_historical_features(entities, list(views))
    customers = tables[CUSTOMERS].to_spark(
        spark, columns=[KEY, *ATTRIBUTES, "valid_from", "valid_to"]
    )
    rows = _with_attributes(featured, customers).select(
        KEY, SNAPSHOT, *(F.col(n).cast("double").alias(n) for n in numeric), *ATTRIBUTES
    )
    collected = rows.toPandas().sort_values([SNAPSHOT, KEY], ignore_index=True)
    accounts = _accounts(tables[ACCOUNTS].to_spark(spark).toPandas())
    collected = pd.concat(
        [collected, products_held(accounts, collected, products=products)], axis=1
    )
    versions = {name: table.version for name, table in tables.items()}
    versions |= {
        v.offline_table: warehouse.table(v.offline_table).version
        for v in store.registry.materialized_views(list(views))
    }
    return CustomerSnapshots(rows=collected, accounts=accounts, tables=versions)


def _table(warehouse, name: str):
    try:
        return warehouse.table(name)
    except TableNotFoundError:
        raise SourceUnavailableError(
            f"{name} does not exist yet: run the daily batch first (lakehouse batch --run-date D)"
        ) from None


def _customers_on(store, customer_days: DataFrame, dates, *, active_days: int) -> DataFrame:
    """customer_id, snapshot_date, event_ts of the customers of each date: an account open at
    its end and a transaction in the ``active_days`` up to it (the churn model's population,
    models.training_set.churn_population), observed just after the date ends."""
    population = churn_population(
        customer_days,
        read_accounts(store.warehouse, store.spark),
        dates,
        active_days=active_days,
    )
    stamps = store.spark.createDataFrame(
        [(d, observed_at(d)) for d in dates], f"{SNAPSHOT} date, {EVENT_TS} timestamp"
    )
    return population.join(F.broadcast(stamps), on=SNAPSHOT, how="inner").select(
        KEY, SNAPSHOT, EVENT_TS
    )


def _with_attributes(rows: DataFrame, customers: DataFrame) -> DataFrame:
    """``rows`` with the silver.customers version valid at each row's event_ts (SCD2:
    valid_from inclusive, valid_to exclusive); NULL attributes where none was valid."""
    versions = customers.withColumnRenamed(KEY, "_customer")
    is_valid = (
        (F.col("_customer") == F.col(KEY))
        & (F.col("valid_from") <= F.col(EVENT_TS))
        & (F.col("valid_to").isNull() | (F.col("valid_to") > F.col(EVENT_TS)))
    )
    return rows.join(versions, on=is_valid, how="left").drop("_customer", "valid_from", "valid_to")


def _accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    """silver.accounts holds each account's latest status: a closed account was closed on
    the day of that status (its updated_at). Dates as datetime64 (midnight)."""
    closed = accounts["status"] == CLOSED
    closed_on = pd.to_datetime(accounts["updated_at"]).dt.normalize()
    return pd.DataFrame(
        {
            KEY: accounts[KEY],
            "product_code": accounts["product_code"],
            "opened_date": pd.to_datetime(accounts["opened_date"]),
            "closed_date": closed_on.where(closed),
        }
    )


def products_held(
    accounts: pd.DataFrame, rows: pd.DataFrame, *, products: Sequence[str]
) -> pd.DataFrame:
    """held_<product> (bool) per row of ``rows`` (customer_id, snapshot_date): an account of
    the product opened by the snapshot date and not closed by then."""

    def held(opened, closed, day):
        return (opened <= day) & ~(closed.notna() & (closed <= day))

    return _flags(accounts, rows, products, "held", held)


def products_opened(
    accounts: pd.DataFrame, rows: pd.DataFrame, *, products: Sequence[str], horizon_days: int
) -> pd.DataFrame:
    """opened_<product> (bool) per row: an account of the product opened in
    (snapshot_date, snapshot_date + horizon_days]."""
    horizon = pd.Timedelta(days=horizon_days)

    def opened(opened, closed, day):
        return (opened > day) & (opened <= day + horizon)

    return _flags(accounts, rows, products, "opened", opened)


def _flags(accounts, rows, products, prefix: str, condition) -> pd.DataFrame:
    """One boolean column per product: does any of the row's customer's accounts of that
    product meet ``condition(opened_date, closed_date, snapshot_date)``."""
    keys = pd.DataFrame(
        {KEY: rows[KEY].to_numpy(), "_day": pd.to_datetime(rows[SNAPSHOT]).to_numpy()}
    ).reset_index(names="_row")
    joined = keys.merge(accounts, on=KEY, how="inner")
    met = condition(joined["opened_date"], joined["closed_date"], joined["_day"])
    hits = joined.loc[met.to_numpy(dtype=bool), ["_row", "product_code"]].drop_duplicates()
    flags = pd.DataFrame(False, index=keys["_row"], columns=[f"{prefix}_{p}" for p in products])
    for product in products:
        flags.loc[hits.loc[hits["product_code"] == product, "_row"], f"{prefix}_{product}"] = True
    return flags.set_axis(rows.index)


def customer_features(rows: pd.DataFrame) -> pd.DataFrame:
    """What the segmentation and offer models read, from snapshot rows: the share of each
    spending category in the last 30 days (of the categories' total), 90-day lifestyle
    shares, monthly income and spend, activity, age, bands and tenure. NaN where unknown."""
    categories = rows[[f"spend_{c}_30d" for c in SPEND_CATEGORIES]].fillna(0.0).clip(lower=0.0)
    total = categories.sum(axis=1)
    shares = categories.div(total.where(total > 0), axis=0).fillna(0.0)
    shares.columns = [f"share_{c}_30d" for c in SPEND_CATEGORIES]
    year = pd.to_datetime(rows[SNAPSHOT]).dt.year
    signup = pd.to_datetime(rows["signup_date"])
    net = rows["net_flow_30d"]
    features = pd.DataFrame(
        {
            **{c: shares[c] for c in shares.columns},
            "share_travel_90d": rows["share_travel_90d"].fillna(0.0),
            "share_luxury_90d": rows["share_luxury_90d"].fillna(0.0),
            "monthly_income": rows["regular_income_90d"].fillna(0.0),
            "log_income": np.log1p(rows["regular_income_90d"].fillna(0.0).clip(lower=0.0)),
            "spend_30d": rows["spend_sum_30d"].fillna(0.0),
            "log_spend_30d": np.log1p(rows["spend_sum_30d"].fillna(0.0).clip(lower=0.0)),
            "log_txn_30d": np.log1p(rows["txn_count_30d"].fillna(0.0)),
            "net_flow_30d": net,
            "log_net_flow_30d": np.sign(net) * np.log1p(net.abs()),
            "age": (year - rows["birth_year"]).astype(float),
            "credit_band": _rank(rows["credit_score_band"], CREDIT_BANDS),
            "income_band": _rank(rows["income_band"], INCOME_BANDS),
            "tenure_years": (pd.to_datetime(rows[SNAPSHOT]) - signup).dt.days / 365.25,
        },
        index=rows.index,
    )
    held = [c for c in rows.columns if c.startswith("held_")]
    return pd.concat([features, rows[held].astype(float)], axis=1)


def _rank(values: pd.Series, order: Sequence[str]) -> pd.Series:
    return values.map({band: float(i) for i, band in enumerate(order)}).astype(float)
