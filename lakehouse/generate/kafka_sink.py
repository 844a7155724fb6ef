"""Replay generated transactions as a Kafka topic of JSON events keyed by customer_id.

Events carry the transactions CSV header's field names, in ``txn_ts`` order. A share of
``defect_rate`` is broken the way producers break things: truncated JSON, a non-numeric
amount, or the same event sent twice. ``transaction_events`` is the pure part (testable
without a broker); ``stream_transactions`` paces it to a rate and produces it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.errors import LakehouseError
from lakehouse.generate._text import Stream, rng_for, ts_to_text
from lakehouse.generate.spec import GeneratedData, GeneratorSpec
from lakehouse.generate.txn_parts import TXN_COLUMNS

__all__ = ["PRODUCER_CONFIG", "stream_transactions", "transaction_events"]

PRODUCER_CONFIG = {
    "compression.type": "zstd",
    "linger.ms": 20,
    "batch.num.messages": 100_000,
    "queue.buffering.max.messages": 1_000_000,
    "enable.idempotence": True,  # broker-side retries must not add duplicates of our own
}
BATCH_ROWS = 10_000
NUMBERS = ("amount",)
AMOUNT = re.compile(r'"amount":-?[0-9]+\.[0-9]{2}')


def _json_text(value: pa.Array) -> pa.Array:
    """A string column as JSON string literals (null stays null)."""
    escaped = pc.replace_substring(pc.replace_substring(value, "\\", "\\\\"), '"', '\\"')
    return pc.binary_join_element_wise('"', escaped, '"', "")


def events_json(table: pa.Table) -> np.ndarray:
    """One JSON object per row, built column-wise; amount as a JSON number with 2 decimals."""
    parts = []
    for name in TXN_COLUMNS:
        col = table[name]
        if pa.types.is_timestamp(col.type):
            text = _json_text(ts_to_text(pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)))
        elif name in NUMBERS:
            text = pc.cast(col, pa.string())
        else:
            text = _json_text(pc.cast(col, pa.string()))
        parts.append(pc.binary_join_element_wise(f'"{name}":', pc.fill_null(text, "null"), ""))
    body = pc.binary_join_element_wise(*parts, ",")
    return pc.binary_join_element_wise("{", body, "}", "").to_numpy(zero_copy_only=False)


def _tables(data_or_spec: GeneratedData | GeneratorSpec) -> Iterator[pa.Table]:
    if isinstance(data_or_spec, GeneratedData):
        yield from (
            pa.Table.from_batches([b]) for b in data_or_spec.transactions.to_batches(BATCH_ROWS)
        )
        return
    from lakehouse.generate.transactions import day_transactions
    from lakehouse.generate.world import build_world

    world = build_world(data_or_spec)
    for day in range(world.state.start, world.state.end + 1):
        yield day_transactions(world, day).table


def transaction_events(
    data_or_spec: GeneratedData | GeneratorSpec, *, seed: int, defect_rate: float | None = None
) -> Iterator[tuple[bytes, bytes, str | None]]:
    """(key, value, defect kind or None) per event, in time order; deterministic per seed."""
    spec = data_or_spec.spec if isinstance(data_or_spec, GeneratedData) else data_or_spec
    rate = spec.defect_rate if defect_rate is None else defect_rate
    for batch_no, table in enumerate(_tables(data_or_spec)):
        rng = rng_for(seed, Stream.KAFKA, batch_no)
        values = events_json(table)
        keys = table["customer_id"].to_numpy(zero_copy_only=False)
        broken = rng.random(values.size) < rate
        kind = rng.choice(
            np.array(["malformed_json", "non_numeric_amount", "duplicate"]), size=values.size
        )
        for i in range(values.size):
            key, value = keys[i].encode(), values[i]
            if not broken[i]:
                yield key, value.encode(), None
            elif kind[i] == "malformed_json":
                yield key, value[: len(value) // 2].encode(), "malformed_json"
            elif kind[i] == "non_numeric_amount":
                yield (
                    key,
                    AMOUNT.sub('"amount":"N/A"', value, count=1).encode(),
                    "non_numeric_amount",
                )
            else:
                yield key, value.encode(), None
                yield key, value.encode(), "duplicate"


def stream_transactions(
    data_or_spec: GeneratedData | GeneratorSpec,
    *,
    bootstrap_servers: str,
    topic: str,
    rate: int,
    seconds: float,
    seed: int,
) -> int:
    """Produce about ``rate`` events per second for ``seconds`` (or until the data runs out).

    Returns the number of events the broker acknowledged. Raises LakehouseError when events
    could not be delivered.
    """
    from confluent_kafka import Producer

    if rate < 1 or seconds <= 0:
        raise LakehouseError(
            f"stream_transactions: rate={rate}, seconds={seconds}; use rate >= 1 and seconds > 0"
        )
    producer = Producer({"bootstrap.servers": bootstrap_servers, **PRODUCER_CONFIG})
    outcome = {"delivered": 0, "failed": 0, "error": None}

    def on_delivery(err, _msg) -> None:
        if err is None:
            outcome["delivered"] += 1
        else:
            outcome["failed"] += 1
            outcome["error"] = err

    budget = int(rate * seconds)
    started = time.monotonic()
    sent = 0
    for sent, (key, value, _kind) in enumerate(transaction_events(data_or_spec, seed=seed)):
        if sent >= budget or time.monotonic() - started > seconds:
            break
        # Pace: never run ahead of rate * elapsed by more than one 10 ms slice.
        ahead = (sent - rate * (time.monotonic() - started)) / rate
        if ahead > 0.01:
            time.sleep(ahead)
        _produce(producer, topic, key, value, on_delivery)
    remaining = producer.flush(30)
    if remaining or outcome["failed"]:
        raise LakehouseError(
            f"Kafka at {bootstrap_servers}: {outcome['failed']} events failed and {remaining} were"
            f" still queued after 30 s (last error: {outcome['error']});"
            f" check the broker and topic {topic!r}"
        )
    return outcome["delivered"]


def _produce(producer, topic: str, key: bytes, value: bytes, on_delivery) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
            producer.poll(0)
            return
        except BufferError:
            producer.poll(0.05)  # local queue full: let librdkafka drain it
