"""Producing a batch's records to a Kafka topic and waiting for every acknowledgement: what
the apps' side outputs (dead letters, alerts) need before their Delta commit."""

from __future__ import annotations

from collections.abc import Sequence

from lakehouse.errors import SourceUnavailableError

__all__ = ["produce_all"]

Record = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]  # key, value, headers


def produce_all(bootstrap: str, topic: str, records: Sequence[Record]) -> None:
    """Send ``records`` to ``topic``; raises SourceUnavailableError (the batch is retried) if
    any is not acknowledged within 30 s."""
    if not records:
        return
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "compression.type": "zstd", "linger.ms": 5}
    )
    failures: list[str] = []

    def delivered(err, _msg) -> None:
        if err is not None:
            failures.append(str(err))

    for key, value, headers in records:
        while True:
            try:
                producer.produce(topic, value, key, headers=headers, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failures:
        raise SourceUnavailableError(
            f"Kafka at {bootstrap}: {len(failures)} records failed and {remaining} were still "
            f"queued for topic {topic!r} (first error: {failures[:1]}); the batch will be retried"
        )
