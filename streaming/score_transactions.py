"""Kafka `transactions` -> real-time anomaly scores in gold.transaction_scores_stream and alerts on
the `alerts` topic.

    spark-submit streaming/score_transactions.py [--env local] [--once] [--max-offsets N]
    from streaming.score_transactions import run; run(spark, cfg, available_now=True)

Each micro-batch (see _score_sink.py): the valid events (malformed ones are the ingest app's to
dead-letter; here they are only skipped), each txn_id once and never one scored before, with
- ``txn_count_1h``: the customer's transactions in the hour up to the event, counted from the
  stream itself (events scored before and this batch's), not from the last materialized day of
  customer_velocity, which would miss the burst a fraud makes;
- the online features (the on-demand ``transaction_risk`` over the customer_spend and
  customer_fraud_profile online tables, read at their current version every batch, so a new
  materialization is used without a restart);
scored by the anomaly model the registry's ``champion`` alias points to (resolved every batch,
shipped to the executors when it changes: a new champion takes over without a restart), written
exactly once (Delta app transaction), alerts at least once with an idempotency key.

All of it happens in the tasks that read the batch's records (_score_task.py), one Spark job a
batch, when each customer's and txn_id's events are in one task (the producer keys events by
customer); otherwise the batch is scored by the same steps as a Spark plan (_score_sink.py).

It reads the topic with its own checkpoint, beside the ingest app: neither waits for the other.
SIGTERM (or SIGINT) stops it after the batch in flight.
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
from streaming._lifecycle import app_main, run_app, source_options
from streaming._score_sink import ScoreBatch, ScoreSink
from streaming.ingest_transactions import SOURCE_TOPIC, _topic

__all__ = ["APP", "ScoreRun", "main", "run"]

APP = "score_transactions"
ALERTS_TOPIC = "alerts"
MODEL = "anomaly"


@dataclass(frozen=True)
class ScoreRun:
    query_id: str
    batches: list[ScoreBatch]

    def __str__(self) -> str:
        scored = sum(b.scored for b in self.batches)
        alerts = sum(b.alerts for b in self.batches)
        versions = sorted({b.model_version for b in self.batches if b.model_version})
        return (
            f"{APP}: {len(self.batches)} batches, {scored} events scored, {alerts} alerts "
            f"(model {MODEL} v{', v'.join(versions) or '-'}; query {self.query_id})"
        )


def run(
    spark: SparkSession,
    cfg: Config,
    *,
    available_now: bool,
    max_offsets: int | None = None,
    starting_offsets: str = "earliest",
    source_topic: str | None = None,
    alerts_topic: str | None = None,
    checkpoint: Path | None = None,
    warehouse: Warehouse | None = None,
    alias: str = "champion",
    stop_event: threading.Event | None = None,
    progress: Path | None = None,
) -> ScoreRun:
    """Run the scorer until the topic's current end (``available_now``) or until stopped.
    Raises ModelNotFoundError before reading anything when no model has the alias."""
    from feature_store import FeatureStore
    from lakehouse.quality import load_suite
    from lakehouse.services import kafka_bootstrap
    from schemas.transactions import SILVER_TRANSACTIONS
    from streaming import _ingest_parse, kafka_source
    from streaming._kafka_options import parse_options
    from streaming._score_model import ChampionModel

    kafka_source.register(spark)
    warehouse = warehouse or Warehouse.from_config(cfg)
    model = ChampionModel(cfg, MODEL, alias=alias)
    model.current(spark)  # fail now, not in the first batch, when there is no model
    bootstrap = kafka_bootstrap(cfg)
    options = source_options(
        cfg,
        bootstrap=bootstrap,
        topic=source_topic or _topic(cfg, SOURCE_TOPIC),
        starting_offsets=starting_offsets,
        max_offsets=max_offsets,
        # The sink's tasks read the records themselves, a task per core (see _score_events.py).
        range_tasks=spark.sparkContext.defaultParallelism,
    )
    checkpoint = checkpoint or cfg.checkpoint_dir(APP)
    batches: list[ScoreBatch] = []
    sink = ScoreSink(
        app=APP,
        checkpoint=checkpoint,
        warehouse=warehouse,
        store=FeatureStore(spark, cfg, warehouse=warehouse),
        suite=_ingest_parse.stream_suite(load_suite(cfg.conf_dir, SILVER_TRANSACTIONS.name)),
        model=model,
        bootstrap=bootstrap,
        kafka=parse_options(options),
        alerts_topic=alerts_topic or _topic(cfg, ALERTS_TOPIC),
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
    return ScoreRun(str(query.id), batches)


def main(argv: Sequence[str] | None = None) -> int:
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--once", action="store_true", help="what is in the topic now, then exit"
        )
        parser.add_argument("--max-offsets", type=int, help="events per micro-batch at most")
        parser.add_argument("--alias", default="champion", help="registry alias to score with")
        parser.add_argument("--topic", help=f"the topic to read (default: {SOURCE_TOPIC})")

    def start(spark, cfg, args, stop, progress) -> ScoreRun:
        return run(
            spark,
            cfg,
            available_now=args.once,
            max_offsets=args.max_offsets,
            alias=args.alias,
            source_topic=args.topic,
            stop_event=stop,
            progress=progress,
        )

    description = __doc__.split("\n\n")[0]
    return app_main(APP, argv, description=description, arguments=arguments, start=start)


if __name__ == "__main__":
    sys.exit(main())
