"""Gold aggregates as pure transforms: silver DataFrames and the run date in, the rows of one
gold partition out. jobs/build_gold.py reads silver and writes what these return.

Each function returns exactly the partition its run date owns (the order date, the month, or
the snapshot date), so replacing that partition makes a re-run idempotent.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

__all__ = ["customer_monthly", "daily_sales", "order_funnel", "top_customers"]

UNKNOWN = "unknown"
WINDOW_DAYS = 30


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
    """Sales of orders placed on ``run_date`` (not cancelled), by the customer's region as of
    the order, product category and currency."""
    placed = orders.where(
        (F.col("order_date") == F.lit(run_date)) & (F.col("status") != "cancelled")
    )
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
    """Orders placed in the 30 days up to ``run_date`` per order date and channel, and how
    many had reached each stage by then (delivered implies shipped, returned implies both)."""
    start = run_date - dt.timedelta(days=WINDOW_DAYS - 1)
    recent = orders.where(F.col("order_date").between(F.lit(start), F.lit(run_date)))
    status = F.col("status")

    def reached(*statuses: str) -> Column:
        return F.count(F.when(status.isin(*statuses), F.lit(1))).alias(statuses[0])

    return (
        recent.groupBy("order_date", "channel")
        .agg(
            F.count(F.lit(1)).alias("placed"),
            reached("cancelled"),
            reached("shipped", "delivered", "returned"),
            reached("delivered", "returned"),
            reached("returned"),
        )
        .select(F.lit(run_date).alias("as_of_date"), "*")
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
    current = customers.where(F.col("is_current")).select("customer_id", "region", "income_band")
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
