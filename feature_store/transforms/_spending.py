"""Snapshot views of how much a customer spends and on what (silver.transactions): spend,
lifestyle, activity and cash flow. Each is one grouped pass over the window's rows."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ._common import (
    LONGEST_WINDOW_DAYS,
    MICROS_PER_SECOND,
    SECONDS_PER_DAY,
    count_distinct_small,
    count_if,
    cutoff_micros,
    dated_since,
    is_credit,
    is_debit,
    ratio,
    sum_if,
    windowed_transactions,
)

SPEND_CATEGORIES = (
    "groceries",
    "dining",
    "transport",
    "fuel",
    "shopping",
    "electronics",
    "travel",
    "luxury",
    "health",
    "entertainment",
    "cash",
    "kids",
    "education",
)
SPEND_WINDOWS_DAYS = (7, 30, 90)
CATEGORY_WINDOW_DAYS = 30
# share_<name>_90d -> the category whose spend it measures
LIFESTYLE_SHARES = {"travel": "travel", "luxury": "luxury", "health": "health", "emi": "loan_emi"}
ACTIVITY_WINDOW_DAYS = 30
CASHFLOW_WINDOW_DAYS = 30


def customer_spend(transactions: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Sum, count, mean and sample std of debit spend over 7, 30 and 90 days, and the 30-day
    spend of each of the ``SPEND_CATEGORIES``."""
    rows = windowed_transactions(
        transactions, as_of=as_of, days=LONGEST_WINDOW_DAYS, columns=("category",)
    )
    in_category_window = dated_since(as_of, CATEGORY_WINDOW_DAYS)
    aggregates = [c for days in SPEND_WINDOWS_DAYS for c in _spend_stats(as_of, days)]
    for category in SPEND_CATEGORIES:
        spent_on = in_category_window & (F.col("category") == category)
        aggregates.append(sum_if(spent_on, "spend").alias(f"spend_{category}_30d"))
    totals = rows.groupBy("customer_id").agg(*aggregates)
    stats = []
    for days in SPEND_WINDOWS_DAYS:
        total, count = f"spend_sum_{days}d", f"spend_count_{days}d"
        mean = ratio(total, count).alias(f"spend_mean_{days}d")
        stats += [total, count, mean, f"spend_std_{days}d"]
    categories = [f"spend_{category}_30d" for category in SPEND_CATEGORIES]
    return totals.select("customer_id", *stats, *categories)


def _spend_stats(as_of: dt.date, days: int) -> list[Column]:
    debit_in_window = is_debit() & dated_since(as_of, days)
    return [
        sum_if(debit_in_window, "spend").alias(f"spend_sum_{days}d"),
        count_if(debit_in_window).alias(f"spend_count_{days}d"),
        # Only the debits' spend: the std of no or one value is NULL.
        F.stddev_samp(F.when(debit_in_window, F.col("spend"))).alias(f"spend_std_{days}d"),
    ]


def customer_lifestyle(transactions: DataFrame, *, as_of: dt.date) -> DataFrame:
    """The share of 90-day spend that went to travel, luxury, health and loan instalments."""
    rows = windowed_transactions(
        transactions, as_of=as_of, days=LONGEST_WINDOW_DAYS, columns=("category",)
    )
    totals = rows.groupBy("customer_id").agg(
        F.sum("spend").alias("_spend"),
        *(
            sum_if(F.col("category") == category, "spend").alias(f"_{name}")
            for name, category in LIFESTYLE_SHARES.items()
        ),
    )
    return totals.select(
        "customer_id",
        *(ratio(f"_{name}", "_spend").alias(f"share_{name}_90d") for name in LIFESTYLE_SHARES),
    )


def customer_activity(transactions: DataFrame, *, as_of: dt.date) -> DataFrame:
    """How often and how recently a customer transacts, and the trend of their spend. (The
    number of merchants is in customer_income, which groups by merchant anyway.)"""
    rows = windowed_transactions(
        transactions,
        as_of=as_of,
        days=LONGEST_WINDOW_DAYS,
        columns=(F.unix_micros("txn_ts").alias("txn_micros"),),
    )
    in_window = dated_since(as_of, ACTIVITY_WINDOW_DAYS)
    days_back = F.datediff(F.lit(as_of), F.col("txn_date"))
    totals = rows.groupBy("customer_id").agg(
        count_if(in_window).alias("txn_count_30d"),
        count_distinct_small(F.when(in_window, days_back)).alias("active_days_30d"),
        F.max("txn_micros").alias("_last_micros"),
        sum_if(in_window, "spend").alias("_spend_30d"),
        sum_if(~in_window, "spend").alias("_spend_before"),
    )
    since_last = F.lit(cutoff_micros(as_of)) - F.col("_last_micros")
    # The 60 days before the window, as a 30-day figure.
    spend_before_per_30d = F.col("_spend_before") / 2
    return totals.select(
        "customer_id",
        "txn_count_30d",
        "active_days_30d",
        (since_last / (SECONDS_PER_DAY * MICROS_PER_SECOND)).alias("days_since_last_txn"),
        ratio("_spend_30d", spend_before_per_30d).alias("spend_trend_30d"),
    )


def customer_cashflow(transactions: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Money in, money out and the days the account would have been overdrawn over 30 days."""
    # Balances in whole cents (exact): a double sum can land a hair below an exact 0.
    cents = (F.col("amount") * 100).cast("long").alias("cents")
    rows = windowed_transactions(
        transactions, as_of=as_of, days=CASHFLOW_WINDOW_DAYS, columns=(cents,)
    )
    daily = rows.groupBy("customer_id", "txn_date").agg(
        sum_if(is_credit(), "amount").alias("_inflow"),
        F.sum("spend").alias("_outflow"),
        F.sum("cents").alias("_net_cents"),
    )
    overdrawn = F.col("_balance_cents") < 0
    balances = _closing_balances(daily, as_of=as_of)
    totals = balances.groupBy("customer_id").agg(
        F.sum("_inflow").alias("inflow_30d"),
        F.sum("_outflow").alias("outflow_30d"),
        F.sum(F.when(overdrawn, F.col("_days_held")).otherwise(0)).alias("_overdrawn"),
    )
    return totals.select(
        "customer_id",
        "inflow_30d",
        "outflow_30d",
        (F.col("inflow_30d") - F.col("outflow_30d")).alias("net_flow_30d"),
        F.col("_overdrawn").cast("long").alias("overdraft_days_30d"),
    )


def _closing_balances(daily: DataFrame, *, as_of: dt.date) -> DataFrame:
    """Each day with transactions: the balance at its end (the window opened at 0) and the
    days it holds, through the days without transactions up to the next one or the window's
    end. Before the first such day the balance is 0, never overdrawn."""
    by_day = Window.partitionBy("customer_id").orderBy("txn_date")
    balance = F.sum("_net_cents").over(by_day.rowsBetween(Window.unboundedPreceding, 0))
    after_window = F.lit(as_of + dt.timedelta(days=1))
    next_day = F.coalesce(F.lead("txn_date").over(by_day), after_window)
    return daily.select(
        "customer_id",
        "_inflow",
        "_outflow",
        balance.alias("_balance_cents"),
        F.datediff(next_day, F.col("txn_date")).alias("_days_held"),
    )
