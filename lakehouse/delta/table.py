"""Table: one Delta table. Spark writes and reads the Parquet files; delta-rs commits the log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pyarrow as pa
import pyarrow.dataset as pads
from deltalake import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from lakehouse.delta import _filters, _log, _maintenance, _merge, _read, _staged, _write
from lakehouse.delta._commit import AppTransaction, BeforeCommit, Committer, WriteResult
from lakehouse.delta._files import Storage, describe_files
from lakehouse.delta._filters import Filter
from lakehouse.delta._merge import MatchedAction, MergeResult, NotMatchedAction
from lakehouse.delta._staged import Staging
from lakehouse.errors import PredicateError

__all__ = ["AppTransaction", "Table", "WriteMode", "WriteResult"]

WriteMode = Literal["append", "overwrite", "replace_where"]
SchemaMode = Literal["strict", "add_columns"]


class Table:
    """A Delta table addressed by name and URI. Obtain it from ``Warehouse``."""

    def __init__(
        self,
        name: str,
        uri: str,
        *,
        storage_options: Mapping[str, str] | None = None,
        max_records_per_file: int = 5_000_000,
        commit_retries: int = 5,
    ) -> None:
        self.name = name
        self.uri = uri
        self._storage = Storage(uri)
        self._storage_options = dict(storage_options or {})
        self._commit = Committer(name, self._storage, commit_retries, max_records_per_file)

    def __repr__(self) -> str:
        return f"Table({self.name!r}, {self.uri!r})"

    # -- state -------------------------------------------------------------------------------
    def delta(self, *, version: int | None = None, as_of: dt.datetime | None = None) -> DeltaTable:
        """The delta-rs handle at the latest version, a version, or a UTC timestamp."""
        return _log.load(
            self._storage,
            self.name,
            version=version,
            as_of=as_of,
            storage_options=self._storage_options,
        )

    @property
    def version(self) -> int:
        return self.delta().version()

    @property
    def schema(self) -> T.StructType:
        return _log.spark_schema(self.delta())

    @property
    def partition_columns(self) -> list[str]:
        return list(self.delta().metadata().partition_columns)

    @property
    def primary_key(self) -> tuple[str, ...]:
        key = self.delta().metadata().configuration.get("lakehouse.primaryKey") or ""
        return tuple(k for k in key.split(",") if k)

    def count(self) -> int:
        """Row count from the log's per-file statistics (no data read)."""
        return sum(f.num_records or 0 for f in _log.active_files(self.delta()))

    def partition_values(self) -> list[dict[str, str | None]]:
        """Each file's partition values as text, from the log (no data read)."""
        return [f.partition_strings for f in _log.active_files(self.delta())]

    def history(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.delta().history(limit)

    def transaction_version(self, app_id: str) -> int | None:
        return self.delta().transaction_version(app_id)

    # -- reads -------------------------------------------------------------------------------
    def to_spark(
        self,
        spark: SparkSession,
        *,
        version: int | None = None,
        as_of: dt.datetime | None = None,
        filters: Sequence[Filter] | None = None,
        columns: Sequence[str] | None = None,
    ) -> DataFrame:
        """The table as a DataFrame. Filters prune partitions and skip files by statistics
        before Spark lists anything, then apply to the rows."""
        table = self.delta(version=version, as_of=as_of)
        schema = _log.spark_schema(table)
        files = _log.active_files(table)
        checked = _filters.validate(filters or [], schema, self.name)
        files = [f for f in files if _filters.may_match(checked, f)]
        partition_by = list(table.metadata().partition_columns)
        frame = _read.scan(spark, self._storage, files, schema, partition_by)
        if checked:
            frame = frame.filter(_filters.to_condition(checked))
        return frame.select(*columns) if columns else frame

    def active_files(
        self, *, version: int | None = None, filters: Sequence[Filter] | None = None
    ) -> list[_log.ActiveFile]:
        """The data files of the table (at ``version``) that may hold rows passing ``filters``
        (by partition values and statistics), with their statistics: for readers that plan
        their own reads (e.g. a Spark task reading a few files with pyarrow)."""
        table = self.delta(version=version)
        checked = _filters.validate(filters or [], _log.spark_schema(table), self.name)
        return [f for f in _log.active_files(table) if _filters.may_match(checked, f)]

    def to_arrow_dataset(
        self, *, version: int | None = None, as_of: dt.datetime | None = None
    ) -> pads.Dataset:
        """The table as a pyarrow dataset, read without Spark (delta-rs lists the files)."""
        return _read.arrow_dataset(self.delta(version=version, as_of=as_of), self._storage)

    def to_arrow(
        self,
        *,
        version: int | None = None,
        filters: Sequence[Filter] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The table (at ``version``), the rows passing ``filters``, as Arrow."""
        table = self.delta(version=version)
        checked = _filters.validate(filters or [], _log.spark_schema(table), self.name)
        return _read.arrow_dataset(table, self._storage).to_table(
            columns=list(columns) if columns else None,
            filter=_filters.to_arrow_expression(checked) if checked else None,
        )

    # -- writes ------------------------------------------------------------------------------
    def write(
        self,
        df: DataFrame,
        *,
        mode: WriteMode = "append",
        predicate: str | None = None,
        txn: AppTransaction | None = None,
        schema_mode: SchemaMode = "strict",
        before_commit: BeforeCommit | None = None,
    ) -> WriteResult:
        """Write ``df`` in one Delta commit.

        ``append`` adds rows; ``overwrite`` replaces every row; ``replace_where`` replaces the
        rows of the partitions matching ``predicate`` (SQL over partition columns) and
        requires every new row to match it, so re-running a date replaces only that date.
        With ``txn``, a retry of an already committed (app id, version) writes nothing.
        ``before_commit`` is called with the new rows once they are written and not yet
        committed (a pyarrow dataset of the staged files, partition columns left out), e.g. to
        send what must go out before the rows are visible, without computing ``df`` twice;
        if it raises, nothing is committed.
        """
        if (mode == "replace_where") != (predicate is not None):
            raise PredicateError(f"{self.name}: predicate= goes with mode='replace_where' only")
        table = self.delta()
        skipped = self._commit.already_committed(table, txn)
        if skipped:
            return skipped
        schema = _log.spark_schema(table)
        aligned, schema = _write.align(
            df, schema, name=self.name, allow_new_columns=schema_mode == "add_columns"
        )
        removes = _log.active_files(table) if mode == "overwrite" else []
        if mode == "replace_where":
            removes = self._commit.files_matching(df.sparkSession, predicate, table, schema)
        return self._commit.stage_and_commit(
            aligned,
            table,
            schema=schema,
            removes=removes,
            operation=mode,
            txn=txn,
            predicate=predicate,
            before_commit=before_commit,
        )

    # -- staged writes (pyarrow writers in any process) ------------------------------------
    def new_staging(self) -> Staging:
        """A staging directory that pyarrow writers (e.g. Spark tasks) fill with
        ``Staging.write(rows)``; ``commit_staged`` appends what they wrote in one commit."""
        table = self.delta()
        schema = _log.spark_schema(table)
        # Nullable as in Spark's files; NOT NULL is checked from the files' null counts.
        arrow = to_arrow_schema(schema, timezone="UTC")
        arrow = pa.schema([f.with_nullable(True) for f in arrow])
        partition_by = tuple(table.metadata().partition_columns)
        return _staged.new_staging(self.name, self._storage, arrow, partition_by)

    def commit_staged(
        self, staging: Staging, files: Sequence[str], *, txn: AppTransaction | None = None
    ) -> WriteResult:
        """Append ``files`` (written into ``staging``, as ``Staging.write`` returned them) in
        one commit, nothing if there are none; with ``txn``, a batch already committed writes
        nothing. The staging is removed, with any file not listed (e.g. of a failed task
        attempt whose retry wrote its own)."""
        table = self.delta()
        skipped = self._commit.already_committed(table, txn)
        wanted = set(files)
        listed = [f for f in self._storage.list_parquet(staging.path) if f[0] in wanted]
        if skipped or not listed:
            self.discard_staged(staging)
            return skipped or WriteResult(self.name, table.version(), 0, 0, 0)
        schema = _log.spark_schema(table)
        files = describe_files(
            self._storage,
            listed,
            root=staging.path,
            schema=schema,
            partition_by=staging.partition_by,
        )
        return self._commit.commit_files(
            table, staging.path, files, schema=schema, removes=[], operation="append", txn=txn
        )

    def discard_staged(self, staging: Staging) -> None:
        _write.drop_staging(self._storage, staging.path)

    def merge(
        self,
        source: DataFrame,
        *,
        on: Sequence[str] | None = None,
        when_matched: MatchedAction = "update",
        when_not_matched: NotMatchedAction = "insert",
        delete_if: str | Column | None = None,
        txn: AppTransaction | None = None,
    ) -> MergeResult:
        """Upsert ``source`` on ``on`` (default: the table's primary key) in one commit.

        Matched rows are updated (or left alone with ``when_matched="ignore"``), new keys are
        inserted (unless ``when_not_matched="ignore"``), and source rows where ``delete_if``
        holds delete their match. Only files holding a matched key are rewritten. The source
        must have one row per key.
        """
        return _merge.merge(
            self,
            source,
            on=on,
            when_matched=when_matched,
            when_not_matched=when_not_matched,
            delete_if=delete_if,
            txn=txn,
        )

    # -- maintenance -------------------------------------------------------------------------
    def vacuum(self, *, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
        """Delete files older than the retention that no version in it references."""
        return _maintenance.vacuum(self, retention_hours=retention_hours, dry_run=dry_run)

    def optimize(
        self, spark: SparkSession, *, min_files: int = 2, target_rows: int = 1_000_000
    ) -> WriteResult:
        """Compact partitions of many small files; readers see the same rows."""
        return _maintenance.compact(self, spark, min_files=min_files, target_rows=target_rows)
