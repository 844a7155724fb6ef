"""The point-in-time join: each entity row gets the feature values known strictly before its
timestamp, and not older than the view's TTL.

One pass per view, no per-row Python and no range join: the entity rows and the view's rows
are put in one stream per entity, ordered by time (an entity row before a feature row with the
same timestamp), and each entity row takes the last feature row seen so far. That is an as-of
join that scales like a sort, whatever the TTL.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from feature_store.core import FEATURE_TS, FeatureView
from lakehouse.errors import SchemaMismatchError

__all__ = ["as_of_join", "check_entity_rows"]

_TS, _SIDE, _VALUES = "_pit_ts", "_pit_side", "_pit_values"
ENTITY_SIDE, FEATURE_SIDE = 0, 1  # at equal timestamps the entity row sorts first: strictly before


def check_entity_rows(entity_rows: DataFrame, *, join_key: str, timestamp_column: str) -> None:
    types = dict((f.name, f.dataType) for f in entity_rows.schema.fields)
    if join_key not in types:
        raise SchemaMismatchError(
            f"entity rows need the join key column {join_key!r} (columns: {list(types)})"
        )
    if not isinstance(types.get(timestamp_column), T.TimestampType):
        raise SchemaMismatchError(
            f"entity rows need a timestamp column {timestamp_column!r} (UTC) saying when each "
            f"row is observed; found {types.get(timestamp_column)}: cast it, e.g. "
            f"F.col('{timestamp_column}').cast('timestamp')"
        )


def as_of_join(
    entity_rows: DataFrame,
    view_rows: DataFrame,
    view: FeatureView,
    *,
    timestamp_column: str,
    feature_ts_column: str | None = None,
) -> DataFrame:
    """``entity_rows`` with ``view``'s features added: from the latest row of ``view_rows``
    (join key, feature_ts, features) whose feature_ts is before the row's timestamp and within
    the view's TTL; NULL when there is none. ``feature_ts_column`` names an extra column with
    the feature_ts used (for audits and leakage tests)."""
    key, features = view.entity.join_key, list(view.feature_names)
    clashes = sorted(set(features) & set(entity_rows.columns))
    if clashes:
        raise SchemaMismatchError(
            f"entity rows already have column(s) {clashes} that {view.name} adds: rename them"
        )
    entity_side = entity_rows.withColumns({_TS: F.col(timestamp_column), _SIDE: F.lit(ENTITY_SIDE)})
    feature_side = view_rows.select(
        key,
        F.col(FEATURE_TS).alias(_TS),
        F.lit(FEATURE_SIDE).alias(_SIDE),
        F.struct(FEATURE_TS, *features).alias(_VALUES),
    )
    so_far = (
        Window.partitionBy(key)
        .orderBy(_TS, _SIDE)
        .rowsBetween(Window.unboundedPreceding, Window.currentRow)
    )
    latest = F.last(_VALUES, ignorenulls=True).over(so_far)
    is_entity_row = F.col(_SIDE) == ENTITY_SIDE
    stacked = entity_side.unionByName(feature_side, allowMissingColumns=True)
    joined = stacked.withColumn(_VALUES, latest).filter(is_entity_row)
    ttl_micros = int(view.ttl.total_seconds() * 1_000_000)
    age = F.unix_micros(F.col(_TS)) - F.unix_micros(F.col(f"{_VALUES}.{FEATURE_TS}"))
    is_fresh = age <= ttl_micros
    values = [F.when(is_fresh, F.col(f"{_VALUES}.{name}")).alias(name) for name in features]
    if feature_ts_column:
        values.append(F.when(is_fresh, F.col(f"{_VALUES}.{FEATURE_TS}")).alias(feature_ts_column))
    return joined.select(*entity_rows.columns, *values)
