"""The streaming scorer's valid events, built where the records are read: each Spark task of a
micro-batch (_score_task.py) turns its records into typed valid events with the ingest's Arrow
transforms (_ingest_arrow.py), each txn_id once among its own rows, and stages them as a
Parquet file in the scores table's staging area. The driver reads the files' keys
(``read_keys``): ``one_task_each`` says whether the tasks' own scores stand; if not,
``later_deliveries`` finds the deliveries to drop across tasks and ``first_deliveries`` drops
them before the Spark plan scores the batch.

Why not Spark SQL: parsing, flagging and typing 50,000 events through the JVM cost ~9 s a batch;
the Arrow transforms are proven equal to the Spark ones (tests/unit/test_ingest_arrow.py) and
the scorer's step to its former Spark definition (tests/unit/test_stream_score.py). Why staged
files and not Spark's cache and a window over txn_id: the rest of the batch reads the files
(fast, columnar) and the driver finds the rare re-sends from the key columns; the window (a shuffle
and a sort of every event) and building the cache cost ~2.5 s of a 250,000-event batch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.delta._files import Storage
from lakehouse.quality import QualitySuite
from streaming import _ingest_arrow as arrow
from streaming._ingest_task import first_per_txn

__all__ = [
    "KEY_COLUMNS",
    "VALID_EVENTS",
    "first_deliveries",
    "later_deliveries",
    "one_task_each",
    "read_keys",
    "valid_events",
]

TIMESTAMP = pa.timestamp("us", tz="UTC")
# What the scorer needs of an event: the anomaly model's inputs, the date it is filed under and
# where it came from.
VALID_EVENTS = pa.schema(
    [
        ("txn_id", pa.string()),
        ("customer_id", pa.string()),
        ("txn_ts", TIMESTAMP),
        ("txn_date", pa.date32()),
        ("amount", pa.float64()),
        ("currency", pa.string()),
        ("category", pa.string()),
        ("location", pa.string()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("kafka_ts", TIMESTAMP),
    ]
)
# A txn_id's first delivery: the lowest partition, then the lowest offset.
_DELIVERY_ORDER = ("partition", "offset")
# What the driver reads of the staged events: a delivery's txn_id, customer, time and
# coordinates (and, as ``task``, which file it is in).
KEY_COLUMNS = ("txn_id", "customer_id", "txn_date", "txn_ts", "topic", "partition", "offset")
_DELIVERY = ["topic", "partition", "offset"]


def valid_events(
    records: pa.Table | Iterable[pa.RecordBatch],
    suite: QualitySuite,
    *,
    query_id: str,
    batch_id: int,
    run_id: str,
) -> pa.Table:
    """Kafka source rows (a table, or batches as a task reads them) -> the valid events (no
    failed rule, late or not), each txn_id once (its first delivery among ``records``), as
    VALID_EVENTS."""
    batches = records.to_batches() if isinstance(records, pa.Table) else records
    ids = {"query_id": query_id, "batch_id": batch_id, "run_id": run_id}
    _, flagged = arrow.flag_batches(batches, suite, **ids)
    valid = flagged.filter(pc.invert(arrow.refused_mask(flagged, late_before=None)))
    # NULL txn_ids (only if a suite lacks txn_id_present) are each kept here; later_deliveries
    # then drops all but one, as a Spark window groups NULLs.
    ordered = valid.sort_by([("txn_id", "ascending"), *((c, "ascending") for c in _DELIVERY_ORDER)])
    once = ordered.filter(first_per_txn(ordered))
    columns = {
        **{c: once[c] for c in VALID_EVENTS.names if c in once.column_names},
        "txn_date": pc.cast(once["txn_ts"], pa.date32()),
        "amount": _doubles(once["amount"]),
    }
    return pa.table([columns[f.name] for f in VALID_EVENTS], schema=VALID_EVENTS)


def _doubles(amount: pa.ChunkedArray) -> pa.Array:
    """decimal(18, 2) -> double as Spark casts it: correctly rounded (Java's
    BigDecimal.doubleValue). Arrow's own cast is not (0.82 became 0.8200000000000001)."""
    column = amount.combine_chunks()
    if len(column) == 0:
        return pa.array([], pa.float64())
    # Each decimal128 is two little-endian 64-bit words; 18 digits fit the low one, signed.
    words = np.frombuffer(column.buffers()[1], dtype=np.int64)
    unscaled = words[2 * column.offset : 2 * (column.offset + len(column)) : 2]
    # Below 2**53 both the unscaled integer and the power of ten are exact doubles, so one IEEE
    # division rounds correctly; larger ones (beyond any amount the suite lets pass) go through
    # Python's Decimal, also correctly rounded.
    doubles = unscaled / float(10**column.type.scale)
    large = np.flatnonzero(np.abs(unscaled) >= 2**53)
    for i in large:
        value = column[int(i)].as_py()
        doubles[i] = np.nan if value is None else float(value)
    nulls = column.is_null().to_numpy(zero_copy_only=False)
    return pa.array(doubles, pa.float64(), mask=nulls if nulls.any() else None)


def read_keys(storage: Storage, files: list[str]) -> pa.Table:
    """The KEY_COLUMNS of the staged events ``files`` (relative to ``storage``), and ``task``:
    the index of the file (a task's) each row is in."""
    parts = [
        pq.read_table(storage.full(f), columns=list(KEY_COLUMNS), filesystem=storage.fs)
        for f in files
    ]
    keys = pa.schema([VALID_EVENTS.field(c) for c in KEY_COLUMNS]).empty_table()
    keys = pa.concat_tables([keys, *(p.cast(keys.schema) for p in parts)])
    task = np.repeat(np.arange(len(parts), dtype=np.int32), [p.num_rows for p in parts])
    return keys.append_column("task", pa.array(task, pa.int32()))


def one_task_each(*per_task: pa.ChunkedArray) -> bool:
    """Whether no value is in two tasks: each of ``per_task`` is a list column with a row per
    task, its distinct values (customers, txn_ids). Then each task's events are all it needs
    to score them."""
    for lists in per_task:
        values = pc.list_flatten(lists)
        if len(values) != pc.count_distinct(values, mode="all").as_py():
            return False
    return True


def later_deliveries(keys: pa.Table) -> pa.Table:
    """The (topic, partition, offset) of each delivery in ``keys`` (KEY_COLUMNS of the tasks'
    events) after its txn_id's first: a re-sent event can arrive on another Kafka partition,
    read by another task. NULL txn_ids (only if a suite lacks txn_id_present) count as one
    txn_id, as a Spark window groups them."""
    order = [("txn_id", "ascending"), *((c, "ascending") for c in _DELIVERY_ORDER)]
    ordered = keys.select(["txn_id", *_DELIVERY]).sort_by(order)  # NULLs sort last
    later = pc.invert(first_per_txn(ordered)).to_numpy(zero_copy_only=False).copy()
    nulls = ordered["txn_id"].null_count
    if nulls > 1:
        later[len(later) - nulls + 1 :] = True
    return ordered.filter(pa.array(later, pa.bool_())).select(_DELIVERY)


def first_deliveries(events: DataFrame, keys: pa.Table) -> DataFrame:
    """``events`` (the tasks' VALID_EVENTS) with each txn_id once across the tasks; ``keys``
    are their KEY_COLUMNS. Re-sends are rare: most batches drop nothing and join nothing."""
    later = later_deliveries(keys)
    if later.num_rows == 0:
        return events
    drop = events.sparkSession.createDataFrame(later)
    kept = events.join(F.broadcast(drop), on=_DELIVERY, how="left_anti")
    return kept.select(*events.columns)  # a join on names puts its keys first
