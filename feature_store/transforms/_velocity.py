"""Transaction velocity (silver.transactions): one row per customer and transaction time,
counting what came before it in the last hour and day."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

from ._common import (
    MICROS_PER_SECOND,
    SECONDS_PER_DAY,
    dated_within,
    windowed_transactions,
)

HOUR_SECONDS = 3_600
# The day before the first feature date: a 24-hour range reaches back into it.
LOOKBACK_DAYS = 1


def customer_velocity(transactions: DataFrame, *, as_of: dt.date, days: int = 1) -> DataFrame:
    """One row per (customer, distinct ``txn_ts``) dated ``as_of - days + 1 .. as_of``, with
    ``feature_ts = txn_ts`` and the customer's transactions in ``(txn_ts - W, txn_ts]``:
    every transaction at that same second counts, and the range crosses midnight."""
    if days < 1:
        raise ValueError(f"customer_velocity: days={days}; use 1 (the run date) or more")
    on_feature_date = dated_within("txn_date", as_of=as_of, days=days)
    # Only what the windows need crosses the shuffle: the time as microseconds, not as
    # timestamp and date besides.
    rows = windowed_transactions(
        transactions,
        as_of=as_of,
        days=days + LOOKBACK_DAYS,
        columns=(
            F.unix_micros("txn_ts").alias("txn_micros"),
            on_feature_date.alias("_on_feature_date"),
        ),
    )
    last_hour, last_day = _trailing(HOUR_SECONDS), _trailing(SECONDS_PER_DAY)
    counted = rows.select(
        "customer_id",
        "txn_micros",
        "_on_feature_date",
        F.lead("txn_micros").over(_by_time()).alias("_next_micros"),
        F.count(F.lit(1)).over(last_hour).alias("txn_count_1h"),
        F.count(F.lit(1)).over(last_day).alias("txn_count_24h"),
        F.sum("spend").over(last_day).alias("spend_24h"),
    )
    # Rows of one instant are peers in a range frame and carry the same values: keep the last
    # of them. The rows are already in time order for the windows, so this costs no shuffle.
    next_instant = F.col("_next_micros")
    last_of_instant = next_instant.isNull() | (next_instant != F.col("txn_micros"))
    per_time = counted.where(F.col("_on_feature_date") & last_of_instant)
    return per_time.select(
        "customer_id",
        F.timestamp_micros("txn_micros").alias("feature_ts"),
        "txn_count_1h",
        "txn_count_24h",
        "spend_24h",
    )


def _by_time() -> WindowSpec:
    return Window.partitionBy("customer_id").orderBy("txn_micros")


def _trailing(seconds: int) -> WindowSpec:
    """The customer's rows in ``(txn_ts - seconds, txn_ts]``, exact to the microsecond."""
    return _by_time().rangeBetween(-seconds * MICROS_PER_SECOND + 1, Window.currentRow)
