"""What one Spark task of the streaming scorer does with its share of a micro-batch (run through
``mapInArrow`` over the batch's offset ranges, as the ingest's _ingest_task.py): it reads its
ranges, stages its valid events (_score_events.py) and, when it can, scores them right there:
drops the events scored before, counts each one's velocity among the scores of the last hour
and its own events, adds the online features (a pinned OnlineSnapshot), runs the champion and
stages the scores for the driver to commit.

Why here: a micro-batch then costs one Spark job, not a dozen (the Spark SQL plan's joins,
window and write took ~2-3 s a batch of fixed cost, and at an offered 20,000 events/s the scorer
fell behind). It is exact only when every customer's events of the batch are in one task and no
txn_id is in two: the producer keys events by customer and a Kafka partition's range is never
split between tasks, so that is the normal case; the driver checks it from the staged events'
keys and otherwise scores the batch with the Spark plan (_score_sink.py), from the same staged
events. A task whose events have a NULL txn_id, customer or time does not score either.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from pyspark.sql.pandas.types import to_arrow_schema

from lakehouse.delta import ActiveFile
from lakehouse.delta._files import Storage
from lakehouse.delta._staged import Staging
from lakehouse.quality import QualitySuite
from models.anomaly import INPUT_COLUMNS
from models.scoring import ModelRef
from schemas.streaming import TRANSACTION_SCORES_STREAM
from streaming._ingest_arrow import PARSE_ROWS
from streaming._kafka_options import KafkaOptions
from streaming._score_events import valid_events
from streaming._score_model import score_partition
from streaming._score_velocity import VELOCITY_WINDOW, velocity_counts
from streaming.kafka_source import read_task_ranges

__all__ = ["ALERT_COLUMNS", "KAFKA_COLUMNS", "SUMMARY", "ScoreTask", "scored_files"]

KAFKA_COLUMNS = ("topic", "partition", "offset", "kafka_ts")
_TS = pa.timestamp("us", tz="UTC")
_SCORES = to_arrow_schema(TRANSACTION_SCORES_STREAM.schema, timezone="UTC")
# What an alert record says (_score_sink._alert).
ALERT_COLUMNS = (
    "txn_id",
    "customer_id",
    "txn_ts",
    "amount",
    "anomaly_score",
    "reason",
    "model_name",
    "model_version",
)
# What each task reports. Only successful attempts report, so a failed attempt's files are
# never read or committed.
SUMMARY = pa.schema(
    [
        ("events_file", pa.string()),  # None: no valid events
        ("score_files", pa.list_(pa.string())),  # in the scores staging, as Staging.write named
        ("scored", pa.bool_()),  # False: the task could not score; the Spark plan will
        # The task's distinct customers and txn_ids: the driver checks that no other task has
        # any of them (one_task_each) before it commits the tasks' scores.
        ("customers", pa.list_(pa.string())),
        ("txn_ids", pa.list_(pa.string())),
        ("alerts", pa.list_(pa.struct([_SCORES.field(c) for c in ALERT_COLUMNS]))),
    ]
)
# The scores table's files as the tasks need them: where, which date, and the ranges of the
# columns the tasks filter on (from the Delta log's statistics).
FILES = pa.schema(
    [
        ("path", pa.string()),
        ("txn_date", pa.date32()),
        ("ts_min", _TS),
        ("ts_max", _TS),
        ("id_min", pa.string()),
        ("id_max", pa.string()),
    ]
)
_SCORED = pa.schema([("txn_id", pa.string()), ("customer_id", pa.string()), ("txn_ts", _TS)])


def scored_files(files: list[ActiveFile]) -> pa.Table:
    """The scores table's active files as FILES (statistics missing: NULL, never skipped)."""
    rows = [
        {
            "path": f.path,
            "txn_date": f.partition.get("txn_date"),
            "ts_min": f.mins.get("txn_ts"),
            "ts_max": f.maxs.get("txn_ts"),
            "id_min": f.mins.get("txn_id"),
            "id_max": f.maxs.get("txn_id"),
        }
        for f in files
    ]
    return pa.Table.from_pylist(rows, schema=FILES)


