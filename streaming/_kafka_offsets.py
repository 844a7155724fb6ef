"""Offsets of the kafka-py source: the JSON Spark keeps in its checkpoint, how far a micro-batch
may go, and the ranges its tasks read. Pure functions: watermarks come in as arguments.

An offset map is {(topic, partition): next offset to read}. In the checkpoint and in
startingOffsets/endingOffsets it is Spark's Kafka JSON, {"topic": {"0": 23, "1": -2}}, where -2
means earliest and -1 latest.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeAlias

from lakehouse.errors import SourceOptionError, TopicNotFoundError

__all__ = [
    "EARLIEST",
    "LATEST",
    "OffsetRange",
    "OffsetSpec",
    "Offsets",
    "TopicPartition",
    "advance",
    "balanced_groups",
    "from_json",
    "parse_offset_spec",
    "plan_ranges",
    "rate_limit",
    "resolve",
    "split_ranges",
    "to_json",
]

EARLIEST = -2
LATEST = -1

TopicPartition: TypeAlias = tuple[str, int]
Offsets: TypeAlias = dict[TopicPartition, int]
OffsetSpec: TypeAlias = Literal["earliest", "latest"] | Offsets


@dataclass(frozen=True, order=True)
class OffsetRange:
    """Offsets [start, end) of one partition: what one Spark task reads."""

    topic: str
    partition: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


def to_json(offsets: Mapping[TopicPartition, int]) -> dict[str, dict[str, int]]:
    """Spark's Kafka offset JSON, topics and partitions in order: Spark compares offsets as
    text, so the same offsets must always serialize the same way."""
    out: dict[str, dict[str, int]] = {}
    for (topic, partition), offset in sorted(offsets.items()):
        out.setdefault(topic, {})[str(partition)] = int(offset)
    return out


def from_json(value: object, *, option: str = "offsets") -> Offsets:
    """{"topic": {"0": 23}} -> {("topic", 0): 23}; SourceOptionError if it is not that shape."""
    example = '{"topic":{"0":23,"1":-2}}'
    if not isinstance(value, dict):
        raise SourceOptionError(f"kafka-py: {option} must be a JSON object like {example}")
    offsets: Offsets = {}
    for topic, partitions in value.items():
        if not isinstance(partitions, dict) or not partitions:
            raise SourceOptionError(
                f"kafka-py: {option} for topic {topic!r} must map partitions to offsets,"
                f" like {example}"
            )
        for partition, offset in partitions.items():
            if not (isinstance(partition, str) and partition.isdigit()):
                raise SourceOptionError(
                    f"kafka-py: {option}: partition {partition!r} of {topic!r} is not a number"
                )
            if type(offset) is not int or offset < EARLIEST:
                raise SourceOptionError(
                    f"kafka-py: {option}: offset {offset!r} for {topic}-{partition} must be an"
                    " integer >= 0, or -2 (earliest) or -1 (latest)"
                )
            offsets[(topic, int(partition))] = offset
    return offsets


def parse_offset_spec(text: str, *, option: str) -> OffsetSpec:
    """'earliest', 'latest' or per-partition JSON (startingOffsets / endingOffsets)."""
    word = text.strip().lower()
    if word in ("earliest", "latest"):
        return word  # type: ignore[return-value]
    try:
        value = json.loads(text)
    except ValueError:
        raise SourceOptionError(
            f"kafka-py: {option} must be 'earliest', 'latest' or JSON like"
            f' {{"topic":{{"0":23,"1":-2}}}}; got {text!r}'
        ) from None
    return from_json(value, option=option)


def resolve(
    spec: OffsetSpec,
    partitions: Iterable[TopicPartition],
    *,
    earliest: Mapping[TopicPartition, int],
    latest: Mapping[TopicPartition, int],
    option: str,
) -> Offsets:
    """Concrete offsets for every current partition. Per-partition JSON must name each one
    (as Spark requires: a forgotten partition would silently start somewhere)."""
    partitions = sorted(partitions)
    if spec == "earliest":
        return {tp: earliest[tp] for tp in partitions}
    if spec == "latest":
        return {tp: latest[tp] for tp in partitions}
    assert isinstance(spec, dict)
    unknown = sorted(set(spec) - set(partitions))
    if unknown:
        raise TopicNotFoundError(
            f"kafka-py: {option} names {_names(unknown)}, which the broker does not have for"
            f" this subscription (it has {_names(partitions)})"
        )
    missing = sorted(set(partitions) - set(spec))
    if missing:
        raise SourceOptionError(
            f"kafka-py: {option} gives offsets per partition but leaves out {_names(missing)};"
            " name every partition (-2 earliest, -1 latest)"
        )
    named = {EARLIEST: earliest, LATEST: latest}
    return {tp: named[off][tp] if off in named else off for tp, off in sorted(spec.items())}


def advance(
    start: Mapping[TopicPartition, int],
    *,
    earliest: Mapping[TopicPartition, int],
    latest: Mapping[TopicPartition, int],
    max_rows: int | None,
) -> Offsets:
    """The end offsets of the next micro-batch: every partition in ``latest`` (the current
    ones; a new partition starts at its earliest offset), at most ``max_rows`` records in all."""
    base = {tp: start[tp] if tp in start else earliest[tp] for tp in latest}
    if max_rows is None:
        return dict(sorted(latest.items()))
    return rate_limit(base, latest, max_rows)


def rate_limit(
    base: Mapping[TopicPartition, int], latest: Mapping[TopicPartition, int], max_rows: int
) -> Offsets:
    """Shares of ``max_rows`` in proportion to each partition's backlog, never more in total
    (largest remainders get the rounding). A partition whose latest offset went below its
    base (a recreated topic) keeps that latest offset so the planner can report the loss."""
    backlog = {tp: max(latest[tp] - base[tp], 0) for tp in latest}
    total = sum(backlog.values())
    if total <= max_rows:
        return dict(sorted(latest.items()))
    shares = {tp: max_rows * size // total for tp, size in backlog.items()}
    remainders = sorted(backlog, key=lambda tp: (-(max_rows * backlog[tp] % total), tp))
    for tp in remainders[: max_rows - sum(shares.values())]:
        shares[tp] += 1
    return {
        tp: latest[tp] if latest[tp] < base[tp] else base[tp] + shares[tp] for tp in sorted(latest)
    }


def plan_ranges(
    start: Mapping[TopicPartition, int],
    end: Mapping[TopicPartition, int],
    *,
    earliest: Mapping[TopicPartition, int],
) -> tuple[list[OffsetRange], list[str]]:
    """The non-empty ranges between two offset maps, and the data losses seen on the way
    (a partition that went backwards or vanished), as sentences for the caller to raise or log.
    A partition only in ``end`` is new: it is read from ``earliest``."""
    ranges, losses = [], []
    for tp, until in sorted(end.items()):
        since = start[tp] if tp in start else earliest[tp]
        if until < since:
            losses.append(
                f"{tp[0]}-{tp[1]} went back from offset {since} to {until} (topic recreated or"
                " truncated?); records before it may be lost"
            )
        elif until > since:
            ranges.append(OffsetRange(tp[0], tp[1], since, until))
    gone = sorted(set(start) - set(end))
    if gone:
        losses.append(f"{_names(gone)} disappeared from the broker; their unread records are lost")
    return ranges, losses


def split_ranges(
    ranges: list[OffsetRange],
    *,
    min_partitions: int | None = None,
    max_records: int | None = None,
) -> list[OffsetRange]:
    """Cut ranges so no task reads more than ``max_records`` and, when there are fewer ranges
    than ``min_partitions``, big partitions are read by several tasks (Spark's two options)."""
    if max_records is not None:
        ranges = [piece for r in ranges for piece in _cut(r, -(-r.size // max_records))]
    if min_partitions is not None and 0 < len(ranges) < min_partitions:
        total = sum(r.size for r in ranges)
        ranges = [
            piece
            for r in ranges
            for piece in _cut(r, max(round(r.size * min_partitions / total), 1))
        ]
    return ranges


def _cut(r: OffsetRange, parts: int) -> list[OffsetRange]:
    parts = max(min(parts, r.size), 1)
    bounds = [r.start + r.size * i // parts for i in range(parts + 1)]
    return [OffsetRange(r.topic, r.partition, a, b) for a, b in itertools.pairwise(bounds)]


def _names(tps: Iterable[TopicPartition]) -> str:
    return ", ".join(f"{t}-{p}" for t, p in tps)


def balanced_groups(ranges: list[OffsetRange], groups: int) -> list[list[OffsetRange]]:
    """``ranges`` in at most ``groups`` non-empty groups of about equal record counts (the
    largest range first into the lightest group)."""
    bins: list[list[OffsetRange]] = [[] for _ in range(max(1, min(groups, len(ranges))))]
    sizes = [0] * len(bins)
    for r in sorted(ranges, key=lambda r: (-r.size, r.topic, r.partition)):
        lightest = sizes.index(min(sizes))
        bins[lightest].append(r)
        sizes[lightest] += r.size
    return [b for b in bins if b]
