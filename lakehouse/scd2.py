"""Slowly changing dimension, type 2: every change to tracked columns is a new version with
``valid_from`` / ``valid_to`` / ``is_current``.

``scd2_changes`` recomputes the whole history of each key that has changes, so late or
out-of-order changes land in the right place, consecutive identical versions collapse, and the
result is a MERGE source: upsert the versions, delete those that no longer exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

__all__ = ["SCD2_COLUMNS", "scd2_changes", "scd2_op"]

SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")
OP = "_scd2_op"
_RANK = "_scd2_rank"
_NEW = "_scd2_new_version"  # 'U' upsert, 'D' delete: for Table.merge(..., delete_if=...)


def scd2_op() -> str:
    return f"{OP} = 'D'"


def scd2_changes(
    existing: DataFrame,
    changes: DataFrame,
    *,
    key: str,
    tracked: Sequence[str],
    changed_at: str,
) -> DataFrame:
    """MERGE source on (key, valid_from) for the keys in ``changes``.

    ``existing`` is the dimension (key, tracked..., valid_from, valid_to, is_current);
    ``changes`` has key, tracked columns and ``changed_at`` (one row per change; several
    changes of one key in a batch are fine). Returns the dimension's columns plus ``_scd2_op``.
    """
    affected = changes.select(key).distinct()
    history = existing.join(affected, on=key, how="left_semi")
    before = history.select(
        key, *tracked, F.col("valid_from").alias(changed_at), F.lit(0).alias(_RANK)
    )
    incoming = changes.select(key, *tracked, changed_at, F.lit(1).alias(_RANK))
    # Rows of one key at the same instant: the incoming change wins over the stored version.
    same_instant = Window.partitionBy(key, changed_at).orderBy(F.col(_RANK).desc())
    events = before.unionByName(incoming).withColumn(_RANK, F.row_number().over(same_instant))
    events = events.where(F.col(_RANK) == 1).drop(_RANK)
    by_time = Window.partitionBy(key).orderBy(changed_at)
    flagged = events.withColumn(_NEW, _differs_from_previous(tracked, by_time))
    versions = flagged.where(F.col(_NEW)).drop(_NEW)
    versions = versions.select(
        key,
        *tracked,
        F.col(changed_at).alias("valid_from"),
        F.lead(changed_at).over(by_time).alias("valid_to"),
    ).withColumn("is_current", F.col("valid_to").isNull())
    upserts = versions.withColumn(OP, F.lit("U"))
    vanished = history.join(
        versions.select(key, "valid_from"), on=[key, "valid_from"], how="left_anti"
    )
    deletes = vanished.select(key, *tracked, *SCD2_COLUMNS).withColumn(OP, F.lit("D"))
    return upserts.unionByName(deletes)


def _differs_from_previous(tracked: Sequence[str], window: Window) -> Column:
    first = F.lag(F.lit(1)).over(window).isNull()
    changed = (~F.col(c).eqNullSafe(F.lag(c).over(window)) for c in tracked)
    return reduce(lambda a, b: a | b, changed, first)
