"""streaming/ingest_transactions.py against the real local broker: valid, distinct events land
in silver once, every malformed one in ops.dead_letters and the dead-letter topic with its
reason, re-runs from the checkpoint add nothing twice, and a batch replayed after a crash that
followed one of its Delta commits loses and duplicates nothing.

The expectations come from the events the test builds (which txn_ids are valid, which records
are broken and how), and the tables are read with delta-rs, not with the code under test.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter

import pyarrow.compute as pc
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from deltalake import DeltaTable

from lakehouse.delta import Warehouse
from lakehouse.services import kafka_bootstrap
from streaming.ingest_transactions import run

pytestmark = pytest.mark.integration

SILVER, BRONZE, DEAD = "silver.transactions_stream", "bronze.transaction_events", "ops.dead_letters"
# Each kind of broken event and the rules it must be refused with.
BROKEN = {
    "bad_json": ["not_json"],
    "not_an_object": ["not_json"],
    "amount_text": ["amount_valid"],
    "amount_bool": ["amount_valid"],
    "no_txn_id": ["txn_id_present"],
    "no_amount": ["amount_present"],
    "bad_ts": ["txn_ts_valid"],
    "currency": ["currency_known"],
}


def transaction(i: int, *, day: int = 1) -> dict:
    return {
        "txn_id": f"T202405{day:02d}{i:07d}",
        "customer_id": f"C{i % 97:05d}",
        "account_id": f"A{i % 97:07d}",
        "txn_ts": f"2024-05-{day:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
        "amount": round(1 + (i % 500) * 1.37, 2),
        "currency": ("EUR", "USD", "GBP")[i % 3],
        "merchant_raw": "TESCO STORES 1234",
        "category": "groceries",
        "mode": "card",
        "location": "London",
        "remarks": None,
    }


def broken(kind: str, i: int) -> bytes:
    event = transaction(i)
    if kind == "bad_json":
        return json.dumps(event).encode()[:40]
    if kind == "not_an_object":
        return b'["T1", 12.5]'
    if kind == "amount_text":
        event["amount"] = "N/A"
    elif kind == "amount_bool":
        event["amount"] = True
    elif kind == "no_txn_id":
        del event["txn_id"]
    elif kind == "no_amount":
        del event["amount"]
    elif kind == "bad_ts":
        event["txn_ts"] = "yesterday"
    elif kind == "currency":
        event["currency"] = "XXX"
    return json.dumps(event).encode()


class Events:
    """What the test produced: every valid txn_id, and each broken record's rules by
    (partition, offset), from the broker's delivery reports."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.valid: set[str] = set()
        self.broken: dict[tuple[int, int], list[str]] = {}
        self.records = 0
        self._producer = Producer(
            {"bootstrap.servers": bootstrap, "compression.type": "zstd", "linger.ms": 5}
        )

    def send(self, value: bytes, *, rules: list[str] | None = None, txn_id: str | None = None):
        def delivered(err, msg) -> None:
            assert err is None, err
            if rules is not None:
                self.broken[msg.partition(), msg.offset()] = rules

        self._producer.produce(self.topic, value, key=b"k", on_delivery=delivered)
        self.records += 1
        if txn_id is not None:
            self.valid.add(txn_id)

    def flush(self) -> None:
        assert self._producer.flush(30) == 0

    def send_batch(self, first: int, count: int, *, resend_every: int, broken_every: int):
        kinds = list(BROKEN)
        for i in range(first, first + count):
            if i % broken_every == 0:
                kind = kinds[(i // broken_every) % len(kinds)]
                self.send(broken(kind, i), rules=BROKEN[kind])
                continue
            event = transaction(i)
            self.send(json.dumps(event).encode(), txn_id=event["txn_id"])
            if i % resend_every == 0:  # a producer retry: the same event again
                self.send(json.dumps(event).encode(), txn_id=event["txn_id"])
        assert self._producer.flush(30) == 0


@pytest.fixture(scope="module")
def bootstrap(cfg, local_services) -> str:
    return kafka_bootstrap(cfg)


def topics() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"txn-{suffix}", f"txn-dead-{suffix}"


def ingest(spark, cfg, warehouse, topic, dead_topic, checkpoint, **options):
    return run(
        spark,
        cfg,
        available_now=True,
        max_offsets=options.pop("max_offsets", 1_000),
        source_topic=topic,
        dead_letter_topic=dead_topic,
        checkpoint=checkpoint,
        warehouse=warehouse,
        **options,
    )


def delta(warehouse: Warehouse, name: str):
    return DeltaTable(warehouse.uri_for(name)).to_pyarrow_table()


def silver_ids(warehouse: Warehouse) -> Counter:
    return Counter(delta(warehouse, SILVER)["txn_id"].to_pylist())


def dead_letters(warehouse: Warehouse) -> dict[tuple[int, int], list[str]]:
    rows = delta(warehouse, DEAD).to_pylist()
    coordinates = Counter((r["partition"], r["offset"]) for r in rows)
    assert max(coordinates.values()) == 1, "a dead letter was written twice"
    return {(r["partition"], r["offset"]): r["rules"] for r in rows}


def dead_letter_topic(bootstrap: str, topic: str, expected: int) -> list:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(4)])
    messages = []
    for _ in range(50):
        messages += [m for m in consumer.consume(1000, timeout=0.2) if m.error() is None]
        if len(messages) >= expected:
            break
    consumer.close()
    return messages


