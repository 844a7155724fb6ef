"""The kafka-py source's options: parsed once, validated with one-line errors, never a broker call.

Names and meanings follow Spark's own Kafka source, so a query written for it needs only a new
format name. Spark hands a Python data source its options with lower-cased keys, so every lookup
here is by the lower-cased name and every message uses the documented spelling.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from lakehouse.errors import SourceOptionError
from streaming._kafka_offsets import EARLIEST, LATEST, OffsetSpec, parse_offset_spec

__all__ = ["KafkaOptions", "consumer_config", "parse_options"]

# The documented spelling of each option the source reads (keys arrive lower-cased).
KNOWN = {
    name.lower(): name
    for name in (
        "kafka.bootstrap.servers",
        "subscribe",
        "subscribePattern",
        "assign",
        "startingOffsets",
        "endingOffsets",
        "maxOffsetsPerTrigger",
        "failOnDataLoss",
        "minPartitions",
        "maxRecordsPerPartition",
        "includeHeaders",
        "kafkaConsumer.pollTimeoutMs",
        "metadataTimeoutMs",
        "rangesOnly",
        "rangeGroups",
    )
}
# The source owns these: offsets live in Spark's checkpoint and a gap must be seen, not skipped.
FORBIDDEN = {
    "kafka.auto.offset.reset": "set startingOffsets instead",
    "kafka.enable.auto.commit": "offsets live in the Spark checkpoint; nothing is committed",
    "kafka.enable.auto.offset.store": "offsets live in the Spark checkpoint",
    "kafka.enable.partition.eof": "the source uses it to find the end of a range",
}


@dataclass(frozen=True)
class KafkaOptions:
    bootstrap_servers: str
    topics: tuple[str, ...] = ()  # subscribe
    pattern: str | None = None  # subscribePattern
    assign: tuple[tuple[str, int], ...] = ()
    starting: OffsetSpec | None = None  # None: the default for batch or streaming
    ending: OffsetSpec | None = None
    max_offsets_per_trigger: int | None = None
    fail_on_data_loss: bool = True
    min_partitions: int | None = None
    max_records_per_partition: int | None = None
    include_headers: bool = False
    # Rows are the offset ranges to read, not the records: for a sink whose tasks read them
    # with read_range and process them in the same Python worker (no trip through the JVM).
    ranges_only: bool = False
    range_groups: int | None = None  # rangesOnly: this many partitions, balanced by records
    poll_timeout_ms: int = 120_000
    metadata_timeout_ms: int = 10_000
    client: dict[str, str] = field(default_factory=dict)  # kafka.* passthrough, prefix dropped

    @property
    def subscription(self) -> str:
        """How the topics are chosen, for messages."""
        if self.pattern is not None:
            return f"subscribePattern {self.pattern!r}"
        if self.assign:
            return f"assign {sorted(set(t for t, _ in self.assign))}"
        return f"subscribe {list(self.topics)}"

    def check_for(self, mode: Literal["batch", "streaming"]) -> None:
        """The options that only one kind of query accepts (Spark's rules)."""
        if mode == "streaming":
            if self.ending is not None:
                raise SourceOptionError(
                    "kafka-py: endingOffsets is for batch reads (spark.read); a stream reads on"
                    " until it is stopped: remove the option"
                )
            return
        if self.max_offsets_per_trigger is not None:
            raise SourceOptionError(
                "kafka-py: maxOffsetsPerTrigger is for streams (spark.readStream); a batch read"
                " takes startingOffsets..endingOffsets at once: remove the option"
            )
        if self.starting == "latest" or _names(self.starting, LATEST):
            raise SourceOptionError(
                "kafka-py: startingOffsets 'latest' (or -1) reads nothing in a batch read;"
                " use 'earliest' or offsets per partition"
            )
        if self.ending == "earliest" or _names(self.ending, EARLIEST):
            raise SourceOptionError(
                "kafka-py: endingOffsets 'earliest' (or -2) reads nothing in a batch read;"
                " use 'latest' or offsets per partition"
            )


def _names(spec: OffsetSpec | None, offset: int) -> bool:
    return isinstance(spec, dict) and offset in spec.values()


def parse_options(options: Mapping[str, str]) -> KafkaOptions:
    """Options as Spark passes them (lower-cased keys) -> KafkaOptions, or SourceOptionError."""
    opts = {k.lower(): str(v) for k, v in options.items()}
    _check_names(opts)
    bootstrap = opts.get("kafka.bootstrap.servers", "").strip()
    if not bootstrap:
        raise SourceOptionError(
            "kafka-py: option kafka.bootstrap.servers is required (host:port[,host:port]);"
            " locally lakehouse.services.kafka_bootstrap(cfg) gives it"
        )
    topics, pattern, assign = _subscription(opts)
    return KafkaOptions(
        bootstrap_servers=bootstrap,
        topics=topics,
        pattern=pattern,
        assign=assign,
        starting=_spec(opts, "startingOffsets"),
        ending=_spec(opts, "endingOffsets"),
        max_offsets_per_trigger=_positive(opts, "maxOffsetsPerTrigger"),
        fail_on_data_loss=_boolean(opts, "failOnDataLoss", default=True),
        min_partitions=_positive(opts, "minPartitions"),
        max_records_per_partition=_positive(opts, "maxRecordsPerPartition"),
        include_headers=_boolean(opts, "includeHeaders", default=False),
        ranges_only=_boolean(opts, "rangesOnly", default=False),
        range_groups=_positive(opts, "rangeGroups"),
        poll_timeout_ms=_positive(opts, "kafkaConsumer.pollTimeoutMs") or 120_000,
        metadata_timeout_ms=_positive(opts, "metadataTimeoutMs") or 10_000,
        client={
            k.removeprefix("kafka."): v
            for k, v in opts.items()
            if k.startswith("kafka.") and k != "kafka.bootstrap.servers"
        },
    )


def consumer_config(
    options: KafkaOptions, *, role: Literal["driver", "executor"], records: int | None = None
) -> dict:
    """librdkafka settings: ours, the user's kafka.* options, then what the source must own.
    ``records``: how many a reading consumer is to fetch, so it does not prefetch far beyond."""
    ours: dict = {
        # librdkafka wants a group even for assign(); nothing is ever committed to it.
        "group.id": f"lakehouse-kafka-py-{role}-{uuid.uuid4().hex[:12]}",
    }
    if records is not None:
        # librdkafka decompresses what it prefetches: by default up to 100k records past the
        # end of a small range, paid again by every micro-batch (measured: ~2x the CPU).
        ours["queued.min.messages"] = min(max(records, 1_000), 100_000)
    return {
        **ours,
        **options.client,
        "bootstrap.servers": options.bootstrap_servers,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",  # a deleted offset is reported, never silently skipped
        "enable.partition.eof": True,
    }


def _check_names(opts: Mapping[str, str]) -> None:
    for key in opts:
        if key in FORBIDDEN:
            raise SourceOptionError(f"kafka-py: option {key} is not allowed: {FORBIDDEN[key]}")
        if key not in KNOWN and not key.startswith("kafka.") and key != "path":
            raise SourceOptionError(
                f"kafka-py: unknown option {key!r}; known: {', '.join(sorted(KNOWN.values()))}"
                " (librdkafka settings take the prefix kafka.)"
            )


def _subscription(
    opts: Mapping[str, str],
) -> tuple[tuple[str, ...], str | None, tuple[tuple[str, int], ...]]:
    given = [KNOWN[k] for k in ("subscribe", "subscribepattern", "assign") if k in opts]
    if len(given) != 1:
        found = f"got {' and '.join(given)}" if given else "got none"
        raise SourceOptionError(
            f"kafka-py: set exactly one of subscribe (topic[,topic]), subscribePattern (a regex)"
            f' or assign (JSON {{"topic":[0,1]}}); {found}'
        )
    if "subscribe" in opts:
        topics = tuple(dict.fromkeys(t.strip() for t in opts["subscribe"].split(",") if t.strip()))
        if not topics:
            raise SourceOptionError("kafka-py: subscribe names no topic; give topic[,topic]")
        return topics, None, ()
    if "subscribepattern" in opts:
        pattern = opts["subscribepattern"]
        try:
            re.compile(pattern)
        except re.error as err:
            raise SourceOptionError(
                f"kafka-py: subscribePattern {pattern!r} is not a regular expression ({err})"
            ) from None
        return (), pattern, ()
    return (), None, _assignment(opts["assign"])


def _assignment(text: str) -> tuple[tuple[str, int], ...]:
    import json

    try:
        value = json.loads(text)
    except ValueError:
        value = None
    valid = (
        isinstance(value, dict)
        and value
        and all(
            isinstance(ps, list) and ps and all(type(p) is int and p >= 0 for p in ps)
            for ps in value.values()
        )
    )
    if not valid:
        raise SourceOptionError(
            f'kafka-py: assign {text!r} is not JSON like {{"topic":[0,1]}} (partition numbers'
            " >= 0 per topic)"
        )
    return tuple(sorted({(t, p) for t, ps in value.items() for p in ps}))


def _spec(opts: Mapping[str, str], name: str) -> OffsetSpec | None:
    text = opts.get(name.lower())
    return None if text is None else parse_offset_spec(text, option=name)


def _positive(opts: Mapping[str, str], name: str) -> int | None:
    text = opts.get(name.lower())
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if value < 1:
        raise SourceOptionError(f"kafka-py: {name} must be a whole number >= 1, got {text!r}")
    return value


def _boolean(opts: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = opts.get(name.lower())
    if text is None:
        return default
    if text.strip().lower() not in ("true", "false"):
        raise SourceOptionError(f"kafka-py: {name} must be true or false, got {text!r}")
    return text.strip().lower() == "true"
