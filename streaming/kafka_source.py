"""Kafka for Spark without Spark's Kafka jar: a Spark 4 Python Data Source over confluent-kafka.

    from streaming import kafka_source
    kafka_source.register(spark)
    events = (
        spark.readStream.format(kafka_source.FORMAT)          # "kafka-py"
        .option("kafka.bootstrap.servers", kafka_bootstrap(cfg))
        .option("subscribe", "transactions")                    # or subscribePattern / assign
        .option("startingOffsets", "earliest")                  # latest (default) | JSON
        .option("maxOffsetsPerTrigger", 200_000)
        .load()
    )
    with kafka_source.typed_errors():                           # one-line lakehouse errors
        query = events.writeStream.foreachBatch(...).option("checkpointLocation", ...).start()
        query.awaitTermination()

Columns are those of Spark's own Kafka source: key, value (binary), topic, partition, offset,
timestamp, timestampType (and headers with includeHeaders=true). With rangesOnly=true the rows
are instead the offset ranges of the micro-batch (topic, partition, fromOffset, untilOffset),
in rangeGroups partitions balanced by record count, for sinks that read the records in their
own tasks with ``read_range`` (_kafka_client.py): moving every record through the JVM and back
into a Python worker costs more than processing it there (streaming/_ingest_sink.py). Options
keep Spark's names
(startingOffsets, endingOffsets for spark.read, maxOffsetsPerTrigger, failOnDataLoss,
minPartitions, maxRecordsPerPartition, kafka.* for librdkafka). Offsets live only in the
Spark checkpoint, as Spark's Kafka offset JSON; nothing is committed to a consumer group. Each
micro-batch reads one task per topic-partition range on the executors.

The format is "kafka-py", not "kafka": Spark reserves that name for its JVM connector and
refuses to register a Python source under it (DATA_SOURCE_ALREADY_EXISTS), jar or not.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceStreamReader,
    InputPartition,
)
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)
from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from lakehouse import errors
from lakehouse.errors import DataLossError, LakehouseError, SourceOptionError
from streaming._kafka_client import READ_BATCH, Broker, read_range, read_ranges
from streaming._kafka_offsets import (
    OffsetRange,
    advance,
    balanced_groups,
    from_json,
    plan_ranges,
    resolve,
    split_ranges,
    to_json,
)
from streaming._kafka_options import KafkaOptions, parse_options

__all__ = [
    "FORMAT",
    "RANGES_SCHEMA",
    "KafkaSource",
    "kafka_schema",
    "read_task_ranges",
    "register",
    "typed_errors",
]

FORMAT = "kafka-py"
log = logging.getLogger(__name__)

_HEADERS = StructField(
    "headers",
    ArrayType(StructType([StructField("key", StringType()), StructField("value", BinaryType())])),
)


def kafka_schema(*, headers: bool = False) -> StructType:
    """The rows every Kafka source in Spark gives."""
    fields = [
        StructField("key", BinaryType()),
        StructField("value", BinaryType()),
        StructField("topic", StringType()),
        StructField("partition", IntegerType()),
        StructField("offset", LongType()),
        StructField("timestamp", TimestampType()),
        StructField("timestampType", IntegerType()),
    ]
    return StructType(fields + ([_HEADERS] if headers else []))


RANGES_SCHEMA = StructType(
    [
        StructField("topic", StringType()),
        StructField("partition", IntegerType()),
        StructField("fromOffset", LongType()),
        StructField("untilOffset", LongType()),
    ]
)


def read_task_ranges(
    batches: Iterator[pa.RecordBatch], options: KafkaOptions, *, per_call: int = READ_BATCH
) -> Iterator[pa.RecordBatch]:
    """The records of a rangesOnly task's RANGES_SCHEMA rows (``mapInArrow``'s input), as
    Spark's Kafka rows, in batches as they arrive (``per_call`` records at most per librdkafka
    call): what the sink's task reads for itself."""
    schema = to_arrow_schema(kafka_schema(), timezone="UTC")
    ranges = [
        OffsetRange(r["topic"], r["partition"], r["fromOffset"], r["untilOffset"])
        for batch in batches
        for r in batch.to_pylist()
    ]
    return read_ranges(ranges, options, schema, per_call=per_call)


