"""Kafka `transactions` -> bronze.transaction_events, silver.transactions_stream and dead letters,
exactly once.

    spark-submit streaming/ingest_transactions.py [--env local] [--once|--available-now]
                                                  [--max-offsets N]
    from streaming.ingest_transactions import run; run(spark, cfg, available_now=True)

Each micro-batch (``foreachBatch``, see _ingest_sink.py) appends the raw events to bronze, the
refused ones to ops.dead_letters and the dead-letter topic (reason in a header), and the valid,
new ones to silver. Every Delta commit carries the app transaction (``ingest_transactions:<query
id>``, batch id): a batch replayed after a crash finds its version in each table's log and is
skipped there, table by table, so bronze and silver stay consistent whichever commit the crash
followed. The dead-letter topic is at least once (sent before the Delta commit; its records
carry an ``idempotency_key`` header, ``<app>:<topic>/<partition>/<offset>``).

Events are parsed with the transactions contract and checked with the batch gate's suite; the
suite's referential rule (customer known) is left out: it holds rows until a re-run, and a stream
does not re-run. A micro-batch is one Spark job: each task (a core's share of the Kafka
partitions) types, checks and converts its records with Arrow (_ingest_arrow.py, proven equal
to the batch path's Spark transforms in _ingest_parse.py by tests) and writes the files of all
three tables; the driver commits them (_ingest_sink.py).

Why twins of the batch tables and not the same ones:
- bronze.transactions is the CSV drop as received, partitioned by run date and replaced per run
  date (``replace_where``): a re-run of a day would delete what the stream appended there, and
  Kafka's coordinates (topic, partition, offset) have no column in it.
- silver.transactions is merged by the daily job, whose MERGE rewrites files: with the stream
  committing every second, one of the two would keep losing the commit race
  (WriteConflictError), and the daily gate holds unknown customers that the stream does not.
  silver.transactions_stream has the very same contract (schemas/transactions.py), so readers
  union the two.

Duplicates: a re-sent event (same txn_id) is dropped if silver already has it, looked up in its
own txn_date partition (a re-send has the same txn_ts) and files whose txn_id range covers it;
within a batch the latest delivery wins. The check runs in the driver before silver's commit, so
it is exactly once and needs no state store: Spark's dropDuplicatesWithinWatermark would run
before foreachBatch and drop re-sends from bronze too, which must keep everything as received.
The watermark bounds the lookup: valid events whose txn_date is more than
``streaming.dedupe_watermark_days`` before the newest txn_date silver held before the batch are
dead-lettered as late (the daily path loads them) rather than checked against old partitions.

SIGTERM (or SIGINT) stops the query after the batch in flight; a batch cut short by a stop or a
crash is replayed from the checkpoint and, thanks to the app transactions, written once.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

from lakehouse.config import Config
from lakehouse.delta import Warehouse
from lakehouse.errors import ConfigError
from streaming._ingest_sink import AfterCommit, BatchResult, IngestSink
from streaming._lifecycle import app_main, run_app, source_options

__all__ = ["APP", "IngestRun", "main", "run"]

APP = "ingest_transactions"
SOURCE_TOPIC = "transactions"
DEAD_LETTER_TOPIC = "transactions_dead_letter"


@dataclass(frozen=True)
class IngestRun:
    query_id: str
    batches: list[BatchResult]

    @property
    def events(self) -> int:
        return sum(b.events for b in self.batches)

    def __str__(self) -> str:
        silver = sum(b.silver_rows for b in self.batches)
        dead = sum(b.dead_letters for b in self.batches)
        return (
            f"{APP}: {len(self.batches)} batches, {self.events} events, {silver} new silver "
            f"rows, {dead} dead letters (query {self.query_id})"
        )


def _topic(cfg: Config, name: str) -> str:
    if name not in cfg.kafka.topics:
        raise ConfigError(f"kafka.topics has no '{name}'; add it to conf/{cfg.env}.yaml")
    return name


def run(
    spark: SparkSession,
    cfg: Config,
    *,
    available_now: bool,
    max_offsets: int | None = None,
    starting_offsets: str = "earliest",
    source_topic: str | None = None,
    dead_letter_topic: str | None = None,
    checkpoint: Path | None = None,
    warehouse: Warehouse | None = None,
    after_commit: AfterCommit | None = None,
    stop_event: threading.Event | None = None,
    progress: Path | None = None,
) -> IngestRun:
    """Run the ingest until the topic's current end (``available_now``) or until stopped
    (``stop_event`` set, e.g. by SIGTERM in ``main``). Topics, checkpoint and warehouse default
    to the config's; ``after_commit(table, batch_id)`` is called after each Delta commit."""
    from lakehouse.merchants import load_merchant_rules
    from lakehouse.quality import load_suite
    from lakehouse.services import kafka_bootstrap
    from schemas.transactions import SILVER_TRANSACTIONS
    from streaming import _ingest_parse, kafka_source
    from streaming._kafka_options import parse_options

    kafka_source.register(spark)
    bootstrap = kafka_bootstrap(cfg)
    options = source_options(
        cfg,
        bootstrap=bootstrap,
        topic=source_topic or _topic(cfg, SOURCE_TOPIC),
        starting_offsets=starting_offsets,
        max_offsets=max_offsets,
        # The sink's tasks read the records themselves, a task per core (see _ingest_sink.py).
        range_tasks=spark.sparkContext.defaultParallelism,
    )
    checkpoint = checkpoint or cfg.checkpoint_dir(APP)
    batches: list[BatchResult] = []
    sink = IngestSink(
        app=APP,
        checkpoint=checkpoint,
        warehouse=warehouse or Warehouse.from_config(cfg),
        suite=_ingest_parse.stream_suite(load_suite(cfg.conf_dir, SILVER_TRANSACTIONS.name)),
        merchants=load_merchant_rules(cfg.conf_dir),
        pii_key=cfg.pii_key(),
        bootstrap=bootstrap,
        kafka=parse_options(options),
        dead_letter_topic=dead_letter_topic or _topic(cfg, DEAD_LETTER_TOPIC),
        watermark_days=cfg.streaming.dedupe_watermark_days,
        after_commit=after_commit,
        results=batches,
    )
    query = run_app(
        spark,
        cfg,
        app=APP,
        sink=sink,
        options=options,
        checkpoint=checkpoint,
        available_now=available_now,
        batches=batches,
        stop_event=stop_event,
        progress=progress,
    )
    return IngestRun(str(query.id), batches)


def main(argv: Sequence[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        until = parser.add_mutually_exclusive_group()
        until.add_argument(
            "--once", action="store_true", help="what is in the topic now, then exit"
        )
        until.add_argument("--available-now", action="store_true", help="the same as --once")
        parser.add_argument("--max-offsets", type=int, help="events per micro-batch at most")
        parser.add_argument("--topic", help=f"the topic to read (default: {SOURCE_TOPIC})")

    def start(spark, cfg, args, stop, progress) -> IngestRun:
        return run(
            spark,
            cfg,
            available_now=args.once or args.available_now,
            max_offsets=args.max_offsets,
            source_topic=args.topic,
            stop_event=stop,
            progress=progress,
        )

    description = __doc__.split("\n\n")[0]
    return app_main(APP, argv, description=description, arguments=arguments, start=start)


if __name__ == "__main__":
    sys.exit(main())
