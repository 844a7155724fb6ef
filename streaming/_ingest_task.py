"""What one Spark task of the streaming ingest does with its share of a micro-batch (run through
``mapInArrow`` over the batch's offset ranges): it reads its ranges from Kafka (read_ranges, as
the source's own tasks do) and turns the records into bronze events, dead letters and silver
rows, each written as Parquet into the batch's staging directory of its table, plus a keys file
of its silver rows for the driver's duplicate check across tasks and against silver.

Why here and not in Spark SQL: a micro-batch then costs one Spark job instead of five or more
(each ~0.1-0.2 s of fixed cost, and the parsed events had to be cached between them), and the
transforms run as vectorized Arrow on the records the task already holds (_ingest_arrow.py,
proven equal to the Spark transforms by tests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.delta._files import Storage
from lakehouse.delta._staged import Staging
from lakehouse.merchants import MerchantRules
from lakehouse.quality import QualitySuite
from schemas.streaming import TRANSACTIONS_STREAM
from streaming import _ingest_arrow as arrow
from streaming._kafka_options import KafkaOptions
from streaming.kafka_source import read_task_ranges

# What each task reports back (one row per task). Only successful task attempts report, so the
# files listed here are the ones to commit: a failed or speculative attempt's files are not.
SUMMARY = pa.schema(
    [
        ("events", pa.int64()),
        ("refused", pa.int64()),
        ("bronze_files", pa.list_(pa.string())),
        ("dead_files", pa.list_(pa.string())),
        ("silver_files", pa.list_(pa.string())),
        ("keys_files", pa.list_(pa.string())),
    ]
)
# Per silver row written: what the driver needs to keep one row per txn_id ("latest delivery
# wins", as the batch path's latest_per_transaction orders them) and where the row lives.
KEYS_SCHEMA = pa.schema(
    [
        ("txn_id", pa.string()),
        ("txn_date", pa.date32()),
        ("txn_ts", pa.timestamp("us", tz="UTC")),
        ("received_date", pa.date32()),
        ("offset", pa.int64()),
        ("file", pa.string()),
    ]
)


@dataclass(frozen=True)
class IngestTask:
    """Picklable: Spark ships it to each task's Python worker."""

    suite: QualitySuite
    merchants: MerchantRules
    pii_key: bytes
    app: str
    query_id: str
    batch_id: int
    late_before: dt.date | None
    bronze: Staging | None  # None: that table already holds this batch (a replay)
    dead: Staging | None
    silver: Staging | None
    keys_dir: str  # relative to the silver table's root
    kafka: KafkaOptions

    @property
    def run_id(self) -> str:
        return f"{self.app}:{self.query_id}:{self.batch_id}"

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        records = read_task_ranges(batches, self.kafka, per_call=arrow.PARSE_ROWS)
        ids = {"query_id": self.query_id, "batch_id": self.batch_id}
        bronze, flagged = arrow.flag_batches(records, self.suite, run_id=self.run_id, **ids)
        summary = dict.fromkeys(SUMMARY.names, 0) | {
            name: [] for name in SUMMARY.names if name.endswith("_files")
        }
        if bronze.num_rows:
            self._process(bronze, flagged, summary)
        yield pa.RecordBatch.from_pylist([summary], schema=SUMMARY)

    def _process(self, bronze: pa.Table, flagged: pa.Table, summary: dict) -> None:
        ids = {"query_id": self.query_id, "batch_id": self.batch_id}
        summary["events"] = bronze.num_rows
        if self.bronze is not None:
            summary["bronze_files"] = list(self.bronze.write(bronze).values())
        refused = arrow.refused_mask(flagged, late_before=self.late_before)
        dead = arrow.dead_letter_rows(
            flagged, self.suite, app=self.app, late_before=self.late_before, **ids
        )
        summary["refused"] = dead.num_rows
        if self.dead is not None:
            summary["dead_files"] = list(self.dead.write(dead).values())
        if self.silver is not None:
            passed = flagged.filter(pc.invert(refused))
            summary["silver_files"], summary["keys_files"] = self._write_silver(passed)

    def _write_silver(self, passed: pa.Table) -> tuple[list[str], list[str]]:
        rows = arrow.silver_rows(
            passed,
            TRANSACTIONS_STREAM,
            merchants=self.merchants,
            pii_key=self.pii_key,
            run_id=self.run_id,
        )
        if rows.num_rows == 0:
            return [], []
        files = self.silver.write(rows)
        # The delivery each silver row came from, for the driver's check across tasks.
        kept = _latest_per_txn(passed.select(["txn_id", "txn_ts", "received_date", "offset"]))
        txn_date = pc.cast(kept["txn_ts"], pa.date32())
        where = {values[0]: file for values, file in files.items()}
        file = pa.array([where[d] for d in pc.cast(txn_date, pa.string()).to_pylist()])
        keys = kept.append_column("txn_date", txn_date).append_column("file", file)
        keys = keys.select(KEYS_SCHEMA.names).cast(KEYS_SCHEMA)
        keys_file = Storage(self.silver.uri).write_parquet(self.keys_dir, keys)
        return list(files.values()), [keys_file]


def latest_first(keys: pa.Table) -> pa.Table:
    """``keys`` sorted so the first row of each txn_id is the one kept: the latest txn_ts,
    then the latest received date, then the highest offset."""
    order = [
        ("txn_id", "ascending"),
        ("txn_ts", "descending"),
        ("received_date", "descending"),
        ("offset", "descending"),
    ]
    return keys.sort_by(order)


def first_per_txn(ordered: pa.Table) -> pa.Array:
    """True for the first row of each txn_id in ``ordered`` (sorted by latest_first)."""
    ids = ordered["txn_id"].combine_chunks()
    if len(ids) == 0:
        return pa.array([], pa.bool_())
    previous = pa.concat_arrays([pa.array([None], pa.string()), ids.slice(0, len(ids) - 1)])
    return pc.fill_null(pc.not_equal(ids, previous), True)


def _latest_per_txn(keys: pa.Table) -> pa.Table:
    ordered = latest_first(keys)
    return ordered.filter(first_per_txn(ordered))
