"""What the kafka-py source asks the broker: the driver's metadata (partitions, watermarks) and
an executor's read of one offset range into Arrow record batches (confluent-kafka/librdkafka).

librdkafka failures become one-line lakehouse errors naming the broker and what to do.
"""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from confluent_kafka import Consumer, KafkaError, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from lakehouse.errors import (
    DataLossError,
    SourceOptionError,
    SourceUnavailableError,
    TopicNotFoundError,
)
from streaming._kafka_offsets import OffsetRange, Offsets, TopicPartition
from streaming._kafka_options import KafkaOptions, consumer_config

__all__ = ["Broker", "read_range", "read_ranges"]

log = logging.getLogger("streaming.kafka_source")
# librdkafka's own log lines (a refused connection every 50 ms while a broker is down) go here:
# silent unless the application configures logging; the errors raised say what went wrong.
librdkafka_log = logging.getLogger("streaming.kafka_source.librdkafka")
librdkafka_log.addHandler(logging.NullHandler())

# Records asked of librdkafka per call, and so per Arrow batch handed to Spark.
READ_BATCH = 10_000
# librdkafka's timestamp types are Spark's (Kafka's TimestampType ids) plus one.
_TIMESTAMP_TYPE_SHIFT = 1


def _consumer(options: KafkaOptions, *, role: str, records: int | None = None) -> Consumer:
    conf = consumer_config(options, role=role, records=records)
    conf["logger"] = librdkafka_log
    try:
        return Consumer(conf)
    except (KafkaException, TypeError, ValueError) as err:
        raise SourceOptionError(
            f"kafka-py: librdkafka rejects the kafka.* options: {err}"
        ) from None


def _unavailable(options: KafkaOptions, err: Exception, what: str) -> SourceUnavailableError:
    reason = err.args[0].str() if err.args and isinstance(err.args[0], KafkaError) else str(err)
    return SourceUnavailableError(
        f"kafka-py: no answer from the Kafka broker at {options.bootstrap_servers} while"
        f" {what} ({reason}, waited {options.metadata_timeout_ms / 1000:g} s); start it (locally:"
        " `lakehouse services up kafka`) or fix kafka.bootstrap.servers"
    )


class Broker:
    """The driver's view of the cluster for one source: an admin client made on first use and
    never pickled (Spark ships readers to other processes). Watermarks of all partitions come
    in two batched ListOffsets requests, not two round trips per partition."""

    def __init__(self, options: KafkaOptions) -> None:
        self.options = options
        self._client: AdminClient | None = None

    def __getstate__(self) -> dict:
        return {"options": self.options, "_client": None}

    @property
    def _timeout(self) -> float:
        return self.options.metadata_timeout_ms / 1000

    def _admin(self) -> AdminClient:
        if self._client is None:
            conf = {
                **self.options.client,
                "bootstrap.servers": self.options.bootstrap_servers,
                "logger": librdkafka_log,  # consumer-only kafka.* settings are ignored, logged
            }
            try:
                self._client = AdminClient(conf)
            except (KafkaException, TypeError, ValueError) as err:
                raise SourceOptionError(
                    f"kafka-py: librdkafka rejects the kafka.* options: {err}"
                ) from None
        return self._client

    def close(self) -> None:
        self._client = None  # librdkafka's handle goes with the last reference

    def partitions(self, *, require: bool) -> list[TopicPartition]:
        """The subscription's partitions now. ``require``: a named topic that does not exist
        is an error (at the start of a query); later a vanished topic is a data loss."""
        try:
            metadata = self._admin().list_topics(timeout=self._timeout)
        except KafkaException as err:
            raise _unavailable(self.options, err, "listing topics") from None
        present = {
            name: sorted(t.partitions)
            for name, t in metadata.topics.items()
            if t.error is None or t.partitions
        }
        opts = self.options
        if opts.pattern is not None:
            matcher = re.compile(opts.pattern)
            # Internal topics (__consumer_offsets, ...) are not data, as in Kafka's consumers.
            chosen = [t for t in sorted(present) if matcher.fullmatch(t) and t[:2] != "__"]
            return [(t, p) for t in chosen for p in present[t]]
        wanted = opts.assign or [(t, p) for t in opts.topics for p in present.get(t, [])]
        missing = sorted({t for t in (opts.topics or ()) if t not in present})
        missing_parts = [tp for tp in opts.assign if tp[1] not in present.get(tp[0], [])]
        if require and (missing or missing_parts):
            what = ", ".join(missing) or ", ".join(f"{t}-{p}" for t, p in missing_parts)
            raise TopicNotFoundError(
                f"kafka-py: {what} does not exist on the broker at {opts.bootstrap_servers}"
                f" ({opts.subscription}); create it (locally: kafka.topics in conf/<env>.yaml)"
                " or fix the name"
            )
        return sorted(tp for tp in wanted if tp[1] in present.get(tp[0], []))

    def watermarks(self, partitions: Iterable[TopicPartition]) -> tuple[Offsets, Offsets]:
        """(earliest, latest) offset of each partition, straight from the broker."""
        partitions = list(partitions)
        if not partitions:
            return {}, {}
        return self._offsets(partitions, OffsetSpec.earliest()), self._offsets(
            partitions, OffsetSpec.latest()
        )

    def _offsets(self, partitions: list[TopicPartition], spec: OffsetSpec) -> Offsets:
        asked = {KafkaPartition(t, p): spec for t, p in partitions}
        try:
            futures = self._admin().list_offsets(asked, request_timeout=self._timeout)
            return {(tp.topic, tp.partition): f.result().offset for tp, f in futures.items()}
        except KafkaException as err:
            raise _unavailable(self.options, err, "asking partition offsets") from None


