"""The streaming scorer's pure parts: velocity from the stream, alert records."""

from __future__ import annotations

import datetime as dt
import json
import random

import pytest
from pyspark.sql import Row

from streaming._score_sink import _alert, with_velocity

pytestmark = pytest.mark.unit

T0 = dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_velocity_counts_the_hour_up_to_each_event_inclusive_across_history(spark):
    history = spark.createDataFrame(
        [("c1", at(-61)), ("c1", at(-60)), ("c1", at(-59)), ("c2", at(-1))],
        "customer_id string, txn_ts timestamp",
    )
    events = spark.createDataFrame(
        [("t1", "c1", at(0)), ("t2", "c1", at(0.5)), ("t3", "c3", at(0))],
        "txn_id string, customer_id string, txn_ts timestamp",
    )
    got = {r["txn_id"]: r["txn_count_1h"] for r in with_velocity(events, history).collect()}
    # t1: -59 and itself (-60 is exactly an hour before: outside (ts - 1h, ts]);
    # t2: -59, t1, itself; t3: a customer with no history counts only itself
    assert got == {"t1": 2, "t2": 3, "t3": 1}


def test_velocity_equals_counting_every_pair_by_hand(spark):
    rng = random.Random(7)
    stamps = [(f"c{rng.randrange(4)}", at(rng.uniform(-150, 60))) for _ in range(300)]
    history, now = stamps[:200], stamps[200:]
    events = [(f"t{i}", c, ts) for i, (c, ts) in enumerate(now)]
    everything = history + now
    expected = {
        t: sum(1 for c2, ts2 in everything if c2 == c and ts - dt.timedelta(hours=1) < ts2 <= ts)
        for t, c, ts in events
    }
    got = with_velocity(
        spark.createDataFrame(events, "txn_id string, customer_id string, txn_ts timestamp"),
        spark.createDataFrame(history, "customer_id string, txn_ts timestamp"),
    )
    assert {r["txn_id"]: r["txn_count_1h"] for r in got.collect()} == expected


def test_an_alert_record_is_keyed_by_customer_with_an_idempotency_key():
    row = Row(
        txn_id="T1",
        customer_id="C7",
        txn_ts=dt.datetime(2024, 5, 2, 12, 30),
        amount=-950.0,
        anomaly_score=0.71,
        reason="amount far above usual",
        model_name="anomaly",
        model_version="3",
    )
    key, value, headers = _alert(row, "score_transactions")
    assert key == b"C7"
    assert json.loads(value) == {
        "txn_id": "T1",
        "customer_id": "C7",
        "txn_ts": "2024-05-02T12:30:00Z",
        "amount": -950.0,
        "anomaly_score": 0.71,
        "reason": "amount far above usual",
        "model": "anomaly/3",
    }
    assert headers == [("idempotency_key", b"score_transactions:T1:3")]
