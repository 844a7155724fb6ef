"""The kafka-py source against the real local broker: what is read equals what the broker
acknowledged (keys, values, partitions, offsets, timestamps), per-partition offsets, streams
with maxOffsetsPerTrigger exactly once across micro-batches and across a restart from the
checkpoint, new topics picked up mid-stream, and one-line errors.

Each test writes its own topic (the broker creates it with 4 partitions on first use); the
expected rows come from the producer's delivery reports, never from the source under test.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

import pytest
from confluent_kafka import Producer

from lakehouse.errors import (
    DataLossError,
    SourceOptionError,
    SourceUnavailableError,
    TopicNotFoundError,
)
from lakehouse.services import kafka_bootstrap
from lakehouse.services._process import free_port
from streaming import kafka_source

pytestmark = pytest.mark.integration

COLUMNS = ["key", "value", "topic", "partition", "offset", "timestamp", "timestampType"]
BASE_MS = 1_714_521_600_000  # 2024-05-01T00:00:00Z
PARTITIONS = 4  # the mock broker's partition count for a topic created on first use


@pytest.fixture(scope="module")
def bootstrap(cfg, local_services) -> str:
    return kafka_bootstrap(cfg)


@pytest.fixture(scope="module")
def kafka(spark):
    kafka_source.register(spark)
    return spark


def new_topic(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def produce(bootstrap: str, topic: str, count: int, *, first: int = 0) -> list[tuple]:
    """``count`` records spread over the partitions, compressed and batched as the mock
    broker's tiny retention needs; returns the rows the broker acknowledged, in COLUMNS order."""
    producer = Producer(
        {"bootstrap.servers": bootstrap, "compression.type": "zstd", "linger.ms": 5}
    )
    acked: list[tuple] = []

    def delivered(err, msg) -> None:
        assert err is None, err
        # The timestamp is ours (CreateTime); a delivery report does not carry it back.
        stamp = dt.datetime(2024, 5, 1) + dt.timedelta(milliseconds=int(msg.value()[5:-1]))
        acked.append((msg.key(), msg.value(), topic, msg.partition(), msg.offset(), stamp, 0))

    for i in range(first, first + count):
        key = None if i % 10 == 0 else f"k{i}".encode()  # null keys are valid Kafka records
        value = f'{{"n":{i}}}'.encode()
        producer.produce(
            topic,
            value,
            key,
            partition=i % PARTITIONS,
            timestamp=BASE_MS + i,
            on_delivery=delivered,
        )
    assert producer.flush(30) == 0
    return sorted(acked, key=lambda row: (row[3], row[4]))


def rows(df) -> list[tuple]:
    return sorted((tuple(r) for r in df.select(*COLUMNS).collect()), key=lambda r: (r[3], r[4]))


def stream(kafka, bootstrap: str, topic: str, **options):
    reader = kafka.readStream.format(kafka_source.FORMAT)
    reader = reader.option("kafka.bootstrap.servers", bootstrap).option("subscribe", topic)
    return reader.options(**{"startingOffsets": "earliest", **options}).load()


