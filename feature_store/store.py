"""FeatureStore: training sets, online features and materialization over the registry.

store = FeatureStore(spark, cfg)
store.materialize(date(2024, 3, 31))
training = store.get_historical_features(labels, ["customer_spend", "customer_activity"])
live = store.get_online_features(events, ["customer_spend", "transaction_risk"])
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from feature_store.core import FEATURE_DATE, FeatureView, OnDemandFeatureView
from feature_store.materialize import Materialized, materialize_view
from feature_store.online import apply_on_demand, join_online, stored_table
from feature_store.online_arrow import OnlineSnapshot, OnlineTable
from feature_store.point_in_time import as_of_join, check_entity_rows
from feature_store.registry import AnyView, Registry
from feature_store.resources import load_resources
from lakehouse.config import Config
from lakehouse.delta import Warehouse

__all__ = ["FeatureStore"]


class FeatureStore:
    def __init__(
        self,
        spark: SparkSession,
        cfg: Config,
        *,
        registry: Registry | None = None,
        warehouse: Warehouse | None = None,
    ) -> None:
        if registry is None:
            from feature_store.repo import REGISTRY

            registry = REGISTRY
        self.spark, self.cfg, self.registry = spark, cfg, registry
        self.warehouse = warehouse or Warehouse.from_config(cfg)

    @cached_property
    def resources(self) -> dict[str, Any]:
        return load_resources(self.cfg.conf_dir)

    def materialize(
        self,
        run_date: dt.date,
        *,
        views: Sequence[str] | None = None,
        parallelism: int = 4,
        progress: Callable[[str], None] | None = None,
    ) -> list[Materialized]:
        """Every stored view (or ``views``) for ``run_date``; running a date again leaves the
        same rows. Views are independent tables, so up to ``parallelism`` run at once: each
        is a few small Spark jobs and commits, mostly fixed latency, and side by side they
        keep the cores busy (9 views: 45 s one at a time, 20 s with 3, 17 s with 5 here)."""

        def one(view: FeatureView) -> Materialized:
            if progress:
                progress(view.name)
            return materialize_view(self.spark, self.warehouse, view, run_date)

        stored = self.registry.materialized_views(views)
        with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
            return list(pool.map(one, stored))

    def get_historical_features(
        self,
        entity_rows: DataFrame,
        features: Sequence[str | AnyView],
        *,
        timestamp_column: str = "event_ts",
        feature_timestamps: bool = False,
    ) -> DataFrame:
        """``entity_rows`` (the entity's join key and ``timestamp_column``, plus any other
        columns, e.g. labels) with the features of the named views.

        The point-in-time contract: each row gets, per view, the values of the latest row
        whose ``feature_ts`` is strictly before the row's timestamp and no older than the
        view's TTL, else NULL. A value stamped at or after the row's timestamp never reaches
        it. ``feature_timestamps=True`` adds ``<view>__feature_ts``, the stamp of the values
        used, for audits.
        """
        requested, stored, on_demand = self._plan(features)
        for view in stored:
            check_entity_rows(
                entity_rows, join_key=view.entity.join_key, timestamp_column=timestamp_column
            )
        bounds = entity_rows.agg(
            F.min(timestamp_column).alias("first"), F.max(timestamp_column).alias("last")
        ).first()
        rows = entity_rows
        for view in stored:
            rows = as_of_join(
                rows,
                self._offline_rows(view, bounds["first"], bounds["last"]),
                view,
                timestamp_column=timestamp_column,
                feature_ts_column=f"{view.name}__feature_ts" if feature_timestamps else None,
            )
        rows = apply_on_demand(rows, on_demand, self.resources)
        return self._select(rows, entity_rows, requested, feature_timestamps=feature_timestamps)

    def get_online_features(
        self,
        requests: DataFrame,
        features: Sequence[str | AnyView],
        *,
        timestamp_column: str = "event_ts",
    ) -> DataFrame:
        """``requests`` with the latest materialized values (stamped before each request's
        time and within TTL) and the on-demand features. Reads the online tables' current
        versions on every call: a streaming caller sees new values without a restart."""
        requested, stored, on_demand = self._plan(features)
        rows = requests
        for view in stored:
            rows = join_online(
                self.spark, self.warehouse, rows, view, timestamp_column=timestamp_column
            )
        rows = apply_on_demand(rows, on_demand, self.resources)
        return self._select(rows, requests, requested, feature_timestamps=False)

    def online_snapshot(self, features: Sequence[str | AnyView]) -> OnlineSnapshot:
        """What ``get_online_features`` reads, pinned at the online tables' current versions,
        for lookups without Spark (``OnlineSnapshot.lookup`` in any process)."""
        requested, stored, on_demand = self._plan(features)
        return OnlineSnapshot(
            tables=tuple(
                OnlineTable.pin(stored_table(self.warehouse, view, online=True), view)
                for view in stored
            ),
            on_demand=tuple(on_demand),
            resources=self.resources,
            features=tuple(n for v in requested for n in v.feature_names),
        )

    def _plan(
        self, features: Sequence[str | AnyView]
    ) -> tuple[list[AnyView], list[FeatureView], list[OnDemandFeatureView]]:
        requested = self.registry.resolve(features)
        on_demand = [v for v in requested if isinstance(v, OnDemandFeatureView)]
        needed = [*requested, *(s for v in on_demand for s in v.sources)]
        stored = [v for v in self.registry.resolve(needed) if isinstance(v, FeatureView)]
        return requested, stored, on_demand

    def _offline_rows(self, view: FeatureView, first, last) -> DataFrame:
        table = stored_table(self.warehouse, view, online=False)
        if first is None:  # no entity rows: nothing to prune by
            return table.to_spark(self.spark, filters=[(FEATURE_DATE, "<", dt.date.min)])
        oldest = (first - view.ttl).date() - dt.timedelta(days=1)
        return table.to_spark(
            self.spark, filters=[(FEATURE_DATE, ">=", oldest), (FEATURE_DATE, "<=", last.date())]
        )

    @staticmethod
    def _select(
        rows: DataFrame, given: DataFrame, requested: list[AnyView], *, feature_timestamps: bool
    ) -> DataFrame:
        columns = [*given.columns, *(n for v in requested for n in v.feature_names)]
        if feature_timestamps:
            columns += [c for c in rows.columns if c.endswith("__feature_ts")]
        return rows.select(*columns)
