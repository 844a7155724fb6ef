"""Gold aggregates as pure transforms: silver DataFrames and the run date in, the rows of the
gold partitions that run date owns out. jobs/build_gold.py reads silver and replaces exactly
those partitions, so a re-run is idempotent.

Orders keep changing after the day they are placed (cancelled within hours, shipped, delivered
and returned within about two and a half weeks), so the order-date tables restate a trailing
window: a run rebuilds the last ``RESTATED_DAYS`` order dates from the silver it sees. The
snapshots (top customers) use the customer versions valid at the end of the run date.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

__all__ = [
    "RESTATED_DAYS",
    "customer_monthly",
    "daily_sales",
    "order_funnel",
    "owned_dates",
    "top_customers",
]

UNKNOWN = "unknown"
WINDOW_DAYS = 30
# Order dates each run rebuilds: cancellations land within a day; returns within ~17 days.
RESTATED_DAYS = {"daily_sales": 7, "order_funnel": 30}


def owned_dates(table: str, run_date: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last partition date a run of ``run_date`` replaces in gold.<table>."""
    if table == "customer_monthly":
        return run_date.replace(day=1), run_date.replace(day=1)
    days = RESTATED_DAYS.get(table, 1)
    return run_date - dt.timedelta(days=days - 1), run_date


def _owned(column: str, table: str, run_date: dt.date) -> Column:
    first, last = owned_dates(table, run_date)
    return F.col(column).between(F.lit(first), F.lit(last))


def _as_of_version(at: Column) -> Column:
    """Join condition: the customer version valid at ``at`` (SCD2 valid_from/valid_to)."""
    starts = F.col("c.valid_from") <= at
    ends = F.col("c.valid_to").isNull() | (at < F.col("c.valid_to"))
    return (F.col("o.customer_id") == F.col("c.customer_id")) & starts & ends


def daily_sales(
    orders: DataFrame,
    items: DataFrame,
    products: DataFrame,
    customers: DataFrame,
    *,
    run_date: dt.date,
) -> DataFrame:
    """Sales of the orders placed in the restated window up to ``run_date`` (not cancelled),
    by order date, the customer's region as of the order, product category and currency."""
    in_window = _owned("order_date", "daily_sales", run_date)
    placed = orders.where(in_window & (F.col("status") != "cancelled"))
    regions = placed.alias("o").join(
        customers.alias("c"), on=_as_of_version(F.col("o.order_ts")), how="left"
    )
    located = regions.select(
        "o.order_id",
        "o.order_date",
        "o.currency",
        "o.customer_id",
        F.coalesce("c.region", F.lit(UNKNOWN)).alias("region"),
    )
    lines = items.join(products.select("product_id", "category"), on="product_id", how="left")
    sold = located.join(lines, on="order_id", how="inner").withColumn(
        "category", F.coalesce("category", F.lit(UNKNOWN))
    )
    return sold.groupBy("order_date", "region", "category", "currency").agg(
        F.countDistinct("order_id").alias("orders"),
        F.sum("quantity").cast("long").alias("units"),
        F.sum(F.col("quantity") * F.col("unit_price")).cast("decimal(18,2)").alias("revenue"),
        F.countDistinct("customer_id").alias("customers"),
    )


def customer_monthly(transactions: DataFrame, *, run_date: dt.date) -> DataFrame:
    """Each customer's cash flow in ``run_date``'s month up to and including ``run_date``."""
    month = run_date.replace(day=1)
    in_month = (F.col("txn_date") >= F.lit(month)) & (F.col("txn_date") <= F.lit(run_date))
    rows = transactions.where(in_month)
    debit = F.col("amount") < 0
    totals = rows.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("transactions"),
        F.sum(F.when(~debit, F.col("amount")).otherwise(0)).alias("inflow"),
        F.sum(F.when(debit, -F.col("amount")).otherwise(0)).alias("outflow"),
        F.sum("amount").alias("net"),
        F.countDistinct("txn_date").alias("active_days"),
    )
    return totals.join(_top_category(rows.where(debit)), on="customer_id", how="left").select(
        F.lit(month).alias("month"),
        "customer_id",
        "transactions",
        *(F.col(c).cast("decimal(18,2)").alias(c) for c in ("inflow", "outflow", "net")),
        "active_days",
        "top_category",
    )


def _top_category(debits: DataFrame) -> DataFrame:
    """The merchant category with the largest outflow per customer (ties: alphabetical)."""
    category = F.coalesce("merchant_category", "category", F.lit(UNKNOWN))
    spent = debits.groupBy("customer_id", category.alias("top_category")).agg(
        F.sum(-F.col("amount")).alias("_spent")
    )
    best_first = Window.partitionBy("customer_id").orderBy(
        F.col("_spent").desc(), F.col("top_category")
    )
    ranked = spent.withColumn("_rank", F.row_number().over(best_first))
    return ranked.where(F.col("_rank") == 1).select("customer_id", "top_category")


def order_funnel(orders: DataFrame, *, run_date: dt.date) -> DataFrame:
    """Per order date (restated for 30 days) and channel: orders placed and how many have
    reached each stage so far (delivered implies shipped, returned implies both)."""
    recent = orders.where(_owned("order_date", "order_funnel", run_date))
    status = F.col("status")

    def reached(*statuses: str) -> Column:
        return F.count(F.when(status.isin(*statuses), F.lit(1))).alias(statuses[0])

    return recent.groupBy("order_date", "channel").agg(
        F.count(F.lit(1)).alias("placed"),
        reached("cancelled"),
        reached("shipped", "delivered", "returned"),
        reached("delivered", "returned"),
        reached("returned"),
    )


def top_customers(
    transactions: DataFrame,
    orders: DataFrame,
    customers: DataFrame,
    *,
    run_date: dt.date,
    top: int = 100,
) -> DataFrame:
    """The ``top`` customers by outflow over the 30 days up to ``run_date``."""
    start = run_date - dt.timedelta(days=WINDOW_DAYS - 1)
    recent = transactions.where(F.col("txn_date").between(F.lit(start), F.lit(run_date)))
    spend = (
        recent.where(F.col("amount") < 0)
        .groupBy("customer_id")
        .agg(
            F.sum(-F.col("amount")).cast("decimal(18,2)").alias("spend_30d"),
            F.count(F.lit(1)).alias("transactions_30d"),
        )
    )
    shopped = orders.where(F.col("order_date").between(F.lit(start), F.lit(run_date)))
    order_counts = shopped.groupBy("customer_id").agg(F.count(F.lit(1)).alias("orders_30d"))
    end_of_day = F.lit(
        dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    )
    valid = (F.col("valid_from") < end_of_day) & (
        F.col("valid_to").isNull() | (F.col("valid_to") >= end_of_day)
    )
    current = customers.where(valid).select("customer_id", "region", "income_band")
    # One global ordering: fine for a spend table of one row per customer.
    by_spend = Window.orderBy(F.col("spend_30d").desc(), F.col("customer_id"))
    ranked = spend.withColumn("rank", F.row_number().over(by_spend).cast("int"))
    ranked = ranked.where(F.col("rank") <= top)
    joined = ranked.join(order_counts, on="customer_id", how="left").join(
        current, on="customer_id", how="left"
    )
    return joined.select(
        F.lit(run_date).alias("as_of_date"),
        "rank",
        "customer_id",
        "spend_30d",
        "transactions_30d",
        F.coalesce("orders_30d", F.lit(0)).cast("long").alias("orders_30d"),
        "region",
        "income_band",
    )