def read_range(
    offsets: OffsetRange, options: KafkaOptions, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Records [start, end) of one partition as Arrow batches of ``schema`` (Spark's Kafka
    columns). Runs in an executor: the consumer lives only for this call."""
    return read_ranges([offsets], options, schema)


@dataclass
class _Reading:
    planned: OffsetRange
    position: int
    end: int
    checked: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return self.planned.topic, self.planned.partition


def read_ranges(
    ranges: Iterable[OffsetRange],
    options: KafkaOptions,
    schema: pa.Schema,
    *,
    per_call: int = READ_BATCH,
) -> Iterator[pa.RecordBatch]:
    """The records of ``ranges`` (one per partition) as Arrow batches, with one consumer:
    librdkafka fetches every assigned partition in each request. A consumer per range paid its
    connection and first round trips every time: 8 ranges of ~300 records took ~0.3 s of a task
    against a busy broker. A call waits for ``per_call`` records (or the ranges' end), while
    librdkafka keeps fetching the next in the background."""
    todo = {(r.topic, r.partition): _Reading(r, r.start, r.end) for r in ranges if r.size > 0}
    if not todo:
        return
    total = sum(r.end - r.position for r in todo.values())
    consumer = _consumer(options, role="executor", records=total)
    try:
        consumer.assign([KafkaPartition(*r.key, r.position) for r in todo.values()])
        waited_since = time.monotonic()
        while todo:
            left = sum(r.end - r.position for r in todo.values())
            # Never ask for more than the ranges hold: librdkafka would wait out the timeout.
            messages = consumer.consume(num_messages=min(per_call, left), timeout=1.0)
            got = _by_partition(messages)
            done = []
            for key, reading in todo.items():
                records, reached_end, gone = _sort_out(
                    got.get(key, []), reading.end, reading.planned, options
                )
                if records:
                    reading.position = records[-1].offset() + 1
                    waited_since = time.monotonic()
                    yield _to_batch(
                        records, reading.planned, schema, headers=options.include_headers
                    )
                if reached_end or reading.position >= reading.end:
                    done.append(key)
                elif gone or not (messages or reading.checked):
                    # Only a range that cannot be read as planned asks the broker what it
                    # keeps (retention, a recreated topic): _check_range raises or skips what is
                    # gone. Asked of every range, a fresh consumer's first round trip, it cost a
                    # small batch's task ~2 ms a range and, now and then, 0.7 s.
                    _recheck(consumer, reading, options)
            for key in done:
                del todo[key]
            if done:
                consumer.incremental_unassign([KafkaPartition(*key) for key in done])
            if todo and time.monotonic() - waited_since > options.poll_timeout_ms / 1000:
                topic, partition = next(iter(todo))
                position, end = todo[(topic, partition)].position, todo[(topic, partition)].end
                raise SourceUnavailableError(
                    f"kafka-py: no records from {topic}-{partition} at offset {position} (range"
                    f" ends at {end}) within kafkaConsumer.pollTimeoutMs ="
                    f" {options.poll_timeout_ms} ms from {options.bootstrap_servers}; is the"
                    " broker up?"
                )
    finally:
        consumer.close()


def _by_partition(messages: list) -> dict[tuple[str, int], list]:
    grouped: dict[tuple[str, int], list] = {}
    for message in messages:
        grouped.setdefault((message.topic(), message.partition()), []).append(message)
    return grouped


def _recheck(consumer: Consumer, reading: _Reading, options: KafkaOptions) -> None:
    left = OffsetRange(*reading.key, reading.position, reading.end)
    reading.position, reading.end = _check_range(consumer, left, options, planned=reading.planned)
    consumer.incremental_unassign([KafkaPartition(*reading.key)])
    consumer.incremental_assign([KafkaPartition(*reading.key, reading.position)])
    reading.checked = True


def _sort_out(
    messages: list, end: int, r: OffsetRange, options: KafkaOptions
) -> tuple[list, bool, bool]:
    """(records before ``end``, whether the end was passed, whether the next offset is gone)."""
    records, reached_end = [], False
    for message in messages:
        err = message.error()
        if err is None:
            if message.offset() < end:
                records.append(message)
            else:
                reached_end = True
        elif err.code() == KafkaError._PARTITION_EOF:
            reached_end = reached_end or message.offset() >= end
        elif err.code() == KafkaError._AUTO_OFFSET_RESET:
            return records, reached_end, True
        else:
            raise SourceUnavailableError(
                f"kafka-py: reading {r.topic}-{r.partition} from {options.bootstrap_servers}"
                f" failed: {err.str()}"
            )
    return records, reached_end, False


def _check_range(
    consumer: Consumer, r: OffsetRange, options: KafkaOptions, *, planned: OffsetRange
) -> tuple[int, int]:
    """What is left to read of ``r`` (the rest of the ``planned`` range) after retention: its
    start moved up to the earliest offset still kept (failOnDataLoss=false) or DataLossError."""
    try:
        low, high = consumer.get_watermark_offsets(
            KafkaPartition(r.topic, r.partition),
            timeout=options.metadata_timeout_ms / 1000,
            cached=False,
        )
    except KafkaException as err:
        raise _unavailable(options, err, f"asking {r.topic}-{r.partition}'s offsets") from None
    start, end = max(r.start, low), min(r.end, high)
    if (start, end) != (r.start, r.end):
        message = (
            f"kafka-py: {r.topic}-{r.partition} offsets {planned.start}..{planned.end} were to be"
            f" read but the broker now keeps {low}..{high} (retention, or the topic was recreated)"
        )
        if options.fail_on_data_loss:
            raise DataLossError(
                message + "; read faster or keep data longer, or set failOnDataLoss=false to skip"
            )
        log.warning("%s; skipping what is gone (failOnDataLoss=false)", message)
    return start, max(start, end)


def _to_batch(records: list, r: OffsetRange, schema: pa.Schema, *, headers: bool) -> pa.RecordBatch:
    n = len(records)
    # (type, ms) pairs flattened: building an array from a list of tuples costs ~5x more.
    pairs = itertools.chain.from_iterable([m.timestamp() for m in records])
    stamps = np.fromiter(pairs, dtype=np.int64, count=2 * n).reshape(n, 2)
    columns = [
        pa.array([m.key() for m in records], pa.binary()),
        pa.array([m.value() for m in records], pa.binary()),
        pa.array([r.topic] * n, pa.string()),
        pa.array(np.full(n, r.partition, dtype=np.int32)),
        pa.array(np.fromiter((m.offset() for m in records), dtype=np.int64, count=n)),
        pa.array(stamps[:, 1] * 1000, schema.field("timestamp").type),
        pa.array((stamps[:, 0] - _TIMESTAMP_TYPE_SHIFT).astype(np.int32)),
    ]
    if headers:
        columns.append(
            pa.array(
                [
                    None if h is None else [{"key": k, "value": v} for k, v in h]
                    for h in (m.headers() for m in records)
                ],
                schema.field("headers").type,
            )
        )
    return pa.RecordBatch.from_arrays(columns, schema=schema)
