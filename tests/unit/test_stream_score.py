"""The streaming scorer's pure parts: its valid events, velocity from the stream, alert
records."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

from lakehouse.generate import GeneratorSpec
from lakehouse.generate.kafka_sink import transaction_events
from lakehouse.merchants import load_merchant_rules, standardize_merchants
from lakehouse.quality import load_suite
from streaming import _ingest_parse as parse
from streaming._score_events import (
    KEY_COLUMNS,
    VALID_EVENTS,
    first_deliveries,
    later_deliveries,
    one_task_each,
    valid_events,
)
from streaming._score_model import _chunks
from streaming._score_sink import _alert
from streaming._score_velocity import velocity_counts, with_velocity
from streaming.kafka_source import kafka_schema
from tests.unit.test_ingest_arrow import assert_equal, edge_events, kafka_rows
from tests.unit.test_stream_parse import changed

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
    counted = with_velocity(events, history)
    assert counted.columns == [*events.columns, "txn_count_1h"]
    got = {r["txn_id"]: r["txn_count_1h"] for r in counted.collect()}
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


@pytest.mark.parametrize("spread_minutes", [0.5, 30, 90])
def test_velocity_with_the_events_span_equals_counting_by_hand(spark, spread_minutes):
    # The span's middle (in every event's hour) is counted per customer, the rest in the
    # window: the same counts, including history later than some events and a batch whose
    # span is longer than the hour (no middle).
    rng = random.Random(11)
    customers = [f"c{i}" for i in range(5)]
    history = [(rng.choice(customers), at(rng.uniform(-130, 2))) for _ in range(400)]
    history.append(("c0", None))
    events = [
        (f"t{i}", rng.choice(customers), at(rng.uniform(0, spread_minutes))) for i in range(60)
    ]
    events.append(("t-none", "c0", None))
    everything = [(c, ts) for c, ts in history if ts] + [(c, ts) for _, c, ts in events if ts]
    expected = {
        t: sum(1 for c2, ts2 in everything if c2 == c and ts - dt.timedelta(hours=1) < ts2 <= ts)
        for t, c, ts in events
        if ts
    }
    stamps = [ts for _, _, ts in events if ts]
    schema = "txn_id string, customer_id string, txn_ts timestamp"
    spans = {
        "split": with_velocity(
            spark.createDataFrame(events, schema),
            spark.createDataFrame(history, "customer_id string, txn_ts timestamp"),
            span=(min(stamps), max(stamps)),
        ),
        "whole": with_velocity(
            spark.createDataFrame(events, schema),
            spark.createDataFrame(history, "customer_id string, txn_ts timestamp"),
        ),
    }
    got = {k: {r["txn_id"]: r["txn_count_1h"] for r in v.collect()} for k, v in spans.items()}
    assert {t: n for t, n in got["split"].items() if t != "t-none"} == expected
    assert got["split"] == got["whole"]


def stamps_table(rows: list[tuple]) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array([c for c, _ in rows], pa.string()),
            "txn_ts": pa.array([ts for _, ts in rows], pa.timestamp("us", tz="UTC")),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_tasks_velocity_equals_counting_by_hand_and_the_spark_window(spark, seed):
    rng = random.Random(seed)
    customers = [f"c{i}" for i in range(rng.randrange(1, 6))]
    # Whole and fractional seconds, ties, an event exactly an hour after a history row.
    history = [(rng.choice(customers), at(rng.choice([-60, -59.5, rng.uniform(-200, 5)])))]
    history += [(rng.choice(customers), at(rng.uniform(-200, 5))) for _ in range(300)]
    events = [(rng.choice(customers), at(rng.choice([0, rng.uniform(0, 90)]))) for _ in range(80)]
    everything = history + events
    expected = [
        sum(1 for c2, ts2 in everything if c2 == c and ts - dt.timedelta(hours=1) < ts2 <= ts)
        for c, ts in events
    ]
    got = velocity_counts(stamps_table(events), stamps_table(history))
    assert got.tolist() == expected
    schema = "txn_id string, customer_id string, txn_ts timestamp"
    window = with_velocity(
        spark.createDataFrame([(f"t{i}", c, ts) for i, (c, ts) in enumerate(events)], schema),
        spark.createDataFrame(history, "customer_id string, txn_ts timestamp"),
    )
    by_id = {r["txn_id"]: r["txn_count_1h"] for r in window.collect()}
    assert [by_id[f"t{i}"] for i in range(len(events))] == expected


def test_the_tasks_velocity_of_no_events_or_no_history():
    assert velocity_counts(stamps_table([]), stamps_table([("c1", at(0))])).tolist() == []
    assert velocity_counts(stamps_table([("c1", at(0))] * 2), stamps_table([])).tolist() == [2, 2]


def keys_of(tasks: list[list[tuple[str, str]]]) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    """(customers, txn_ids) as the tasks report them: a row per task, its distinct values."""
    lists = pa.list_(pa.string())
    customers = [sorted({c for _, c in task}) for task in tasks]
    txn_ids = [sorted({t for t, _ in task}) for task in tasks]
    return pa.chunked_array([customers], lists), pa.chunked_array([txn_ids], lists)


def test_a_batch_is_scored_in_its_tasks_only_when_no_customer_or_txn_id_spans_two():
    assert one_task_each(*keys_of([[("t1", "c1"), ("t2", "c1")], [("t3", "c2")]]))
    assert one_task_each(*keys_of([]))
    assert one_task_each(*keys_of([[], [("t1", "c1")]]))
    assert not one_task_each(*keys_of([[("t1", "c1")], [("t2", "c1")]]))  # a customer in two
    assert not one_task_each(*keys_of([[("t1", "c1")], [("t1", "c2")]]))  # a re-send in two


@pytest.mark.parametrize(
    "txn_ts",
    [
        dt.datetime(2024, 5, 2, 12, 30, tzinfo=dt.UTC),  # a staged file's row, read by Arrow
        dt.datetime(2024, 5, 2, 14, 30, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.datetime(2024, 5, 2, 12, 30),  # a Spark row: naive, in the session's UTC
    ],
)
def test_an_alert_record_is_keyed_by_customer_with_an_idempotency_key(txn_ts):
    row = dict(
        txn_id="T1",
        customer_id="C7",
        txn_ts=txn_ts,
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


# -- the valid events: the Arrow step (per task, then across tasks) equals the Spark SQL one ----
IDS = {"query_id": "q", "batch_id": 7, "run_id": "score:q:7"}
KAFKA_OUT = ("topic", "partition", "offset", "kafka_ts")


def spark_valid_events(raw, suite, merchants):
    """The scorer's former ``_valid_events``, kept as the oracle."""
    events = parse.bronze_events(raw, query_id=IDS["query_id"], batch_id=IDS["batch_id"])
    flagged = parse.flag_events(events, suite, run_id=IDS["run_id"])
    valid = flagged.where(~parse.refused(late_before=None))
    first = Window.partitionBy("txn_id").orderBy("partition", "offset")
    once = valid.withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1)
    return standardize_merchants(once, merchants).select(
        "txn_id",
        "customer_id",
        "txn_ts",
        F.to_date("txn_ts").alias("txn_date"),
        F.col("amount").cast("double").alias("amount"),
        "currency",
        "category",
        "location",
        *KAFKA_OUT,
    )


