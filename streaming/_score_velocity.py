"""A transaction's velocity, ``txn_count_1h``: the customer's transactions in the hour up to it,
inclusive ``(txn_ts - 1h, txn_ts]`` (the customer_velocity view's definition), counted from the
stream: the events scored before and the batch's own. Two engines, equal by test
(tests/unit/test_stream_score.py): ``velocity_counts`` over Arrow in a scoring task,
``with_velocity`` over Spark DataFrames for a batch the tasks cannot score alone.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

__all__ = ["VELOCITY_WINDOW", "velocity_counts", "with_velocity"]

VELOCITY_WINDOW = dt.timedelta(hours=1)
_WINDOW_MICROS = VELOCITY_WINDOW // dt.timedelta(microseconds=1)
_TS = pa.timestamp("us", tz="UTC")


def velocity_counts(events: pa.Table, history: pa.Table) -> np.ndarray:
    """For each of ``events`` (customer_id, txn_ts; no NULLs), the rows of ``events`` and
    ``history`` of its customer in ``(txn_ts - 1h, txn_ts]`` (with_velocity's definition).

    Vectorized: times become ranks on one grid of every time and every window start, so a
    (customer, rank) pair fits one int64 key; each count is the difference of two binary
    searches in the sorted keys."""
    n = events.num_rows
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    customers = pa.chunked_array(
        [*events["customer_id"].chunks, *history["customer_id"].chunks], pa.string()
    )
    codes = pc.dictionary_encode(customers).combine_chunks().indices.to_numpy().astype(np.int64)
    times = np.concatenate([_micros(events["txn_ts"]), _micros(history["txn_ts"])])
    starts = times[:n] - _WINDOW_MICROS  # exclusive
    grid = np.unique(np.concatenate([times, starts]))
    width = np.int64(len(grid) + 1)
    keys = np.sort(codes * width + np.searchsorted(grid, times))
    upper = codes[:n] * width + np.searchsorted(grid, times[:n])
    lower = codes[:n] * width + np.searchsorted(grid, starts)
    return np.searchsorted(keys, upper, side="right") - np.searchsorted(keys, lower, side="right")


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    micros = pc.cast(pc.cast(column, _TS), pa.int64())
    return micros.to_numpy().astype(np.int64, copy=False)


def with_velocity(
    events: DataFrame,
    history: DataFrame,
    *,
    span: tuple[dt.datetime, dt.datetime] | None = None,
    partitions: int | None = None,
) -> DataFrame:
    """``events`` with ``txn_count_1h``: the customer's transactions in the hour up to each one,
    inclusive ``(txn_ts - 1h, txn_ts]``, among ``history`` (customer_id, txn_ts of events
    scored before) and the events themselves: the customer_velocity view's definition, counted
    from the stream instead of the last materialized day.

    A range window over each customer's transactions in time order, not a join of every event
    with every earlier one: that grew with the square of a busy customer's hour. ``span``: the
    (first, last) txn_ts the events lie within; history rows in ``(last - 1h, first]`` are in
    every event's hour, so they are only counted per customer and the window sorts the rest,
    and a batch's cost does not grow with the hour's volume. ``partitions``: how many tasks
    count (and run what follows), instead of spark.sql.shuffle.partitions."""
    earlier = None
    if span is not None:
        first, last = span
        ts = F.col("txn_ts")
        in_every_hour = F.coalesce(
            (ts > F.lit(last - VELOCITY_WINDOW)) & (ts <= F.lit(first)), F.lit(False)
        )
        earlier = (
            history.where(in_every_hour)
            .groupBy("customer_id")
            .agg(F.count(F.lit(1)).alias("_earlier"))
        )
        history = history.where(~in_every_hour)
    counted = _window_count(events, history, partitions)
    if earlier is None:
        return counted
    # An event without a time has no hour (the window counts it among the customer's others).
    has_time = F.col("txn_ts").isNotNull()
    earlier_count = F.when(has_time, F.coalesce(F.col("_earlier"), F.lit(0))).otherwise(0)
    total = F.col("txn_count_1h") + earlier_count
    return (
        counted.join(F.broadcast(earlier), on="customer_id", how="left")
        .withColumn("txn_count_1h", total)
        .select(*counted.columns)
    )


def _window_count(events: DataFrame, history: DataFrame, partitions: int | None) -> DataFrame:
    micros = F.unix_micros("txn_ts")
    window = (
        Window.partitionBy("customer_id")
        .orderBy(micros)
        .rangeBetween(-_WINDOW_MICROS + 1, Window.currentRow)
    )
    # The events keep their columns through the window (history rows padded with NULLs), so
    # no join brings the counts back to them.
    is_event = F.col("_is_event")
    timeline = events.withColumn("_is_event", F.lit(True)).unionByName(
        history.select("customer_id", "txn_ts"), allowMissingColumns=True
    )
    if partitions is not None:
        # Hash-partitioned by customer: the window needs no other shuffle.
        timeline = timeline.repartition(partitions, "customer_id")
    counted = timeline.withColumn("txn_count_1h", F.count(F.lit(1)).over(window))
    return counted.where(is_event).drop("_is_event")