def run_available_now(df, checkpoint, collect) -> None:
    with kafka_source.typed_errors():
        query = (
            df.writeStream.foreachBatch(collect)
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination(120)
    assert not query.isActive


def test_batch_read_equals_what_the_broker_acknowledged(kafka, bootstrap):
    topic = new_topic("batch")
    produced = produce(bootstrap, topic, 200)

    df = (
        kafka.read.format(kafka_source.FORMAT)
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .load()
    )

    assert df.schema == kafka_source.kafka_schema()
    assert rows(df) == produced
    assert produced[0][5] == dt.datetime(2024, 5, 1)  # CreateTime set by the producer, UTC


def test_batch_read_takes_starting_and_ending_offsets_per_partition(kafka, bootstrap):
    topic = new_topic("offsets")
    produced = produce(bootstrap, topic, 80)  # 20 per partition, offsets 0..19
    starting = {topic: {"0": 3, "1": -2, "2": 19, "3": 0}}
    ending = {topic: {"0": 8, "1": -1, "2": -1, "3": 0}}

    df = (
        kafka.read.format(kafka_source.FORMAT)
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("startingOffsets", json_text(starting))
        .option("endingOffsets", json_text(ending))
        .load()
    )

    wanted = {0: range(3, 8), 1: range(0, 20), 2: range(19, 20), 3: range(0)}
    assert rows(df) == [r for r in produced if r[4] in wanted[r[3]]]


def test_ranges_only_gives_the_offset_ranges_in_balanced_groups(kafka, bootstrap):
    topic = new_topic("ranges")
    produce(bootstrap, topic, 200)  # 50 per partition

    df = (
        kafka.read.format(kafka_source.FORMAT)
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("rangesOnly", "true")
        .option("rangeGroups", 2)
        .load()
    )

    assert df.schema == kafka_source.RANGES_SCHEMA
    assert df.rdd.getNumPartitions() == 2
    per_task = df.rdd.glom().map(len).collect()
    assert sorted(per_task) == [2, 2]
    got = sorted(tuple(r) for r in df.collect())
    assert got == [(topic, p, 0, 50) for p in range(PARTITIONS)]


def json_text(value) -> str:
    import json

    return json.dumps(value)


def test_stream_reads_every_record_exactly_once_in_limited_micro_batches(
    kafka, bootstrap, tmp_path
):
    topic = new_topic("stream")
    produced = produce(bootstrap, topic, 1_000)
    batches: dict[int, list[tuple]] = {}

    df = stream(kafka, bootstrap, topic, maxOffsetsPerTrigger=300)
    run_available_now(df, tmp_path / "checkpoint", lambda b, i: batches.setdefault(i, rows(b)))

    assert [len(b) for _, b in sorted(batches.items())] == [300, 300, 300, 100]
    read = [r for b in batches.values() for r in b]
    assert sorted(read, key=lambda r: (r[3], r[4])) == produced


def test_restart_from_the_checkpoint_replays_the_failed_batch_and_goes_on(
    kafka, bootstrap, tmp_path
):
    topic = new_topic("restart")
    produced = produce(bootstrap, topic, 400)
    attempts: list[tuple[int, list[tuple]]] = []

    def crash_in_second_batch(batch, batch_id) -> None:
        attempts.append((batch_id, rows(batch)))
        if batch_id == 1 and len(attempts) == 2:
            raise RuntimeError("sink fails mid-stream")

    df = stream(kafka, bootstrap, topic, maxOffsetsPerTrigger=150)
    with pytest.raises(Exception, match="sink fails mid-stream"):
        run_available_now(df, tmp_path / "checkpoint", crash_in_second_batch)
    produced += produce(bootstrap, topic, 100, first=400)  # more arrives while it is down
    run_available_now(df, tmp_path / "checkpoint", crash_in_second_batch)

    ids = [batch_id for batch_id, _ in attempts]
    assert ids == [0, 1, 1, 2, 3]  # batch 1 ran again, nothing else did
    assert attempts[1][1] == attempts[2][1]  # the same offsets, so the same records
    done = [r for batch_id, b in dict(attempts).items() for r in b]
    assert Counter(done) == Counter(produced)  # 0 lost, 0 duplicated


def test_a_new_topic_matching_the_pattern_is_read_from_its_earliest_offset(
    kafka, bootstrap, tmp_path
):
    prefix = new_topic("pattern")
    produced = produce(bootstrap, f"{prefix}-a", 40)
    seen: list[tuple] = []
    df = (
        kafka.readStream.format(kafka_source.FORMAT)
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribePattern", f"{prefix}-.*")
        .option("startingOffsets", "earliest")
        .load()
    )
    query = (
        df.writeStream.foreachBatch(lambda b, _: seen.extend(rows(b)))
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(processingTime="200 milliseconds")
        .start()
    )
    try:
        query.processAllAvailable()
        produced += produce(bootstrap, f"{prefix}-b", 40)  # a topic born while the query runs
        query.processAllAvailable()
    finally:
        query.stop()

    assert sorted(seen, key=lambda r: (r[2], r[3], r[4])) == sorted(
        produced, key=lambda r: (r[2], r[3], r[4])
    )


def test_unreachable_broker_is_a_one_line_error_naming_the_address(kafka, tmp_path):
    address = f"127.0.0.1:{free_port()}"
    df = stream(kafka, address, "transactions", metadataTimeoutMs=1000)

    with pytest.raises(SourceUnavailableError, match=address) as caught:
        run_available_now(df, tmp_path / "checkpoint", lambda b, i: None)

    assert "lakehouse services up kafka" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_topic_is_a_one_line_error(kafka, bootstrap):
    topic = new_topic("missing")

    with (
        pytest.raises(TopicNotFoundError, match=f"{topic} does not exist"),
        kafka_source.typed_errors(),
    ):
        kafka.read.format(kafka_source.FORMAT).option("kafka.bootstrap.servers", bootstrap).option(
            "subscribe", topic
        ).load().count()


def test_a_bad_option_fails_at_load_with_a_one_line_error(kafka, bootstrap):
    with (
        pytest.raises(SourceOptionError, match="maxOffsetsPerTrigger must be"),
        kafka_source.typed_errors(),
    ):
        stream(kafka, bootstrap, "transactions", maxOffsetsPerTrigger="-5")


def test_a_range_the_broker_does_not_have_is_data_loss_unless_told_to_skip(kafka, bootstrap):
    topic = new_topic("loss")
    produced = produce(bootstrap, topic, 40)  # offsets 0..9 per partition
    ending = json_text({topic: {"0": 50, "1": -1, "2": -1, "3": -1}})
    reader = (
        kafka.read.format(kafka_source.FORMAT)
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", topic)
        .option("endingOffsets", ending)
    )

    with (
        pytest.raises(DataLossError, match=f"{topic}-0 offsets 0..50"),
        kafka_source.typed_errors(),
    ):
        reader.load().count()
    assert rows(reader.option("failOnDataLoss", "false").load()) == produced


def test_ranges_read_with_one_consumer_equal_the_broker_and_skip_only_what_is_gone(bootstrap):
    # A sink task's read (rangesOnly): every partition's range in one consumer, one of them
    # reaching past what the broker holds and one empty.
    from pyspark.sql.pandas.types import to_arrow_schema

    from streaming._kafka_client import read_ranges
    from streaming._kafka_offsets import OffsetRange
    from streaming._kafka_options import parse_options

    topic = new_topic("ranges")
    produced = produce(bootstrap, topic, 400)  # offsets 0..99 per partition
    ranges = [
        OffsetRange(topic, 0, 10, 60),
        OffsetRange(topic, 1, 0, 100),
        OffsetRange(topic, 2, 50, 50),  # empty
        OffsetRange(topic, 3, 90, 150),  # 100..149 were never written
    ]
    schema = to_arrow_schema(kafka_source.kafka_schema(), timezone="UTC")
    options = {"kafka.bootstrap.servers": bootstrap, "subscribe": topic}

    def read(**extra) -> list[tuple]:
        batches = read_ranges(ranges, parse_options(options | extra), schema)
        got = [b.to_pylist() for b in batches]
        return sorted(
            (tuple(r[c] for c in COLUMNS[:5]) for batch in got for r in batch),
            key=lambda row: (row[3], row[4]),
        )

    wanted = [
        row[:5]
        for row in produced
        if (row[3] == 0 and 10 <= row[4] < 60) or row[3] == 1 or (row[3] == 3 and row[4] >= 90)
    ]
    assert read(failOnDataLoss="false") == wanted
    with pytest.raises(DataLossError, match=f"{topic}-3 offsets 90..150"):
        read()
