"""Reading features for requests: the online tables (latest value per entity) and on-demand
transforms, applied the same way for batch and streaming requests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from feature_store.core import FEATURE_TS, FeatureView, OnDemandFeatureView
from lakehouse.delta import Warehouse
from lakehouse.errors import SourceUnavailableError, TableNotFoundError

__all__ = ["apply_on_demand", "join_online", "stored_table"]


def stored_table(warehouse: Warehouse, view: FeatureView, *, online: bool):
    name = view.online_table if online else view.offline_table
    try:
        return warehouse.table(name)
    except TableNotFoundError:
        raise SourceUnavailableError(
            f"feature view {view.name} has not been materialized ({name} does not exist): run "
            "lakehouse features materialize --run-date D"
        ) from None


def join_online(
    spark: SparkSession,
    warehouse: Warehouse,
    requests: DataFrame,
    view: FeatureView,
    *,
    timestamp_column: str,
) -> DataFrame:
    """``requests`` with ``view``'s latest values: those stamped before the request's time and
    within the TTL, else NULL. The online table is read at its current version on every call,
    so a long-running caller sees each new materialization."""
    key, features = view.entity.join_key, list(view.feature_names)
    latest = stored_table(warehouse, view, online=True).to_spark(
        spark, columns=[key, FEATURE_TS, *features]
    )
    ttl_micros = int(view.ttl.total_seconds() * 1_000_000)
    age = F.unix_micros(F.col(timestamp_column)) - F.unix_micros(F.col(FEATURE_TS))
    is_usable = (age > 0) & (age <= ttl_micros)
    joined = requests.join(F.broadcast(latest), on=key, how="left")
    values = [F.when(is_usable, F.col(name)).alias(name) for name in features]
    return joined.select(*requests.columns, *values)


def apply_on_demand(
    rows: DataFrame, views: Sequence[OnDemandFeatureView], resources: Mapping[str, Any]
) -> DataFrame:
    for view in views:
        missing = [f.name for f in view.request if f.name not in rows.columns]
        if missing:
            raise SourceUnavailableError(
                f"on-demand feature view {view.name} needs request field(s) {missing} in the "
                "entity rows"
            )
        rows = view.transform(rows, resources)
    return rows