def register(spark: SparkSession) -> None:
    """Make ``spark.read``/``spark.readStream.format("kafka-py")`` available in this session."""
    spark.dataSource.register(KafkaSource)


class KafkaInputPartition(InputPartition):
    """One task's work: an offset range of one topic-partition."""

    def __init__(self, offsets: OffsetRange) -> None:
        super().__init__(offsets)
        self.offsets = offsets


class KafkaRangesPartition(InputPartition):
    """rangesOnly: one task's offset ranges, given as rows; the sink reads them."""

    def __init__(self, ranges: list[OffsetRange]) -> None:
        super().__init__(ranges)
        self.ranges = ranges


class KafkaSource(DataSource):
    """Options are parsed here, where Spark builds the source, so a bad one fails at load()."""

    def __init__(self, options) -> None:
        super().__init__(options)
        self.kafka = parse_options(options)

    @classmethod
    def name(cls) -> str:
        return FORMAT

    def schema(self) -> StructType:
        if self.kafka.ranges_only:
            return RANGES_SCHEMA
        return kafka_schema(headers=self.kafka.include_headers)

    def reader(self, schema: StructType) -> KafkaBatchReader:
        self.kafka.check_for("batch")
        return KafkaBatchReader(self.kafka, self._fixed(schema))

    def streamReader(self, schema: StructType) -> KafkaStreamReader:
        self.kafka.check_for("streaming")
        return KafkaStreamReader(self.kafka, self._fixed(schema))

    def _fixed(self, schema: StructType) -> StructType:
        if schema != self.schema():
            raise SourceOptionError(
                "kafka-py: the Kafka source has fixed columns (key, value, topic, partition,"
                " offset, timestamp, timestampType); drop .schema(...) and cast after reading"
            )
        return schema


class _RangeReading:
    """read(): the same for batch and stream reads; runs on executors."""

    kafka: KafkaOptions
    arrow_schema: pa.Schema

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        if isinstance(partition, KafkaRangesPartition):
            rows = [
                {"topic": r.topic, "partition": r.partition, "fromOffset": r.start}
                | {"untilOffset": r.end}
                for r in partition.ranges
            ]
            return iter([pa.RecordBatch.from_pylist(rows, schema=self.arrow_schema)])
        if not isinstance(partition, KafkaInputPartition):
            return iter(())  # Spark's stand-in partition when a batch read plans none
        return read_range(partition.offsets, self.kafka, self.arrow_schema)

    def _split(self, ranges: list[OffsetRange]) -> list[InputPartition]:
        if self.kafka.ranges_only:
            groups = balanced_groups(ranges, self.kafka.range_groups or len(ranges))
            return [KafkaRangesPartition(g) for g in groups]
        pieces = split_ranges(
            ranges,
            min_partitions=self.kafka.min_partitions,
            max_records=self.kafka.max_records_per_partition,
        )
        return [KafkaInputPartition(r) for r in pieces]


class KafkaBatchReader(_RangeReading, DataSourceReader):
    """spark.read: startingOffsets (default earliest) .. endingOffsets (default latest)."""

    def __init__(self, options: KafkaOptions, schema: StructType) -> None:
        self.kafka = options
        # Exactly this Arrow schema, or Spark rejects the batches (and tuples are ~1.3x slower).
        self.arrow_schema = to_arrow_schema(schema, timezone="UTC")

    def partitions(self) -> list[KafkaInputPartition]:
        broker = Broker(self.kafka)
        try:
            current = broker.partitions(require=True)
            earliest, latest = broker.watermarks(current)
        finally:
            broker.close()
        marks = {"earliest": earliest, "latest": latest}
        start = resolve(
            self.kafka.starting or "earliest", current, **marks, option="startingOffsets"
        )
        end = resolve(self.kafka.ending or "latest", current, **marks, option="endingOffsets")
        backwards = [
            f"{t}-{p} {start[t, p]} > {end[t, p]}" for t, p in end if end[t, p] < start[t, p]
        ]
        if backwards:
            raise SourceOptionError(
                f"kafka-py: startingOffsets is after endingOffsets for {', '.join(backwards)}"
            )
        return self._split(plan_ranges(start, end, earliest=earliest)[0])


