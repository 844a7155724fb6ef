"""Online features without Spark: the same lookup as ``FeatureStore.get_online_features``, for
code that holds its requests as Arrow in any process (a streaming task's Python worker).

    snapshot = store.online_snapshot(["transaction_risk"])   # on the driver: pins versions
    rows = snapshot.lookup(requests, timestamp_column="txn_ts")  # in a task: pa.Table in, out

A snapshot pins each online table's version and files when it is taken, so every task of a
micro-batch sees the same values, and the next snapshot sees a new materialization. A worker
reads a table version once and keeps it (one version per table), so a stream pays the read
again only when the features change. On-demand views need an ``arrow_transform``, proven equal
to their Spark ``transform`` by tests.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from feature_store.core import FEATURE_TS, FeatureView, OnDemandFeatureView
from lakehouse.delta._files import Storage
from lakehouse.delta._log import active_files
from lakehouse.errors import FeatureDefinitionError, SourceUnavailableError

__all__ = ["OnlineSnapshot", "OnlineTable"]

# uri -> (version, rows) per process: the latest version read of each online table.
_TABLES: dict[str, tuple[int, pa.Table]] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class OnlineTable:
    """One feature view's online table at a version: its files, key and features."""

    view: str
    uri: str
    version: int
    files: tuple[str, ...]  # relative to ``uri``
    key: str
    features: tuple[str, ...]
    ttl_micros: int

    @classmethod
    def pin(cls, table, view: FeatureView) -> OnlineTable:
        """``table`` (a lakehouse Table, view's online table) at its current version."""
        delta = table.delta()  # one load: the version and its files
        return cls(
            view=view.name,
            uri=table.uri,
            version=delta.version(),
            files=tuple(f.path for f in active_files(delta)),
            key=view.entity.join_key,
            features=view.feature_names,
            ttl_micros=int(view.ttl.total_seconds() * 1_000_000),
        )

    def rows(self) -> pa.Table:
        """key, feature_ts and the features, read once per process and version."""
        with _LOCK:
            cached = _TABLES.get(self.uri)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        storage = Storage(self.uri)
        columns = [self.key, FEATURE_TS, *self.features]
        paths = [storage.full(f) for f in self.files]
        rows = pads.dataset(paths, filesystem=storage.fs).to_table(columns=columns)
        with _LOCK:
            _TABLES[self.uri] = (self.version, rows)
        return rows

    def join(self, requests: pa.Table, *, timestamp_column: str) -> pa.Table:
        """``requests`` with the features, NULL unless stamped before the request's time and
        within the TTL (join_online's rule), in the requests' order."""
        latest = self.rows()
        where = pc.index_in(requests[self.key], value_set=latest[self.key])
        found = latest.take(where)  # NULL rows where the key is unknown
        age = pc.subtract(_micros(requests[timestamp_column]), _micros(found[FEATURE_TS]))
        usable = pc.and_(pc.greater(age, 0), pc.less_equal(age, self.ttl_micros))
        for name in self.features:
            column = found[name]
            requests = requests.append_column(
                name, pc.if_else(usable, column, pa.nulls(len(column), column.type))
            )
        return requests


@dataclass(frozen=True)
class OnlineSnapshot:
    """Picklable: the stored views' pinned tables, the on-demand views and their resources."""

    tables: tuple[OnlineTable, ...]
    on_demand: tuple[OnDemandFeatureView, ...]
    resources: Mapping[str, Any]
    features: tuple[str, ...]  # what ``lookup`` adds, in order

    def lookup(self, requests: pa.Table, *, timestamp_column: str) -> pa.Table:
        """``requests`` with ``features`` added (get_online_features' result as Arrow)."""
        rows = requests
        for table in self.tables:
            rows = table.join(rows, timestamp_column=timestamp_column)
        for view in self.on_demand:
            missing = [f.name for f in view.request if f.name not in rows.column_names]
            if missing:
                raise SourceUnavailableError(
                    f"on-demand feature view {view.name} needs request field(s) {missing} in "
                    "the entity rows"
                )
            if view.arrow_transform is None:
                raise FeatureDefinitionError(
                    f"on-demand feature view {view.name} has no arrow_transform: give it one "
                    "to serve it without Spark"
                )
            rows = view.arrow_transform(rows, self.resources)
        return rows.select([*requests.column_names, *self.features])


def _micros(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.cast(pc.cast(column, pa.timestamp("us", tz="UTC")), pa.int64())