def resends() -> pa.Table:
    """Re-sent events at chosen coordinates: on two partitions (so read by two tasks below), on
    one, and a broken first delivery followed by a valid one."""
    rows = [
        # (txn_id, partition, offset, amount): the lowest partition wins over a lower offset
        ("X1", 1, 100_005, "10.00"),
        ("X1", 0, 100_010, "11.00"),
        ("X1", 2, 100_001, "12.00"),
        ("X2", 0, 100_003, "20.00"),
        ("X2", 0, 100_002, "21.00"),
        ("X3", 0, 100_004, "not a number"),
        ("X3", 1, 100_006, "30.00"),
    ]
    stamp = dt.datetime(2024, 5, 1, 11, 0, tzinfo=dt.UTC)
    columns = {
        "key": pa.array([b"resent"] * len(rows), pa.binary()),
        "value": pa.array([changed(txn_id=t, amount=a) for t, _, _, a in rows], pa.binary()),
        "topic": pa.array(["txns"] * len(rows)),
        "partition": pa.array([p for _, p, _, _ in rows], pa.int32()),
        "offset": pa.array([o for _, _, o, _ in rows], pa.int64()),
        "timestamp": pa.array([stamp] * len(rows)),
        "timestampType": pa.array([0] * len(rows), pa.int32()),
    }
    return pa.table(columns, schema=to_arrow_schema(kafka_schema(), timezone="UTC"))


@pytest.fixture(scope="module")
def kafka():
    spec = GeneratorSpec(customers=300, days=3, seed=11, start_date=dt.date(2024, 5, 1))
    generated = transaction_events(spec, seed=11, defect_rate=0.05)
    rows = kafka_rows(edge_events() + [(k, v) for k, v, _ in itertools.islice(generated, 2000)])
    return pa.concat_tables([rows, resends()])


@pytest.fixture(scope="module")
def suite(cfg):
    return parse.stream_suite(load_suite(cfg.conf_dir, "silver.transactions"))


