"""One table's commits: Spark stages the rows as Parquet, delta-rs commits the files (with the
files they replace) in one Delta version; used by Table's write and commit_staged, merge and
optimize."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow.dataset as pads
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from lakehouse.delta import _log, _write
from lakehouse.delta._files import DataFile, Storage
from lakehouse.errors import PredicateError

__all__ = ["AppTransaction", "BeforeCommit", "Committer", "WriteResult"]

# Called with the new rows, staged and not yet committed (see Table.write).
BeforeCommit = Callable[[pads.Dataset], None]


@dataclass(frozen=True)
class AppTransaction:
    """Makes a write idempotent: a second write with the same app id and a version not above
    the last committed one writes nothing (Delta's ``txn`` action)."""

    app_id: str
    version: int


@dataclass(frozen=True)
class WriteResult:
    table: str
    version: int
    rows_written: int
    files_added: int
    files_removed: int
    skipped: bool = False


@dataclass(frozen=True)
class Committer:
    name: str
    storage: Storage
    retries: int
    max_records_per_file: int

    def already_committed(
        self, table: DeltaTable, txn: AppTransaction | None
    ) -> WriteResult | None:
        """The skipped result when ``txn`` (or a later version of its app) is in the log."""
        if txn is None:
            return None
        done = table.transaction_version(txn.app_id)
        if done is None or done < txn.version:
            return None
        return WriteResult(self.name, table.version(), 0, 0, 0, skipped=True)

    def files_matching(
        self, spark: SparkSession, predicate: str, table: DeltaTable, schema: T.StructType
    ) -> list[_log.ActiveFile]:
        """The active files in partitions where ``predicate`` holds."""
        files = _log.active_files(table)
        hits = _write.partitions_matching(
            spark,
            predicate,
            [f.partition_strings for f in files],
            schema=schema,
            partition_by=table.metadata().partition_columns,
            name=self.name,
        )
        return [f for f, hit in zip(files, hits, strict=True) if hit]

    def stage_and_commit(
        self,
        df: DataFrame,
        table: DeltaTable,
        *,
        schema: T.StructType,
        removes: Sequence[_log.ActiveFile],
        operation: str,
        txn: AppTransaction | None = None,
        predicate: str | None = None,
        data_change: bool = True,
        parameters: Mapping[str, Any] | None = None,
        before_commit: BeforeCommit | None = None,
    ) -> WriteResult:
        """Write ``df`` as staged files, check them (``predicate``: every row inside it), hand
        them to ``before_commit``, then commit them replacing ``removes``."""
        partition_by = list(table.metadata().partition_columns)
        staging, files = _write.stage(
            df,
            self.storage,
            schema=schema,
            partition_by=partition_by,
            max_records_per_file=self.max_records_per_file,
        )
        try:
            if predicate is not None:
                self._check_rows_match(df.sparkSession, predicate, files, schema, partition_by)
            if before_commit is not None:
                before_commit(self._staged_dataset(staging, files, schema, partition_by))
        except BaseException:
            _write.drop_staging(self.storage, staging)
            raise
        return self.commit_files(
            table,
            staging,
            files,
            schema=schema,
            removes=removes,
            operation=operation,
            txn=txn,
            data_change=data_change,
            parameters={"predicate": predicate, **(parameters or {})},
        )

    def commit_files(
        self,
        table: DeltaTable,
        staging: str,
        files: Sequence[DataFile],
        *,
        schema: T.StructType,
        removes: Sequence[_log.ActiveFile],
        operation: str,
        txn: AppTransaction | None,
        data_change: bool = True,
        parameters: Mapping[str, Any] | None = None,
    ) -> WriteResult:
        """Publish staged files and commit them (and ``removes``); the staging goes either way."""
        published = False
        try:
            _write.check_not_null(files, schema, name=self.name)
            _add_new_columns(table, schema)
            _write.publish(self.storage, staging, files)
            published = True
            version = _log.commit(
                table,
                self.name,
                adds=files,
                removes=removes,
                schema=schema,
                operation=operation,
                data_change=data_change,
                app_transaction=(txn.app_id, txn.version) if txn else None,
                parameters=dict(parameters or {}),
                retries=self.retries,
            )
        except BaseException:
            if published:
                _write.unpublish(self.storage, files)
            raise
        finally:
            _write.drop_staging(self.storage, staging)
        rows = sum(f.num_records for f in files)
        return WriteResult(self.name, version, rows, len(files), len(removes))

    def _staged_dataset(
        self,
        staging: str,
        files: Sequence[DataFile],
        schema: T.StructType,
        partition_by: Sequence[str],
    ) -> pads.Dataset:
        data = T.StructType([f for f in schema.fields if f.name not in partition_by])
        return pads.dataset(
            [self.storage.full(f"{staging}/{f.path}") for f in files],
            schema=to_arrow_schema(data, timezone="UTC"),
            format="parquet",
            filesystem=self.storage.fs,
        )

    def _check_rows_match(
        self,
        spark: SparkSession,
        predicate: str,
        files: Sequence[DataFile],
        schema: T.StructType,
        partition_by: Sequence[str],
    ) -> None:
        hits = _write.partitions_matching(
            spark,
            predicate,
            [f.partition_values for f in files],
            schema=schema,
            partition_by=partition_by,
            name=self.name,
        )
        outside = [f.partition_values for f, hit in zip(files, hits, strict=True) if not hit]
        if outside:
            raise PredicateError(
                f"{self.name}: replace_where {predicate!r} would write rows outside it "
                f"(partition {outside[0]}); filter the data to the partitions the run owns"
            )


def _add_new_columns(table: DeltaTable, schema: T.StructType) -> None:
    current = set(_log.spark_schema(table).fieldNames())
    new = [f for f in schema.fields if f.name not in current]
    if new:
        _log.add_columns(table, new)