def test_valid_distinct_rows_reach_silver_and_malformed_ones_the_dead_letters(
    spark, cfg, bootstrap, tmp_path
):
    topic, dead_topic = topics()
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    events = Events(bootstrap, topic)
    events.send_batch(0, 2_000, resend_every=13, broken_every=17)
    checkpoint = tmp_path / "checkpoint"

    first = ingest(spark, cfg, warehouse, topic, dead_topic, checkpoint)

    assert first.events == events.records
    assert len(first.batches) >= 3  # several micro-batches, so re-sends cross batches too
    assert silver_ids(warehouse) == Counter(events.valid)
    assert dead_letters(warehouse) == events.broken
    bronze = delta(warehouse, BRONZE)
    assert bronze.num_rows == events.records
    sent = dead_letter_topic(bootstrap, dead_topic, len(events.broken))
    headers = [dict(m.headers()) for m in sent]
    assert sorted(h["source"].decode() for h in headers) == sorted(
        f"{topic}/{p}/{o}" for p, o in events.broken
    )
    reasons = {h["source"].decode(): h["reason"].decode() for h in headers}
    some_json = next(f"{topic}/{p}/{o}" for (p, o), r in events.broken.items() if r == ["not_json"])
    assert reasons[some_json] == "value is not a JSON object"

    # More events, some of them re-sends of what silver already has; run again from the
    # checkpoint: nothing read twice, nothing in silver twice.
    events.send_batch(1_990, 500, resend_every=7, broken_every=17)
    again = ingest(spark, cfg, warehouse, topic, dead_topic, checkpoint)

    assert first.events + again.events == events.records
    assert silver_ids(warehouse) == Counter(events.valid)
    assert dead_letters(warehouse) == events.broken
    offsets = delta(warehouse, BRONZE).select(["partition", "offset"]).to_pylist()
    assert len(offsets) == events.records == len({(r["partition"], r["offset"]) for r in offsets})


