"""Data files: where they live, their partition values, and their statistics for the Delta log."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs
from pyspark.sql import types as T

HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
STAGING_DIR = "_staging"
# Long strings are left out of min/max: a truncated max would no longer be an upper bound.
MAX_STRING_STAT = 64


@dataclass(frozen=True)
class DataFile:
    """A Parquet data file relative to the table root, with what the Delta log records of it."""

    path: str
    size: int
    partition_values: dict[str, str | None]
    num_records: int
    stats: str
    null_counts: dict[str, int]


class Storage:
    """File operations on the table's file system (local or object store) through pyarrow."""

    def __init__(self, uri: str) -> None:
        self.uri = uri.rstrip("/")
        self.fs, self.base = pafs.FileSystem.from_uri(self.uri)

    def spark_path(self, rel: str = "") -> str:
        """The path Spark uses: object stores go through the cluster's s3a connector."""
        uri = self.uri if "://" in self.uri else self.base
        uri = uri.replace("s3://", "s3a://", 1)
        return f"{uri}/{rel}" if rel else uri

    def full(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def exists(self, rel: str = "") -> bool:
        return (
            self.fs.get_file_info(self.full(rel) if rel else self.base).type
            != pafs.FileType.NotFound
        )

    def new_staging_dir(self) -> str:
        return f"{STAGING_DIR}/{uuid.uuid4().hex}"

    def write_parquet(self, rel_dir: str, rows: pa.Table) -> str:
        """``rows`` as a new, uniquely named Parquet file in ``rel_dir``; returns its path."""
        self.fs.create_dir(self.full(rel_dir), recursive=True)
        rel = f"{rel_dir}/{uuid.uuid4().hex}.parquet"
        pq.write_table(rows, self.full(rel), filesystem=self.fs)
        return rel

    def list_parquet(self, rel: str) -> list[tuple[str, int]]:
        selector = pafs.FileSelector(self.full(rel), recursive=True, allow_not_found=True)
        prefix = len(self.full(rel)) + 1
        return [
            (info.path[prefix:], info.size)
            for info in self.fs.get_file_info(selector)
            if info.is_file
            and info.base_name.endswith(".parquet")
            and info.base_name[0] not in "._"
        ]

    def move(self, src: str, dst: str) -> None:
        parent = dst.rsplit("/", 1)[0] if "/" in dst else ""
        if parent:
            self.fs.create_dir(self.full(parent), recursive=True)
        self.fs.move(self.full(src), self.full(dst))

    def delete_file(self, rel: str) -> None:
        self.fs.delete_file(self.full(rel))

    def delete_dir(self, rel: str) -> None:
        self.fs.delete_dir(self.full(rel))

    def footer(self, rel: str) -> pq.FileMetaData:
        return pq.read_metadata(self.full(rel), filesystem=self.fs)


def partition_values_from_path(rel: str, partition_by: Iterable[str]) -> dict[str, str | None]:
    """Partition values from Spark's Hive-style directories (``k=v`` with Spark's %XX escaping)."""
    values: dict[str, str | None] = {}
    for segment in rel.split("/")[:-1]:
        key, sep, raw = segment.partition("=")
        if sep:
            value = unquote(raw)
            values[key] = None if value == HIVE_NULL else value
    missing = [c for c in partition_by if c not in values]
    if missing:
        raise ValueError(f"{rel}: no directory for partition column(s) {missing}")
    return {c: values[c] for c in partition_by}


def describe_files(
    storage: Storage,
    files: list[tuple[str, int]],
    *,
    root: str,
    schema: T.StructType,
    partition_by: tuple[str, ...],
) -> list[DataFile]:
    """Read every file's footer (in parallel: each is one small read) into a DataFile."""
    types = {f.name: f.dataType for f in schema.fields}

    def describe(item: tuple[str, int]) -> DataFile:
        rel, size = item
        meta = storage.footer(f"{root}/{rel}")
        stats, nulls = _file_stats(meta, types)
        return DataFile(
            path=rel,
            size=size,
            partition_values=partition_values_from_path(rel, partition_by),
            num_records=meta.num_rows,
            stats=json.dumps(stats, separators=(",", ":")),
            null_counts=nulls,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(describe, files))


def _file_stats(
    meta: pq.FileMetaData, types: Mapping[str, T.DataType]
) -> tuple[dict[str, Any], dict[str, int]]:
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for col in range(meta.num_columns):
        name = meta.schema.column(col).path
        if name not in types:  # nested leaves ("a.b") carry no top-level statistics
            continue
        groups = [meta.row_group(g).column(col).statistics for g in range(meta.num_row_groups)]
        if any(s is None for s in groups):
            continue
        nulls[name] = sum(s.null_count for s in groups)
        if meta.num_rows and all(s.has_min_max for s in groups):
            low = _json_value(min(s.min for s in groups), types[name], round_up=False)
            high = _json_value(max(s.max for s in groups), types[name], round_up=True)
            if low is not None and high is not None:
                mins[name], maxs[name] = low, high
    stats = {"numRecords": meta.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls}
    return stats, nulls


def _json_value(value: Any, dtype: T.DataType, *, round_up: bool) -> Any:
    """A statistic as the Delta protocol writes it, or None where it cannot be exact."""
    if isinstance(dtype, T.BooleanType | T.BinaryType):
        return None
    if isinstance(dtype, T.StringType):
        return value if isinstance(value, str) and len(value) <= MAX_STRING_STAT else None
    if isinstance(dtype, T.TimestampType) and isinstance(value, dt.datetime):
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(dtype, T.DateType) and isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(dtype, T.DecimalType) and isinstance(value, decimal.Decimal):
        # JSON numbers are doubles: widen by one ulp so the bound stays a bound.
        return math.nextafter(float(value), math.inf if round_up else -math.inf)
    if isinstance(dtype, T.FloatType | T.DoubleType) and isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(dtype, T.IntegralType) and isinstance(value, int):
        return value
    return None
