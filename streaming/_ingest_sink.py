"""The foreachBatch sink of the streaming transaction ingest: one micro-batch -> bronze events,
dead letters (Delta and topic) and new silver rows, each Delta commit carrying the app
transaction (query id, batch id) so a replayed batch is skipped table by table."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from lakehouse.delta import AppTransaction, Table, Warehouse
from lakehouse.merchants import MerchantRules
from lakehouse.quality import FAILED_RULES, QualitySuite
from schemas.streaming import DEAD_LETTERS, TRANSACTION_EVENTS, TRANSACTIONS_STREAM
from streaming import _ingest_parse as parse
from streaming._produce import produce_all

AfterCommit = Callable[[str, int], None]


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    events: int
    silver_rows: int  # new rows; valid events minus those already in silver or repeated
    dead_letters: int
    skipped: tuple[str, ...]  # tables that already had this batch (a replay)
    seconds: float


@dataclass
class IngestSink:
    """Called by Spark with each micro-batch (``foreachBatch``); runs in the driver."""

    app: str
    checkpoint: Path
    warehouse: Warehouse
    suite: QualitySuite
    merchants: MerchantRules
    pii_key: bytes
    bootstrap: str
    dead_letter_topic: str
    watermark_days: int
    after_commit: AfterCommit | None = None  # (table, batch id) after each Delta commit
    results: list[BatchResult] | None = None

    def __post_init__(self) -> None:
        self.bronze = self.warehouse.create(TRANSACTION_EVENTS)
        self.dead = self.warehouse.create(DEAD_LETTERS)
        self.silver = self.warehouse.create(TRANSACTIONS_STREAM)
        self._query_id: str | None = None

    @property
    def query_id(self) -> str:
        """The query's id, stable across restarts from the same checkpoint and new with a new
        one (so a fresh checkpoint's batch 0 is not mistaken for the old query's)."""
        if self._query_id is None:
            with open(self.checkpoint / "metadata") as f:
                self._query_id = json.loads(f.readline())["id"]
        return self._query_id

    def __call__(self, raw: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        txn = AppTransaction(f"{self.app}:{self.query_id}", batch_id)
        done = tuple(t.name for t in (self.bronze, self.dead, self.silver) if _has(t, txn))
        if len(done) == 3:
            self._record(BatchResult(batch_id, 0, 0, 0, done, time.monotonic() - started))
            return
        run_id = f"{self.app}:{self.query_id}:{batch_id}"
        events = parse.bronze_events(raw, query_id=self.query_id, batch_id=batch_id)
        # One cached frame serves every output: the flags keep each event's Kafka columns, so
        # bronze is selected from it rather than cached (and the topic read) a second time.
        flagged = parse.flag_events(events, self.suite, run_id=run_id).persist()
        try:
            counts = _counts(flagged)
            late_before = _late_before(counts, self.watermark_days)
            if self.bronze.name not in done:
                bronze = parse.with_batch_ids(
                    flagged.select(*parse.KAFKA_COLUMNS), query_id=self.query_id, batch_id=batch_id
                )
                self._commit(self.bronze, bronze, txn)
            dead = parse.dead_letters(
                flagged,
                self.suite,
                app=self.app,
                late_before=late_before,
                query_id=self.query_id,
                batch_id=batch_id,
            )
            dead_count = counts["refused"] + _late_count(counts, late_before)
            if self.dead.name not in done and dead_count:
                # Topic first, then Delta: a crash between them re-sends (at least once, with an
                # idempotency key) instead of losing the topic's copy.
                # Few by nature: one job brings them to the driver, for the topic and the table.
                refused_rows = dead.collect()
                _produce_dead_letters(refused_rows, self.bootstrap, self.dead_letter_topic)
                local = raw.sparkSession.createDataFrame(refused_rows, DEAD_LETTERS.schema)
                self._commit(self.dead, local, txn)
            written = 0
            if self.silver.name not in done:
                fresh = self._new_silver_rows(flagged, counts, late_before, run_id)
                written = self._commit(self.silver, fresh, txn)
        finally:
            flagged.unpersist()
        self._record(
            BatchResult(
                batch_id, counts["events"], written, dead_count, done, time.monotonic() - started
            )
        )

    def _new_silver_rows(
        self, flagged: DataFrame, counts: dict, late_before: dt.date | None, run_id: str
    ) -> DataFrame:
        from jobs.build_silver_transactions import to_silver

        passed = flagged.where(~parse.refused(late_before=late_before))
        rows = to_silver(
            passed, TRANSACTIONS_STREAM, merchants=self.merchants, pii_key=self.pii_key
        )
        rows = rows.withColumn("_run_id", F.lit(run_id))
        dates = sorted(d for d in counts["dates"] if late_before is None or d >= late_before)
        if not dates:
            return rows
        # A re-sent event has the same txn_ts, so its twin can only be in its own date's
        # partition, and (txn ids start with the day) in files whose id range covers it.
        low, high = counts["txn_id_range"]
        seen = self.silver.to_spark(
            rows.sparkSession,
            filters=[("txn_date", "in", dates), ("txn_id", ">=", low), ("txn_id", "<=", high)],
            columns=["txn_id", "txn_date"],
        )
        return rows.join(seen, on=["txn_id", "txn_date"], how="left_anti")

    def _commit(self, table: Table, rows: DataFrame, txn: AppTransaction) -> int:
        result = table.write(rows, mode="append", txn=txn)
        if self.after_commit is not None:
            self.after_commit(table.name, txn.version)
        return result.rows_written

    def _record(self, result: BatchResult) -> None:
        if self.results is not None:
            self.results.append(result)


def _has(table: Table, txn: AppTransaction) -> bool:
    done = table.transaction_version(txn.app_id)
    return done is not None and done >= txn.version


def _counts(flagged: DataFrame) -> dict:
    """In one small job: events, refused events, and per txn_date of the valid ones their
    count (to find late ones) and the txn_id range (to prune the duplicate lookup)."""
    per_date = (
        flagged.select(
            F.to_date("txn_ts").alias("d"),
            (F.size(FAILED_RULES) > 0).alias("bad"),
            "txn_id",
        )
        .groupBy("d", "bad")
        .agg(F.count(F.lit(1)).alias("n"), F.min("txn_id").alias("lo"), F.max("txn_id").alias("hi"))
        .collect()
    )
    valid = [r for r in per_date if not r["bad"]]
    return {
        "events": sum(r["n"] for r in per_date),
        "refused": sum(r["n"] for r in per_date if r["bad"]),
        "dates": [r["d"] for r in valid],
        "late": {r["d"]: r["n"] for r in valid},
        "txn_id_range": (
            min((r["lo"] for r in valid), default=None),
            max((r["hi"] for r in valid), default=None),
        ),
    }


def _late_before(counts: dict, watermark_days: int) -> dt.date | None:
    if not counts["dates"]:
        return None
    return max(counts["dates"]) - dt.timedelta(days=watermark_days)


def _late_count(counts: dict, late_before: dt.date | None) -> int:
    if late_before is None:
        return 0
    return sum(n for d, n in counts["late"].items() if d < late_before)


def _produce_dead_letters(dead: list[Row], bootstrap: str, topic: str) -> None:
    """Send each dead letter to the topic (key and value as received; reason, rules, source
    and an idempotency key in headers) and wait for every acknowledgement."""
    records = []
    for row in dead:
        source = f"{row['topic']}/{row['partition']}/{row['offset']}"
        headers = [
            ("reason", row["reason"].encode()),
            ("rules", ",".join(row["rules"]).encode()),
            ("source", source.encode()),
            ("idempotency_key", f"{row['app']}:{source}".encode()),
        ]
        value = None if row["raw_value"] is None else row["raw_value"].encode()
        key = None if row["key"] is None else row["key"].encode()
        records.append((key, value, headers))
    produce_all(bootstrap, topic, records)
