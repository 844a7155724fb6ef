"""Snapshot views of the shop (silver.orders, bronze.shop_orders): what a customer orders
and how many orders they return or cancel, over 90 days."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ._common import LONGEST_WINDOW_DAYS, dated_within, ratio


def customer_orders(orders: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Orders placed (by ``order_date``) in 90 days and their value, whatever their status
    now: a status is set after the order date, so reading it would leak the future."""
    placed = orders.where(
        dated_within("order_date", as_of=as_of, days=LONGEST_WINDOW_DAYS)
        & F.col("customer_id").isNotNull()
    )
    value = F.coalesce(F.col("total_amount").cast("double"), F.lit(0.0))
    totals = placed.groupBy("customer_id").agg(
        F.count(F.lit(1)).alias("order_count_90d"),
        F.sum(value).alias("order_value_90d"),
    )
    return totals.select(
        "customer_id",
        "order_count_90d",
        "order_value_90d",
        ratio("order_value_90d", "order_count_90d").alias("avg_order_value_90d"),
    )


def customer_returns(order_versions: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Distinct orders with a version returned, or cancelled, among the versions the pulls
    saw updated in 90 days (dated by ``updated_at``, the day the status changed)."""
    updated = order_versions.withColumn("_updated_date", F.to_date("updated_at"))
    recent = updated.where(
        dated_within("_updated_date", as_of=as_of, days=LONGEST_WINDOW_DAYS)
        & F.col("customer_id").isNotNull()
    )
    status = F.col("status")
    per_order = recent.groupBy("customer_id", "order_id").agg(
        F.bool_or(status == "returned").alias("_returned"),
        F.bool_or(status == "cancelled").alias("_cancelled"),
    )
    return per_order.groupBy("customer_id").agg(
        F.count_if("_returned").alias("return_count_90d"),
        F.count_if("_cancelled").alias("cancel_count_90d"),
    )
