"""streaming/score_transactions.py against the real local broker, a real warehouse with the
online features materialized, and an anomaly model in a private MLflow registry.

The expected scores are computed another way: velocity by brute force over the events the
test produced, the z-score from the online table read with delta-rs, then the registered
model's own in-process ``predict_frame``; the stream's output is read with delta-rs and a
plain Kafka consumer.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from bench.stream_world import CATEGORIES, build_world, register_anomaly
from feature_store.banking_views import customer_spend
from lakehouse import Warehouse
from lakehouse.config import MlflowConfig
from lakehouse.delta._files import STAGING_DIR
from lakehouse.errors import ModelNotFoundError
from lakehouse.generate import GeneratorSpec
from lakehouse.services import kafka_bootstrap
from models.anomaly import INPUT_COLUMNS
from models.model_runs import load_registered
from streaming.score_transactions import run

pytestmark = pytest.mark.integration

SPEC = GeneratorSpec(customers=60, days=14, seed=3, defect_rate=0.0)
DAY = SPEC.end_date + dt.timedelta(days=1)  # the events' day: features as of the end of the last
SCORES = "gold.transaction_scores_stream"
ONLINE_SPEND = customer_spend.online_table


@pytest.fixture(scope="module")
def world(spark, cfg, local_services, tmp_path_factory):
    built = build_world(
        spark,
        cfg,
        tmp_path_factory.mktemp("stream-score"),
        SPEC,
        anomaly_updates={"trees": 30, "alert_rate": 0.05},
    )
    return built.warehouse, built.cfg, built.customers


class Events:
    """Transactions of DAY, per customer in time order, keyed by customer (one partition
    each, so a customer's earlier events are never in a later micro-batch)."""

    def __init__(
        self, bootstrap: str, topic: str, customers: list[str], *, elsewhere: bool = True
    ) -> None:
        self.topic, self.customers = topic, customers
        self.elsewhere = elsewhere  # re-send some events keyed by another customer
        self.sent: dict[str, dict] = {}
        self.producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})

    def send(self, first: int, count: int, *, start: dt.datetime) -> None:
        for i in range(first, first + count):
            customer = self.customers[i % len(self.customers)]
            ts = start + dt.timedelta(minutes=7 * (i // len(self.customers)), seconds=i % 50)
            event = {
                "txn_id": f"S{DAY:%Y%m%d}{i:07d}",
                "customer_id": customer,
                "account_id": f"A{i % 97:07d}",
                "txn_ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "amount": -round(5 + (i % 13) * 3.1 + (900 if i % 41 == 0 else 0), 2),
                "currency": "EUR" if i % 9 else "USD",
                "merchant_raw": "TESCO STORES 1234",
                "category": CATEGORIES[i % len(CATEGORIES)],
                "mode": "card",
                "location": "London",
                "remarks": None,
            }
            self._produce(customer, json.dumps(event).encode())
            self.sent[event["txn_id"]] = event
            if i % 23 == 0:  # a producer retry: the same event again
                self._produce(customer, json.dumps(event).encode())
            if i % 29 == 0:  # a re-send keyed otherwise: on another partition, another task's
                other = self.customers[(i + int(self.elsewhere)) % len(self.customers)]
                self._produce(other, json.dumps(event).encode())
            if i % 31 == 0:  # something the ingest app dead-letters: skipped here
                self._produce(customer, b'{"txn_id": "broken", "amount": "N/A"')
        assert self.producer.flush(30) == 0

    def _produce(self, key: str, value: bytes) -> None:
        self.producer.produce(self.topic, value, key=key.encode())


def expected(events: dict[str, dict], warehouse: Warehouse, model) -> pd.DataFrame:
    rows = pd.DataFrame(events.values())
    rows["txn_ts"] = pd.to_datetime(rows["txn_ts"]).dt.tz_localize(None)
    rows["amount"] = rows["amount"].astype(float)
    ts = rows["txn_ts"].to_numpy()
    same = rows["customer_id"].to_numpy()[:, None] == rows["customer_id"].to_numpy()[None, :]
    window = (ts[None, :] > ts[:, None] - np.timedelta64(1, "h")) & (ts[None, :] <= ts[:, None])
    rows["txn_count_1h"] = (same & window).sum(axis=1)
    spend = DeltaTable(warehouse.uri_for(ONLINE_SPEND)).to_pandas()
    stats = rows.merge(spend, on="customer_id", how="left")
    has_spread = (stats["amount"] < 0) & (stats["spend_std_90d"] > 0)
    z = (-stats["amount"] - stats["spend_mean_90d"]) / stats["spend_std_90d"]
    rows["amount_zscore"] = z.where(has_spread).to_numpy()
    return model.predict_frame(rows[list(INPUT_COLUMNS)].reset_index(drop=True))


def stored(warehouse: Warehouse, txn_ids) -> pd.DataFrame:
    rows = DeltaTable(warehouse.uri_for(SCORES)).to_pandas()
    return rows[rows["txn_id"].isin(txn_ids)]


def alerts_on(bootstrap: str, topic: str, expected_count: int) -> list:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "enable.auto.commit": False}
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    messages = []
    for _ in range(50):
        messages += [m for m in consumer.consume(1000, timeout=0.2) if m.error() is None]
        if len(messages) >= expected_count:
            break
    consumer.close()
    return messages


def topics() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"score-txn-{suffix}", f"alerts-{suffix}"


@pytest.mark.parametrize("elsewhere", [False, True], ids=["in-tasks", "spark-plan"])
def test_every_valid_event_is_scored_once_as_in_process_and_alerts_reach_the_topic(
    spark, world, tmp_path, elsewhere
):
    # Keyed by customer, each batch is scored in its reading tasks; with re-sends keyed by
    # another customer (another partition, another task) the batch goes through the Spark plan.
    warehouse, cfg, customers = world
    bootstrap = kafka_bootstrap(cfg)
    topic, alerts_topic = topics()
    events = Events(bootstrap, topic, customers, elsewhere=elsewhere)
    first_event = 10_000 if elsewhere else 20_000  # each run its own txn_ids, same warehouse
    events.send(first_event, 360, start=dt.datetime(DAY.year, DAY.month, DAY.day, 9))
    options = dict(
        available_now=True,
        max_offsets=120,
        source_topic=topic,
        alerts_topic=alerts_topic,
        checkpoint=tmp_path / "checkpoint",
        warehouse=warehouse,
    )
    first = run(spark, cfg, **options)
    assert len(first.batches) >= 3
    in_tasks = {b.in_tasks for b in first.batches if b.scored}
    assert in_tasks == ({False} if elsewhere else {True})

    got = stored(warehouse, events.sent)
    assert sorted(got["txn_id"]) == sorted(events.sent)  # each valid event once
    _, model = load_registered(cfg, "anomaly")
    want = expected(events.sent, warehouse, model).set_index("txn_id")
    got = got.set_index("txn_id").loc[want.index]
    assert got["anomaly_score"].to_numpy() == pytest.approx(want["anomaly_score"].to_numpy())
    assert (got["is_alert"] == want["is_alert"]).all()
    assert got["is_alert"].any()
    assert set(got["model_version"]) == {"1"}

    flagged = set(got.index[got["is_alert"]])
    sent = alerts_on(bootstrap, alerts_topic, len(flagged))
    assert {json.loads(m.value())["txn_id"] for m in sent} == flagged
    keys = {dict(m.headers())["idempotency_key"].decode() for m in sent}
    assert keys == {f"score_transactions:{t}:1" for t in flagged}

    again = run(spark, cfg, **options)  # from the checkpoint: nothing new, nothing twice
    assert sum(b.scored for b in again.batches) == 0
    assert len(stored(warehouse, events.sent)) == len(events.sent)
    staged = Path(warehouse.uri_for(SCORES).removeprefix("file://")) / STAGING_DIR
    assert not staged.exists() or not any(staged.iterdir())  # each batch's staged events removed


def test_a_new_champion_is_used_by_the_running_query(spark, world, tmp_path):
    warehouse, cfg, customers = world
    bootstrap = kafka_bootstrap(cfg)
    topic, alerts_topic = topics()
    events = Events(bootstrap, topic, customers, elsewhere=False)
    stop = threading.Event()
    result = {}
    fast = cfg.model_copy(
        update={"streaming": cfg.streaming.model_copy(update={"trigger_interval": "1 second"})}
    )

    def scorer() -> None:
        result["run"] = run(
            spark,
            fast,
            available_now=False,
            source_topic=topic,
            alerts_topic=alerts_topic,
            checkpoint=tmp_path / "checkpoint",
            warehouse=warehouse,
            stop_event=stop,
        )

    def scored_ids(expected_count: int) -> set[str]:
        for _ in range(120):
            try:
                mine = stored(warehouse, events.sent)
            except TableNotFoundError:  # the scorer thread has not created it yet
                mine = []
            if len(mine) >= expected_count:
                return dict(zip(mine["txn_id"], mine["model_version"], strict=True))
            time.sleep(0.5)
        raise AssertionError(f"{len(mine)} of {expected_count} events scored in 60 s")

    thread = threading.Thread(target=scorer)
    thread.start()
    try:
        start = dt.datetime(DAY.year, DAY.month, DAY.day, 14)
        events.send(1_000, 60, start=start)
        before = scored_ids(60)
        current, _ = load_registered(cfg, "anomaly")
        registered = register_anomaly(cfg, seed=2, promote=True)
        events.send(1_060, 60, start=start + dt.timedelta(hours=2))
        after = scored_ids(120)
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive()
    assert set(before.values()) == {current.version}
    later = {t: v for t, v in after.items() if t not in before}
    assert set(later.values()) == {registered.version}
    assert len({b.model_version for b in result["run"].batches if b.model_version}) == 2


def test_without_a_registered_model_the_scorer_refuses_to_start(spark, world, tmp_path):
    warehouse, cfg, _ = world
    empty = cfg.model_copy(
        update={
            "mlflow": MlflowConfig(
                tracking_uri=f"sqlite:///{tmp_path / 'empty.db'}",
                artifact_root=(tmp_path / "mlruns").as_uri(),
            )
        }
    )
    with pytest.raises(ModelNotFoundError, match=r"models:/anomaly@champion.*lakehouse train"):
        run(spark, empty, available_now=True, warehouse=warehouse, checkpoint=tmp_path / "c")