def tasks_valid_events(kafka: pa.Table, suite) -> pa.Table:
    """What the scorer's tasks yield when one reads partitions 0 and 2 and another partition 1,
    each given its records in several chunks."""
    shares = []
    for partitions in ([0, 2], [1]):
        share = kafka.filter(pc.is_in(kafka["partition"], pa.array(partitions, pa.int32())))
        chunked = pa.concat_tables([share.slice(i, 500) for i in range(0, share.num_rows, 500)])
        shares.append(valid_events(chunked, suite, **IDS))
    return pa.concat_tables(shares)


def test_valid_events_equal_the_spark_sql_definition(spark, kafka, suite, cfg):
    want = spark_valid_events(
        spark.createDataFrame(kafka), suite, load_merchant_rules(cfg.conf_dir)
    )
    tasks = tasks_valid_events(kafka, suite)
    got = first_deliveries(
        spark.createDataFrame(tasks, from_arrow_schema(VALID_EVENTS)),
        tasks.select(list(KEY_COLUMNS)),
    )
    assert [(f.name, f.dataType) for f in got.schema] == [(f.name, f.dataType) for f in want.schema]
    assert_equal(got.toArrow(), want.toArrow(), "txn_id")
    assert tasks.schema == VALID_EVENTS


def test_a_resent_event_is_kept_once_its_first_valid_delivery(spark, kafka, suite):
    tasks = tasks_valid_events(kafka, suite)
    got = first_deliveries(
        spark.createDataFrame(tasks, from_arrow_schema(VALID_EVENTS)),
        tasks.select(list(KEY_COLUMNS)),
    )
    resent = got.where(F.col("txn_id").isin("X1", "X2", "X3")).collect()
    assert {r["txn_id"]: (r["partition"], r["offset"], r["amount"]) for r in resent} == {
        "X1": (0, 100_010, 11.0),
        "X2": (0, 100_002, 21.0),
        "X3": (1, 100_006, 30.0),
    }
    # Guards the test: X1 reached both tasks, so only the step across them could drop one.
    assert pc.sum(pc.equal(tasks["txn_id"], "X1")).as_py() == 2


def deliveries(rows: list[tuple]) -> pa.Table:
    """KEY_COLUMNS rows from (txn_id, topic, partition, offset)."""
    names = ["txn_id", "topic", "partition", "offset"]
    table = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])
    table = table.append_column("txn_date", pa.array([dt.date(2024, 5, 2)] * len(rows)))
    table = table.append_column("txn_ts", pa.array([T0] * len(rows)))
    table = table.append_column("customer_id", pa.array(["c1"] * len(rows)))
    schema = pa.schema([VALID_EVENTS.field(c) for c in KEY_COLUMNS])
    return table.select(list(KEY_COLUMNS)).cast(schema)


def test_later_deliveries_are_all_but_each_txn_ids_lowest_partition_then_offset():
    keys = deliveries(
        [
            ("X1", "t", 1, 5),
            ("X1", "t", 0, 9),
            ("X2", "t", 2, 1),
            ("X1", "t", 0, 12),
            ("X3", "t", 0, 3),
            (None, "t", 1, 7),
            (None, "t", 0, 8),
            (None, "t", 1, 2),
        ]
    )
    later = later_deliveries(keys).to_pylist()
    # NULL txn_ids count as one txn_id, as Spark's window groups them: (0, 8) is kept.
    assert sorted((r["partition"], r["offset"]) for r in later) == [(0, 12), (1, 2), (1, 5), (1, 7)]
    assert later_deliveries(keys.slice(0, 0)).num_rows == 0


def test_a_batch_without_resends_is_not_joined(spark, kafka, suite):
    alone = valid_events(kafka, suite, **IDS)  # one task's events: each txn_id once
    events = spark.createDataFrame(alone, from_arrow_schema(VALID_EVENTS))
    assert later_deliveries(alone.select(list(KEY_COLUMNS))).num_rows == 0
    assert first_deliveries(events, alone.select(list(KEY_COLUMNS))) is events


def test_the_edge_cases_include_broken_events(kafka, suite):
    """Guards the test: many events are refused, so keeping only the valid ones is exercised."""
    valid = valid_events(kafka, suite, **IDS)
    assert 2000 < valid.num_rows < kafka.num_rows - 100


def test_no_records_give_no_events(kafka, suite):
    assert valid_events(kafka.slice(0, 0), suite, **IDS) == VALID_EVENTS.empty_table()


def test_the_model_scores_the_tasks_rows_in_chunks_of_at_least_score_rows():
    batches = [pd.DataFrame({"n": range(start, start + 4)}) for start in range(0, 40, 4)]
    chunks = list(_chunks(iter(batches), 10))
    assert [len(c) for c in chunks] == [12, 12, 12, 4]
    assert pd.concat(chunks)["n"].tolist() == list(range(40))
    assert all(c.index.tolist() == list(range(len(c))) for c in chunks)
    assert list(_chunks(iter([]), 10)) == []