@dataclass(frozen=True)
class ScoreTask:
    """Picklable: Spark ships it to each task's Python worker."""

    suite: QualitySuite
    kafka: KafkaOptions  # the source's: the task reads its ranges with them
    query_id: str
    batch_id: int
    run_id: str
    uri: str  # the scores table's
    events_dir: str  # relative to ``uri``
    scores: Staging  # where the scores go
    files: pa.Table  # FILES of the scores table
    online: Any  # feature_store.online_arrow.OnlineSnapshot of transaction_risk
    model: ModelRef
    broadcast: Any  # the pickled model (ChampionModel)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        records = read_task_ranges(batches, self.kafka, per_call=PARSE_ROWS)
        ids = {"query_id": self.query_id, "batch_id": self.batch_id, "run_id": self.run_id}
        events = valid_events(records, self.suite, **ids)
        row = {"events_file": None, "score_files": [], "scored": True, "alerts": []}
        row["customers"] = pc.unique(events["customer_id"]).to_pylist()
        row["txn_ids"] = pc.unique(events["txn_id"]).to_pylist()
        if events.num_rows:
            row["events_file"] = Storage(self.uri).write_parquet(self.events_dir, events)
            row["scored"] = _scorable(events)
        if events.num_rows and row["scored"]:
            scores = self.score(events)
            row["score_files"] = list(self.scores.write(scores).values())
            if scores.num_rows:
                alerts = scores.filter(pc.field("is_alert")).select(list(ALERT_COLUMNS))
                row["alerts"] = alerts.to_pylist()
        yield pa.RecordBatch.from_pylist([row], schema=SUMMARY)

    def score(self, events: pa.Table) -> pa.Table:
        """The rows of the scores table for ``events`` (VALID_EVENTS, each txn_id once) not
        scored before."""
        fresh = events.filter(pc.invert(self._scored_before(events)))
        if fresh.num_rows == 0:
            return pa.table({})
        counts = velocity_counts(fresh, self._history(fresh))
        rows = self.online.lookup(
            fresh.append_column("txn_count_1h", pa.array(counts, pa.int64())),
            timestamp_column="txn_ts",
        )
        frame = rows.select([*INPUT_COLUMNS, "txn_date", *KAFKA_COLUMNS]).to_pandas()
        frame["_query_id"], frame["_batch_id"] = self.query_id, self.batch_id
        columns = list(TRANSACTION_SCORES_STREAM.column_names)
        parts = score_partition(
            iter([frame]), ref=self.model, broadcast=self.broadcast, columns=columns
        )
        return pa.Table.from_pandas(pd.concat(parts, ignore_index=True), preserve_index=False)

    def _scored_before(self, events: pa.Table) -> pa.Array:
        """True for the events whose (txn_id, txn_date) the scores table holds."""
        seen = np.zeros(events.num_rows, dtype=bool)
        for day in pc.unique(events["txn_date"]).to_pylist():
            on_day = pc.equal(events["txn_date"], pa.scalar(day, pa.date32()))
            ids = pc.unique(events.filter(on_day)["txn_id"])
            low, high = pc.min_max(ids).values()
            where = pc.and_kleene(
                pc.equal(self.files["txn_date"], pa.scalar(day, pa.date32())),
                _may_reach(self.files["id_min"], self.files["id_max"], low, high),
            )
            found = self._read(where, ["txn_id"], pads.field("txn_id").isin(ids))["txn_id"]
            hit = pc.and_(on_day, pc.is_in(events["txn_id"], value_set=found.combine_chunks()))
            seen |= hit.to_numpy(zero_copy_only=False)
        return pa.array(seen)

    def _history(self, fresh: pa.Table) -> pa.Table:
        """customer_id, txn_ts of the scores that can be in a fresh event's hour (``fresh``:
        at least one event)."""
        first, last = pc.min_max(fresh["txn_ts"]).values()
        since = pa.scalar(first.as_py() - VELOCITY_WINDOW, _TS)
        where = _may_reach(self.files["ts_min"], self.files["ts_max"], since, last)
        customers = pc.unique(fresh["customer_id"])
        field = pads.field("txn_ts")
        rows = (field > since) & (field <= last) & pads.field("customer_id").isin(customers)
        return self._read(where, ["customer_id", "txn_ts"], rows)

    def _read(self, where: pa.Array, columns: list[str], rows: pads.Expression) -> pa.Table:
        paths = self.files.filter(pc.fill_null(where, True))["path"].to_pylist()
        if not paths:
            return _SCORED.empty_table().select(columns)
        storage = Storage(self.uri)
        dataset = pads.dataset(
            [storage.full(p) for p in paths], schema=_SCORED, filesystem=storage.fs
        )
        return dataset.to_table(columns=columns, filter=rows)


def _may_reach(lows: pa.ChunkedArray, highs: pa.ChunkedArray, low, high) -> pa.ChunkedArray:
    """Files whose [min, max] overlaps [low, high] (NULL statistics: NULL, read)."""
    return pc.and_kleene(pc.less_equal(lows, high), pc.greater_equal(highs, low))


def _scorable(events: pa.Table) -> bool:
    return all(events[c].null_count == 0 for c in ("txn_id", "customer_id", "txn_ts"))
