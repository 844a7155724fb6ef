"""One micro-batch of the streaming scorer (``foreachBatch``): the valid events (each task reads
its share of the batch's offset ranges, types them with Arrow and stages them as Parquet in the
table's staging area, _score_events.py), keep the new ones, add velocity and the online
features, score with the champion, send alerts, commit.

Exactly once into gold.transaction_scores_stream: its commit carries the Delta app transaction
(``score_transactions:<query id>``, batch id), so a batch replayed after a crash that followed
the commit writes nothing. At least once into the alerts topic: alerts are produced (and
acknowledged) before the commit, so a crash between the two re-sends them; each carries an
``idempotency_key`` header (``score_transactions:<txn_id>:<model version>``) for consumers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as pads
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse.delta import AppTransaction, Table, Warehouse
from lakehouse.delta._files import Storage
from lakehouse.delta._staged import Staging
from lakehouse.quality import QualitySuite
from models.anomaly import INPUT_COLUMNS
from schemas.streaming import TRANSACTION_SCORES_STREAM
from streaming._kafka_options import KafkaOptions
from streaming._lifecycle import may_be_replay
from streaming._produce import produce_all
from streaming._score_events import VALID_EVENTS, first_deliveries, one_task_each, read_keys
from streaming._score_model import ChampionModel, score_partition
from streaming._score_task import KAFKA_COLUMNS, SUMMARY, ScoreTask, scored_files
from streaming._score_velocity import VELOCITY_WINDOW, with_velocity

__all__ = ["ScoreBatch", "ScoreSink"]


@dataclass(frozen=True)
class ScoreBatch:
    batch_id: int
    scored: int
    alerts: int
    model_version: str | None
    skipped: bool  # replayed after its commit: nothing written again
    seconds: float
    in_tasks: bool = False  # scored in the reading tasks (else by the Spark plan)


@dataclass
class ScoreSink:
    app: str
    checkpoint: Path
    warehouse: Warehouse
    store: object  # feature_store.FeatureStore over the same warehouse
    suite: QualitySuite
    model: ChampionModel
    bootstrap: str
    kafka: KafkaOptions  # the source's: the tasks read their ranges with them
    alerts_topic: str
    results: list[ScoreBatch] | None = None
    _query_id: str | None = field(default=None, init=False)
    _committed: int | None = field(default=None, init=False)  # the last batch committed here

    def __post_init__(self) -> None:
        self.table: Table = self.warehouse.create(TRANSACTION_SCORES_STREAM)

    @property
    def query_id(self) -> str:
        if self._query_id is None:
            with open(self.checkpoint / "metadata") as f:
                self._query_id = json.loads(f.readline())["id"]
        return self._query_id

    def __call__(self, raw: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        txn = AppTransaction(f"{self.app}:{self.query_id}", batch_id)
        if self._replayed(txn):
            self._record(ScoreBatch(batch_id, 0, 0, None, True, time.monotonic() - started))
            return
        spark = raw.sparkSession
        ref, broadcast = self.model.current(spark)
        storage = Storage(self.table.uri)
        events_dir = storage.new_staging_dir()
        scores = self.table.new_staging()
        task = ScoreTask(
            suite=self.suite,
            kafka=self.kafka,
            query_id=self.query_id,
            batch_id=batch_id,
            run_id=f"{self.app}:{self.query_id}:{batch_id}",
            uri=self.table.uri,
            events_dir=events_dir,
            scores=scores,
            files=scored_files(self.table.active_files()),
            online=self.store.online_snapshot(["transaction_risk"]),
            model=ref,
            broadcast=broadcast,
        )
        try:
            # ``raw`` holds the batch's offset ranges (rangesOnly), grouped by the source into a
            # partition per core (rangeGroups), a Kafka partition's range never split.
            summary = raw.mapInArrow(task, from_arrow_schema(SUMMARY)).toArrow()
            files = [f for f in summary["events_file"].to_pylist() if f is not None]
            in_tasks = all(summary["scored"].to_pylist()) and one_task_each(
                summary["customers"], summary["txn_ids"]
            )
            if in_tasks:
                done_files = [f for fs in summary["score_files"].to_pylist() for f in fs]
                sent = pc.list_flatten(summary["alerts"]).to_pylist()
                written, alerts = self._commit_staged(scores, done_files, sent, txn), len(sent)
            else:
                self.table.discard_staged(scores)
                keys = read_keys(storage, files)
                plan = self._scores_plan(spark, storage, files, keys, batch_id, ref, broadcast)
                written, alerts = self._write(plan, txn)
        finally:
            with contextlib.suppress(OSError):
                storage.delete_dir(events_dir)
            with contextlib.suppress(OSError):
                self.table.discard_staged(scores)
        seconds = time.monotonic() - started
        self._committed = batch_id
        self._record(
            ScoreBatch(batch_id, written, alerts, ref.version, False, seconds, in_tasks=in_tasks)
        )

    def _replayed(self, txn: AppTransaction) -> bool:
        """Whether the scores table already holds this batch (replayed after a crash that
        followed its commit)."""
        if not may_be_replay(txn.version, last_committed=self._committed):
            return False
        done = self.table.transaction_version(txn.app_id)
        return done is not None and done >= txn.version

    def _commit_staged(
        self, scores: Staging, files: list[str], alerts: list[dict], txn: AppTransaction
    ) -> int:
        """The tasks' scores: their alerts out (acknowledged), then one commit."""
        self._send(alerts)
        return self.table.commit_staged(scores, files, txn=txn).rows_written

    def _write(self, scored: DataFrame, txn: AppTransaction) -> tuple[int, int]:
        alerts: list[dict] = []

        def send_alerts(staged: pads.Dataset) -> None:
            # From the staged files, before the commit: the scores are computed once (no
            # cache, no second job) and the alerts still go out first (at least once).
            alerts.extend(staged.to_table(filter=pads.field("is_alert")).to_pylist())
            self._send(alerts)

        written = self.table.write(scored, mode="append", txn=txn, before_commit=send_alerts)
        return written.rows_written, len(alerts)

    def _send(self, alerts: list[dict]) -> None:
        produce_all(self.bootstrap, self.alerts_topic, [_alert(a, self.app) for a in alerts])

    def _scores_plan(
        self, spark, storage: Storage, files: list[str], keys, batch_id: int, ref, broadcast
    ) -> DataFrame:
        """The batch's scores as a Spark plan, from the staged events: for a batch the tasks
        could not score alone (a customer's or a txn_id's events in two tasks)."""
        dates = pc.unique(keys["txn_date"]).to_pylist()
        typed = first_deliveries(self._read_events(spark, storage, files), keys)
        # A re-sent event has the same txn_ts: its twin can only be in its own date, and in
        # files whose txn_id range covers it.
        low, high = pc.min_max(keys["txn_id"]).values()
        events = typed.join(
            self._scored(
                spark,
                dates,
                ["txn_id", "txn_date"],
                [("txn_id", ">=", low.as_py()), ("txn_id", "<=", high.as_py())],
            ),
            on=["txn_id", "txn_date"],
            how="left_anti",
        )
        # The hour before a batch's first event can reach back across midnight; only the
        # files holding that hour are read, not the days' every score.
        days = sorted({d - dt.timedelta(days=back) for d in dates for back in (0, 1)})
        first, last = (v.as_py() for v in pc.min_max(keys["txn_ts"]).values())
        history = self._scored(
            spark,
            days,
            ["customer_id", "txn_ts"],
            [("txn_ts", ">", first - VELOCITY_WINDOW)] if first else [],
        )
        # A task per core from here (velocity, features, model, write): with the session's
        # shuffle partitions (8 here) a 50,000-event batch paid a model call and a file per
        # task, ~1.5 s more.
        cores = spark.sparkContext.defaultParallelism
        rows = self.store.get_online_features(
            with_velocity(events, history, span=(first, last) if first else None, partitions=cores),
            ["transaction_risk"],
            timestamp_column="txn_ts",
        )
        columns = list(TRANSACTION_SCORES_STREAM.column_names)
        scoring_input = rows.select(
            *INPUT_COLUMNS, "txn_date", *KAFKA_COLUMNS, *self._batch_columns(batch_id)
        )
        return scoring_input.mapInPandas(
            lambda it: score_partition(it, ref=ref, broadcast=broadcast, columns=columns),
            TRANSACTION_SCORES_STREAM.schema,
        )

    def _read_events(self, spark, storage: Storage, files: list[str]) -> DataFrame:
        schema = from_arrow_schema(VALID_EVENTS)
        if not files:
            return spark.createDataFrame([], schema)
        return spark.read.schema(schema).parquet(*(storage.spark_path(f) for f in files))

    def _scored(
        self, spark, dates: list[dt.date], columns: list[str], filters: list | None = None
    ) -> DataFrame:
        """``columns`` of the events already scored on ``dates`` (and passing ``filters``,
        which also skip files by their statistics)."""
        if not dates:  # no events: an empty read
            return self.table.to_spark(
                spark, filters=[("txn_date", "=", dt.date(1970, 1, 1))], columns=columns
            )
        where = [("txn_date", "in", dates), *(filters or [])]
        return self.table.to_spark(spark, filters=where, columns=columns)

    def _batch_columns(self, batch_id: int) -> list:
        return [
            F.lit(self.query_id).alias("_query_id"),
            F.lit(batch_id).cast("long").alias("_batch_id"),
        ]

    def _record(self, result: ScoreBatch) -> None:
        if self.results is not None:
            self.results.append(result)


def _alert(row, app: str) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, JSON value, headers) of an alert record, keyed by customer (one partition per
    customer keeps their alerts in order)."""
    ts = row["txn_ts"]
    if ts.tzinfo is not None:  # Arrow's rows carry UTC; Spark's are naive in the session's UTC
        ts = ts.astimezone(dt.UTC).replace(tzinfo=None)
    value = {
        "txn_id": row["txn_id"],
        "customer_id": row["customer_id"],
        "txn_ts": ts.isoformat() + "Z",
        "amount": row["amount"],
        "anomaly_score": row["anomaly_score"],
        "reason": row["reason"],
        "model": f"{row['model_name']}/{row['model_version']}",
    }
    key = f"{app}:{row['txn_id']}:{row['model_version']}"
    headers = [("idempotency_key", key.encode())]
    return row["customer_id"].encode(), json.dumps(value).encode(), headers
