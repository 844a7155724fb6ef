"""MERGE on keys: update matched rows, insert new ones, delete where asked, rewriting only the
files that hold a matched key. One Delta commit removes those files and adds their rewrite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.delta import _log, _read, _write
from lakehouse.errors import ContractError, PredicateError

if TYPE_CHECKING:
    from lakehouse.delta._commit import AppTransaction
    from lakehouse.delta.table import Table

MatchedAction = Literal["update", "ignore"]
NotMatchedAction = Literal["insert", "ignore"]
_DELETE = "__lakehouse_delete"
_MATCHED = "__lakehouse_matched"
_FILE = "__lakehouse_file"


@dataclass(frozen=True)
class MergeResult:
    table: str
    version: int
    rows_updated: int
    rows_inserted: int
    rows_deleted: int
    files_rewritten: int
    skipped: bool = False


def merge(
    table_ref: Table,
    source: DataFrame,
    *,
    on: Sequence[str] | None,
    when_matched: MatchedAction,
    when_not_matched: NotMatchedAction,
    delete_if: str | Column | None,
    txn: AppTransaction | None,
) -> MergeResult:
    name, spark = table_ref.name, source.sparkSession
    table = table_ref.delta()
    if (done := table_ref._commit.already_committed(table, txn)) is not None:
        return MergeResult(name, done.version, 0, 0, 0, 0, skipped=True)
    keys = list(on or table_ref.primary_key)
    if not keys:
        raise PredicateError(f"{name}: merge needs keys: pass on=(...) or declare a primary_key")
    schema = _log.spark_schema(table)
    partition_by = list(table.metadata().partition_columns)
    src = _flagged_source(source, schema.fieldNames(), delete_if)
    src, _ = _write.align(src, schema, name=name, allow_new_columns=False, keep=(_DELETE,))
    src = src.persist()
    try:
        _check_unique(src, keys, name)
        candidates = _candidates(src, _log.active_files(table), keys, partition_by)
        target = (
            _read.scan(spark, table_ref._storage, candidates, schema, partition_by)
            if candidates
            else None
        )
        touched = (
            _touched_files(target, src, keys, candidates, table_ref) if target is not None else []
        )
        updated, deleted, inserted = _count_actions(src, target, keys)
        upserts = src.filter(~F.col(_DELETE))
        if target is not None and when_matched == "ignore":
            upserts = upserts.join(target.select(*keys), on=keys, how="left_anti")
        if when_not_matched == "ignore":
            upserts = (
                upserts.join(target.select(*keys), on=keys, how="left_semi")
                if target is not None
                else upserts.limit(0)
            )
        removes = touched if (when_matched == "update" or deleted) else []
        rows = upserts.drop(_DELETE)
        if removes:
            # Source rows that replace or delete a target row; the rest of its file is kept.
            replacing = src if when_matched == "update" else src.filter(F.col(_DELETE))
            kept = _read.scan(spark, table_ref._storage, removes, schema, partition_by)
            kept = kept.join(replacing.select(*keys), on=keys, how="left_anti")
            rows = kept.select(*schema.fieldNames()).unionByName(rows)
        result = table_ref._commit.stage_and_commit(
            rows,
            table,
            schema=schema,
            removes=removes,
            operation="merge",
            txn=txn,
            parameters={"keys": keys, "matched": when_matched, "not_matched": when_not_matched},
        )
    finally:
        src.unpersist()
    return MergeResult(
        name,
        result.version,
        rows_updated=updated if when_matched == "update" else 0,
        rows_inserted=inserted if when_not_matched == "insert" else 0,
        rows_deleted=deleted,
        files_rewritten=len(removes),
    )


def _flagged_source(
    source: DataFrame, columns: list[str], delete_if: str | Column | None
) -> DataFrame:
    if delete_if is None:
        return source.select("*", F.lit(False).alias(_DELETE))
    flag = F.expr(delete_if) if isinstance(delete_if, str) else delete_if
    flagged = source.select("*", F.coalesce(flag, F.lit(False)).alias(_DELETE))
    # The source may carry CDC columns (op, ...) that only decide deletes.
    return flagged.drop(*(c for c in source.columns if c not in columns))


def _check_unique(src: DataFrame, keys: Sequence[str], name: str) -> None:
    dupes = src.groupBy(*keys).count().filter(F.col("count") > 1).limit(1).collect()
    if dupes:
        key = {k: dupes[0][k] for k in keys}
        raise ContractError(
            f"{name}: the merge source has {dupes[0]['count']} rows for key {key}; deduplicate "
            "it first (keep the latest version of each key)"
        )


def _count_actions(
    src: DataFrame, target: DataFrame | None, keys: list[str]
) -> tuple[int, int, int]:
    """(updated, deleted, inserted) as if every action applies, in one job."""
    if target is None:
        return 0, 0, src.filter(~F.col(_DELETE)).count()
    target_keys = target.select(*keys).distinct().select("*", F.lit(True).alias(_MATCHED))
    joined = src.join(target_keys, on=keys, how="left")
    matched, deleting = F.coalesce(F.col(_MATCHED), F.lit(False)), F.col(_DELETE)
    counts = joined.agg(
        F.sum((matched & ~deleting).cast("long")),
        F.sum((matched & deleting).cast("long")),
        F.sum((~matched & ~deleting).cast("long")),
    ).first()
    return tuple(int(c or 0) for c in counts)  # type: ignore[return-value]


def _candidates(
    src: DataFrame, files: list[_log.ActiveFile], keys: Sequence[str], partition_by: list[str]
) -> list[_log.ActiveFile]:
    """Files that may hold a source key: pruned by partition when the partition columns are part
    of the key, and by min/max statistics of a single-column key."""
    if partition_by and set(partition_by) <= set(keys):
        wanted = {tuple(r) for r in src.select(*partition_by).distinct().collect()}
        files = [f for f in files if tuple(f.partition[c] for c in partition_by) in wanted]
    if len(keys) == 1 and files:
        (key,) = keys
        low, high = src.agg(F.min(key), F.max(key)).first()
        if low is not None:
            files = [f for f in files if _overlaps(f, key, low, high)]
    return files


def _overlaps(file: _log.ActiveFile, key: str, low: object, high: object) -> bool:
    fmin, fmax = file.mins.get(key), file.maxs.get(key)
    if fmin is None or fmax is None:
        return True
    try:
        return not (fmax < low or fmin > high)
    except TypeError:
        return True


def _touched_files(
    target: DataFrame,
    src: DataFrame,
    keys: list[str],
    candidates: list[_log.ActiveFile],
    table_ref: Table,
) -> list[_log.ActiveFile]:
    located = target.select(*keys, F.col("_metadata.file_path").alias(_FILE))
    hits = located.join(src.select(*keys), on=keys, how="left_semi").select(_FILE).distinct()
    base = table_ref._storage.base.rstrip("/") + "/"
    # Spark reports file URIs percent-encoded; the log's paths are decoded and table-relative.
    paths = {unquote(r[_FILE]).split(base, 1)[-1] for r in hits.collect()}
    return [f for f in candidates if f.path in paths]