@pytest.mark.parametrize("crash_after", [SILVER, BRONZE, DEAD])
def test_a_batch_replayed_after_a_crash_following_a_commit_is_written_once(
    spark, cfg, bootstrap, tmp_path, crash_after
):
    topic, dead_topic = topics()
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    events = Events(bootstrap, topic)
    events.send_batch(0, 1_600, resend_every=11, broken_every=9)
    checkpoint = tmp_path / "checkpoint"
    commits: list[tuple[str, int]] = []

    def crash_once(table: str, batch_id: int) -> None:
        commits.append((table, batch_id))
        if (table, batch_id) == (crash_after, 1) and commits.count((table, 1)) == 1:
            raise RuntimeError(f"crash after the commit of {table} for batch 1")

    with pytest.raises(Exception, match="crash after the commit"):
        ingest(spark, cfg, warehouse, topic, dead_topic, checkpoint, after_commit=crash_once)
    replayed = ingest(spark, cfg, warehouse, topic, dead_topic, checkpoint, after_commit=crash_once)

    assert replayed.batches[0].batch_id == 1
    assert crash_after in replayed.batches[0].skipped  # its commit was found, not redone
    assert silver_ids(warehouse) == Counter(events.valid)  # 0 lost, 0 duplicated
    assert dead_letters(warehouse) == events.broken
    bronze = delta(warehouse, BRONZE)
    coordinates = Counter(
        zip(bronze["partition"].to_pylist(), bronze["offset"].to_pylist(), strict=True)
    )
    assert len(coordinates) == events.records
    assert max(coordinates.values()) == 1
    batch_ids = pc.unique(delta(warehouse, SILVER)["_run_id"]).to_pylist()
    assert len(batch_ids) == len({b.split(":")[-1] for b in batch_ids})


def test_a_txn_id_sent_to_several_partitions_lands_once_as_its_latest_version(
    spark, cfg, bootstrap, tmp_path
):
    """Partitions are read by different tasks: the duplicate check spans them (and silver)."""
    topic, dead_topic = topics()
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    producer = Producer({"bootstrap.servers": bootstrap})
    sent: dict[str, dict] = {}
    for i in range(400):
        event = transaction(i)
        sent[event["txn_id"]] = event
        producer.produce(topic, json.dumps(event).encode(), partition=i % 4)
        if i % 10 == 0:  # the same txn_id again on another partition, an hour later
            later = {**event, "txn_ts": f"{event['txn_ts'][:10]}T23:59:59Z"}
            sent[event["txn_id"]] = later
            producer.produce(topic, json.dumps(later).encode(), partition=(i + 1) % 4)
    assert producer.flush(30) == 0

    ingest(spark, cfg, warehouse, topic, dead_topic, tmp_path / "checkpoint", max_offsets=10_000)

    silver = delta(warehouse, SILVER).to_pylist()
    assert Counter(r["txn_id"] for r in silver) == Counter(sent.keys())
    latest = {r["txn_id"]: r["txn_ts"].strftime("%Y-%m-%dT%H:%M:%SZ") for r in silver}
    assert latest == {t: e["txn_ts"] for t, e in sent.items()}


def test_events_older_than_the_watermark_behind_silver_are_late_dead_letters(
    spark, cfg, bootstrap, tmp_path
):
    topic, dead_topic = topics()
    warehouse = Warehouse(str(tmp_path / "warehouse"))
    checkpoint = tmp_path / "checkpoint"
    events = Events(bootstrap, topic)
    events.send(
        json.dumps(transaction(1, day=20)).encode(), txn_id=transaction(1, day=20)["txn_id"]
    )
    events.flush()
    ingest(spark, cfg, warehouse, topic, dead_topic, checkpoint)
    watermark = cfg.streaming.dedupe_watermark_days
    old, recent = transaction(2, day=19 - watermark), transaction(3, day=20 - watermark)
    events.send(json.dumps(old).encode(), rules=["late_event"])
    events.send(json.dumps(recent).encode(), txn_id=recent["txn_id"])
    events.flush()

    ingest(spark, cfg, warehouse, topic, dead_topic, checkpoint)

    assert silver_ids(warehouse) == Counter(events.valid)
    assert dead_letters(warehouse) == events.broken
    reason = delta(warehouse, DEAD)["reason"].to_pylist()
    assert reason == [
        "txn_date is older than the dedupe watermark; load it through the daily batch path"
    ]
