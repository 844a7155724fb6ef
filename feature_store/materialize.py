"""Materialization: a view's values for one date into its offline table (the date's partition,
replaced) and the newest value per entity into its online table (merged, never rolled back)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from feature_store.core import FEATURE_DATE, FEATURE_TS, FeatureView
from lakehouse.delta import Warehouse
from lakehouse.errors import FeatureDefinitionError, SourceUnavailableError, TableNotFoundError

__all__ = ["Materialized", "compute_view", "materialize_view"]

_STORED_TS = "_stored_feature_ts"


@dataclass(frozen=True)
class Materialized:
    view: str
    run_date: dt.date
    rows: int
    offline_version: int
    online_version: int


def read_source(
    spark: SparkSession, warehouse: Warehouse, view: FeatureView, run_date: dt.date
) -> DataFrame:
    """The source rows ``view`` needs for ``run_date``: its lookback, its input columns."""
    source = view.source
    filters = []
    if source.date_column:
        first = run_date - dt.timedelta(days=view.lookback_days - 1)
        filters = [(source.date_column, ">=", first), (source.date_column, "<=", run_date)]
    try:
        table = warehouse.table(source.name)
    except TableNotFoundError:
        raise SourceUnavailableError(
            f"feature view {view.name} reads {source.name}, which does not exist yet: run the "
            "daily batch first (lakehouse batch --run-date D)"
        ) from None
    return table.to_spark(spark, filters=filters, columns=list(view.inputs))


def compute_view(source_rows: DataFrame, view: FeatureView, run_date: dt.date) -> DataFrame:
    """The offline rows of ``view`` for ``run_date``: key, feature_date, feature_ts, features."""
    computed = view.transform(source_rows, as_of=run_date)
    _check_output(view, computed)
    if view.kind == "daily_snapshot":
        # Time-zone aware: PySpark reads a naive datetime in the driver's local zone.
        cutoff = dt.datetime.combine(run_date + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
        stamped = computed.withColumns({FEATURE_DATE: F.lit(run_date), FEATURE_TS: F.lit(cutoff)})
    else:
        on_run_date = F.to_date(FEATURE_TS) == F.lit(run_date)
        stamped = computed.withColumn(FEATURE_DATE, F.to_date(FEATURE_TS)).filter(on_run_date)
    return stamped.select(*view.offline_contract().column_names)


def materialize_view(
    spark: SparkSession, warehouse: Warehouse, view: FeatureView, run_date: dt.date
) -> Materialized:
    rows = compute_view(read_source(spark, warehouse, view, run_date), view, run_date)
    offline = warehouse.create(view.offline_contract())
    written = offline.write(
        rows, mode="replace_where", predicate=f"{FEATURE_DATE} = DATE'{run_date.isoformat()}'"
    )
    # Read back what was committed rather than computing the view twice.
    committed = offline.to_spark(spark, filters=[(FEATURE_DATE, "=", run_date)])
    online = warehouse.create(view.online_contract())
    stored = online.to_spark(spark)
    newer = _newer_than_stored(committed, stored, view)
    # The whole table is rewritten (one row per entity, small) rather than merged: a daily
    # snapshot touches nearly every key, and one write is cheaper than a merge's passes.
    kept = stored.join(newer.select(view.entity.join_key), on=view.entity.join_key, how="left_anti")
    refreshed = online.write(kept.unionByName(newer), mode="overwrite")
    return Materialized(
        view=view.name,
        run_date=run_date,
        rows=written.rows_written,
        offline_version=written.version,
        online_version=refreshed.version,
    )


def _newer_than_stored(committed: DataFrame, stored: DataFrame, view: FeatureView) -> DataFrame:
    """The latest committed row per entity, unless the online table holds a newer one (a
    backfill of an old date must not roll the online values back)."""
    key = view.entity.join_key
    newest_first = Window.partitionBy(key).orderBy(F.col(FEATURE_TS).desc())
    latest = (
        committed.withColumn("_rank", F.row_number().over(newest_first))
        .filter(F.col("_rank") == 1)
        .drop("_rank")
    )
    stored_ts = stored.select(key, F.col(FEATURE_TS).alias(_STORED_TS))
    not_older = F.col(_STORED_TS).isNull() | (F.col(FEATURE_TS) >= F.col(_STORED_TS))
    return latest.join(stored_ts, on=key, how="left").filter(not_older).drop(_STORED_TS)


def _check_output(view: FeatureView, computed: DataFrame) -> None:
    expected = [(f.name, f.dataType) for f in view.output_schema().fields]
    found = [(f.name, f.dataType) for f in computed.schema.fields]
    if found != expected:
        raise FeatureDefinitionError(
            f"feature view {view.name}: its transform returned "
            f"{[(n, t.simpleString()) for n, t in found]}, but the view declares "
            f"{[(n, t.simpleString()) for n, t in expected]}: make them agree"
        )
