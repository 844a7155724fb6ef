"""The foreachBatch sink of the streaming transaction ingest: one micro-batch -> bronze events,
dead letters (Delta and topic) and new silver rows, each Delta commit carrying the app
transaction (query id, batch id) so a replayed batch is skipped table by table.

A batch is one Spark job: each task turns its records into files staged for the three tables
(_ingest_task.py); the driver then keeps one silver row per txn_id across the tasks and against
silver, sends the dead letters to their topic, and commits each table with delta-rs.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql.pandas.types import from_arrow_schema

from lakehouse.delta import AppTransaction, Table, Warehouse
from lakehouse.delta._files import STAGING_DIR, Storage
from lakehouse.delta._staged import Staging
from lakehouse.merchants import MerchantRules
from lakehouse.quality import QualitySuite
from schemas.streaming import DEAD_LETTERS, TRANSACTION_EVENTS, TRANSACTIONS_STREAM
from streaming._ingest_task import SUMMARY, IngestTask, first_per_txn, latest_first
from streaming._kafka_options import KafkaOptions
from streaming._lifecycle import may_be_replay
from streaming._produce import produce_all

AfterCommit = Callable[[str, int], None]
_FILE_COLUMNS = ("bronze_files", "dead_files", "silver_files", "keys_files")


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
    kafka: KafkaOptions  # the source's: the tasks read their ranges with them
    dead_letter_topic: str
    watermark_days: int
    after_commit: AfterCommit | None = None  # (table, batch id) after each Delta commit
    results: list[BatchResult] | None = None

    def __post_init__(self) -> None:
        self.bronze = self.warehouse.create(TRANSACTION_EVENTS)
        self.dead = self.warehouse.create(DEAD_LETTERS)
        self.silver = self.warehouse.create(TRANSACTIONS_STREAM)
        self._query_id: str | None = None
        self._newest: dt.date | None = None  # the newest txn_date in silver
        self._committed: int | None = None  # the last batch committed here

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
        tables = (self.bronze, self.dead, self.silver)
        done = self._replayed(tables, txn)
        if len(done) == 3:
            self._record(BatchResult(batch_id, 0, 0, 0, done, time.monotonic() - started))
            return
        staged = {t.name: t.new_staging() for t in tables if t.name not in done}
        keys_dir = f"{STAGING_DIR}/{uuid.uuid4().hex}-keys"
        try:
            task = IngestTask(
                suite=self.suite,
                merchants=self.merchants,
                pii_key=self.pii_key,
                app=self.app,
                query_id=self.query_id,
                batch_id=batch_id,
                late_before=self._late_before(),
                bronze=staged.get(self.bronze.name),
                dead=staged.get(self.dead.name),
                silver=staged.get(self.silver.name),
                keys_dir=keys_dir,
                kafka=self.kafka,
            )
            # ``raw`` holds the batch's offset ranges (rangesOnly), grouped by the source into
            # a partition per core (rangeGroups); each task reads its ranges and writes.
            summary = raw.mapInArrow(task, from_arrow_schema(SUMMARY)).toArrow()
            files = {c: pc.list_flatten(summary[c]).to_pylist() for c in _FILE_COLUMNS}
            events, dead_count = (pc.sum(summary[c]).as_py() or 0 for c in ("events", "refused"))
            if self.bronze.name in staged:
                self._commit(self.bronze, staged.pop(self.bronze.name), files["bronze_files"], txn)
            if self.dead.name in staged:
                dead = staged.pop(self.dead.name)
                refused = dead.read(files["dead_files"])
                if refused is not None:
                    # Topic before Delta: a crash between them re-sends (at least once, with an
                    # idempotency key) rather than losing the topic's copy.
                    rows = [{**r, "app": self.app} for r in refused.to_pylist()]
                    _produce_dead_letters(rows, self.bootstrap, self.dead_letter_topic)
                self._commit(self.dead, dead, files["dead_files"], txn)
            written = 0
            if self.silver.name in staged:
                silver = staged.pop(self.silver.name)
                kept, newest = _drop_repeats(
                    self.silver, silver, files["silver_files"], files["keys_files"]
                )
                written = self._commit(self.silver, silver, kept, txn)
                if newest is not None:
                    self._newest = max(self._newest or newest, newest)
        finally:
            for table in tables:
                if table.name in staged:
                    table.discard_staged(staged[table.name])
            storage = Storage(self.silver.uri)
            with contextlib.suppress(OSError):
                storage.delete_dir(keys_dir)
        self._committed = batch_id
        self._record(
            BatchResult(batch_id, events, written, dead_count, done, time.monotonic() - started)
        )

    def _replayed(self, tables: Sequence[Table], txn: AppTransaction) -> tuple[str, ...]:
        """The tables that already hold this batch (a replay after a crash between or after
        its commits)."""
        if not may_be_replay(txn.version, last_committed=self._committed):
            return ()
        return tuple(t.name for t in tables if _has(t, txn))

    def _late_before(self) -> dt.date | None:
        """Valid events dated before this are late: the watermark lags the newest txn_date
        silver held before the batch, so a replayed batch draws the same line."""
        if self._newest is None:
            dates = [p["txn_date"] for p in self.silver.partition_values()]
            self._newest = max((dt.date.fromisoformat(d) for d in dates if d), default=None)
        if self._newest is None:
            return None
        return self._newest - dt.timedelta(days=self.watermark_days)

    def _commit(self, table: Table, staging: Staging, files: list[str], txn: AppTransaction) -> int:
        result = table.commit_staged(staging, files, txn=txn)
        if self.after_commit is not None:
            self.after_commit(table.name, txn.version)
        return result.rows_written

    def _record(self, result: BatchResult) -> None:
        if self.results is not None:
            self.results.append(result)


def _has(table: Table, txn: AppTransaction) -> bool:
    done = table.transaction_version(txn.app_id)
    return done is not None and done >= txn.version


def _drop_repeats(
    silver: Table, staging: Staging, files: list[str], keys_files: list[str]
) -> tuple[list[str], dt.date | None]:
    """Keep one row per txn_id: across the tasks' files the latest delivery, and none whose
    txn_id silver already holds. Rewrites the (rare) staged files that lose rows; returns the
    files left and the newest txn_date staged."""
    if not keys_files:
        return files, None
    storage = Storage(staging.uri)
    keys = pa.concat_tables(
        pq.read_table(storage.full(f), filesystem=storage.fs) for f in keys_files
    )
    ordered = latest_first(keys)
    losers = ordered.filter(pc.invert(first_per_txn(ordered)))
    dates = pc.unique(keys["txn_date"]).to_pylist()
    low, high = pc.min(keys["txn_id"]).as_py(), pc.max(keys["txn_id"]).as_py()
    # A re-send has the same txn_ts, so its twin can only be in its own date's partition, and
    # in files whose txn_id range covers it.
    held = silver.to_arrow(
        filters=[("txn_date", "in", dates), ("txn_id", ">=", low), ("txn_id", "<=", high)],
        columns=["txn_id"],
    )["txn_id"]
    if len(held):
        losers = pa.concat_tables([losers, keys.filter(pc.is_in(keys["txn_id"], held))])
    emptied = _rewrite_without(storage, staging, losers) if losers.num_rows else set()
    return [f for f in files if f not in emptied], pc.max(keys["txn_date"]).as_py()


def _rewrite_without(storage: Storage, staging: Staging, losers: pa.Table) -> set[str]:
    """Each staged file that holds a loser rewritten without it; returns the files emptied."""
    emptied = set()
    for group in losers.group_by("file").aggregate([("txn_id", "list")]).to_pylist():
        path = storage.full(f"{staging.path}/{group['file']}")
        rows = pq.read_table(path, filesystem=storage.fs)
        kept = rows.filter(pc.invert(pc.is_in(rows["txn_id"], pa.array(group["txn_id_list"]))))
        if kept.num_rows:
            pq.write_table(kept, path, filesystem=storage.fs, store_decimal_as_integer=True)
        else:
            emptied.add(group["file"])
    return emptied


def _produce_dead_letters(dead: Sequence[Mapping], bootstrap: str, topic: str) -> None:
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