class KafkaStreamReader(_RangeReading, DataSourceStreamReader, SupportsTriggerAvailableNow):
    """spark.readStream. The driver-side methods run in one long-lived Python process per
    query, which keeps an admin client; executors get a pickled copy without it."""

    def __init__(self, options: KafkaOptions, schema: StructType) -> None:
        self.kafka = options
        self.arrow_schema = to_arrow_schema(schema, timezone="UTC")
        self._broker = Broker(options)
        self._target: dict | None = None  # Trigger.AvailableNow: latest offsets at its start
        self._latest: dict | None = None  # for the query's progress (lag per partition)

    def initialOffset(self) -> dict:
        current = self._broker.partitions(require=True)
        earliest, latest = self._broker.watermarks(current)
        spec = self.kafka.starting or "latest"  # Spark's default for streams
        return to_json(
            resolve(spec, current, earliest=earliest, latest=latest, option="startingOffsets")
        )

    def getDefaultReadLimit(self) -> ReadLimit:
        if self.kafka.max_offsets_per_trigger is None:
            return ReadAllAvailable()
        return ReadMaxRows(self.kafka.max_offsets_per_trigger)

    def prepareForTriggerAvailableNow(self) -> None:
        current = self._broker.partitions(require=False)
        self._target = self._broker.watermarks(current)[1]

    def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
        begin = from_json(start, option="the checkpoint's offsets")
        current = self._broker.partitions(require=False)
        if self._target is not None:
            current = [tp for tp in current if tp in self._target]
        earliest, latest = self._broker.watermarks(current)
        if self._target is not None:
            latest = {tp: min(offset, self._target[tp]) for tp, offset in latest.items()}
        self._latest = latest
        max_rows = limit.max_rows if isinstance(limit, ReadMaxRows) else None
        return to_json(advance(begin, earliest=earliest, latest=latest, max_rows=max_rows))

    def reportLatestOffset(self) -> dict | None:
        return None if self._latest is None else to_json(self._latest)

    def partitions(self, start: dict, end: dict) -> list[KafkaInputPartition]:
        begin, until = from_json(start), from_json(end)
        new = [tp for tp in until if tp not in begin]  # appeared since: read from the earliest
        earliest = self._broker.watermarks(new)[0] if new else {}
        ranges, losses = plan_ranges(begin, until, earliest=earliest)
        if losses and self.kafka.fail_on_data_loss:
            raise DataLossError(
                f"kafka-py: {'; '.join(losses)}; set failOnDataLoss=false to go on without them"
            )
        for loss in losses:
            log.warning("kafka-py: %s (failOnDataLoss=false: going on)", loss)
        return self._split(ranges)

    def commit(self, end: dict) -> None:
        """Nothing: the checkpoint is the only record of what was read."""

    def stop(self) -> None:
        self._broker.close()


# A lakehouse error raised in a Python worker reaches the driver as text inside a Spark error.
_RAISED = re.compile(r"lakehouse\.errors\.(\w+): ([^\n]+)")


@contextmanager
def typed_errors() -> Iterator[None]:
    """Turn a Spark error that carries a lakehouse error raised in a Python worker (the
    source's driver process or an executor) back into that error: one line, no Java trace."""
    try:
        yield
    except LakehouseError:
        raise
    except Exception as err:
        # The last one: a traceback ends with the exception that was finally raised.
        found = _RAISED.findall(str(err))
        name, message = found[-1] if found else ("", "")
        kind = getattr(errors, name, None)
        if not (isinstance(kind, type) and issubclass(kind, LakehouseError)):
            raise
        raise kind(message.strip()) from err
