"""vacuum and optimize (compaction)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pyarrow import fs as pafs
from pyspark.sql import SparkSession

from lakehouse.delta import _log, _read
from lakehouse.delta._commit import WriteResult
from lakehouse.delta._files import STAGING_DIR

if TYPE_CHECKING:
    from lakehouse.delta.table import Table


def vacuum(table_ref: Table, *, retention_hours: int, dry_run: bool) -> list[str]:
    """Delete files no version within the retention window needs: removed files, files of
    writes that never committed, and abandoned staging directories."""
    table = table_ref.delta()
    deleted = table.vacuum(
        retention_hours=retention_hours,
        dry_run=dry_run,
        enforce_retention_duration=False,
        full=True,  # also files never committed (a writer that crashed before its commit)
    )
    return list(deleted) + _drop_stale_staging(
        table_ref, retention_hours=retention_hours, dry_run=dry_run
    )


def _drop_stale_staging(table_ref: Table, *, retention_hours: int, dry_run: bool) -> list[str]:
    storage = table_ref._storage
    selector = pafs.FileSelector(storage.full(STAGING_DIR), recursive=False, allow_not_found=True)
    cutoff_ns = time.time_ns() - retention_hours * 3600 * 10**9
    stale = [
        info.path
        for info in storage.fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and (info.mtime_ns or 0) < cutoff_ns
    ]
    if not dry_run:
        for path in stale:
            storage.fs.delete_dir(path)
    return [p[len(storage.base) + 1 :] for p in stale]


def compact(
    table_ref: Table, spark: SparkSession, *, min_files: int, target_rows: int
) -> WriteResult:
    """Rewrite each partition holding at least ``min_files`` small files as few large ones.

    The rewrite commits with dataChange=false, so streaming readers do not see it as new data.
    """
    table = table_ref.delta()
    schema = _log.spark_schema(table)
    partition_by = list(table.metadata().partition_columns)
    by_partition: dict[tuple, list[_log.ActiveFile]] = {}
    for file in _log.active_files(table):
        if (file.num_records or 0) < target_rows:
            key = tuple(file.partition_strings[c] for c in partition_by)
            by_partition.setdefault(key, []).append(file)
    removes = [f for group in by_partition.values() if len(group) >= min_files for f in group]
    if not removes:
        return WriteResult(table_ref.name, table.version(), 0, 0, 0, skipped=True)
    rows = _read.scan(spark, table_ref._storage, removes, schema, partition_by)
    groups = sum(1 for g in by_partition.values() if len(g) >= min_files)
    rows = rows.repartition(groups, *partition_by) if partition_by else rows.coalesce(1)
    return table_ref._commit.stage_and_commit(
        rows,
        table,
        schema=schema,
        removes=removes,
        operation="optimize",
        data_change=False,
        parameters={"min_files": min_files, "target_rows": target_rows},
    )
