"""Staged writes for writers that are not a Spark DataFrame write: any process (a Spark task's
Python worker, the driver) writes Parquet files with pyarrow into a staging directory of the
table, and the driver commits them in one Delta commit, as ``Table.write`` does with Spark's.

Files go in Hive-style partition directories (``k=v``, escaped as Spark escapes them) without
the partition columns, exactly as Spark lays them out, so every reader of the table sees no
difference between the two writers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.delta._files import HIVE_NULL, Storage
from lakehouse.errors import SchemaMismatchError

# Spark's ExternalCatalogUtils.escapePathName: these characters become %XX in directory names.
_ESCAPED = frozenset(chr(c) for c in range(0x01, 0x20)) | frozenset("\"#%'*/:=?\\\x7f{[]^")


@dataclass(frozen=True)
class Staging:
    """Where a staged write's files go; picklable, so Spark tasks can write into it."""

    table: str
    uri: str  # the table's root
    path: str  # the staging directory, relative to the root
    schema: pa.Schema  # every column of the table, in table order
    partition_by: tuple[str, ...]

    def write(self, rows: pa.Table) -> dict[tuple[str | None, ...], str]:
        """Write ``rows`` (the table's columns; cast to its types) as one file per partition;
        returns each partition's values (as text) and its file, relative to the staging
        directory. Safe to call from many processes at once."""
        written: dict[tuple[str | None, ...], str] = {}
        if rows.num_rows == 0:
            return written
        rows = self._conform(rows)
        storage = Storage(self.uri)
        data_columns = [n for n in self.schema.names if n not in self.partition_by]
        for values, part in _split(rows, self.partition_by):
            directory = "/".join(
                f"{k}={_escape(v)}" for k, v in zip(self.partition_by, values, strict=True)
            )
            name = f"part-{uuid.uuid4().hex}.parquet"
            inner = f"{directory}/{name}" if directory else name
            full = storage.full(f"{self.path}/{inner}")
            storage.fs.create_dir(full.rsplit("/", 1)[0], recursive=True)
            pq.write_table(
                part.select(data_columns),
                full,
                filesystem=storage.fs,
                compression="snappy",
                # As Spark stores decimal(p <= 18): readers that map types from the physical
                # one (and the log's statistics) see the same thing from either writer.
                store_decimal_as_integer=True,
            )
            written[values] = inner
        return written

    def read(self, files: Sequence[str]) -> pa.Table | None:
        """The rows of ``files`` (as ``write`` returned them): their data columns; partition
        values are in the paths."""
        storage = Storage(self.uri)
        parts = [
            pq.read_table(storage.full(f"{self.path}/{rel}"), filesystem=storage.fs)
            for rel in files
        ]
        return pa.concat_tables(parts) if parts else None

    def _conform(self, rows: pa.Table) -> pa.Table:
        missing = [n for n in self.schema.names if n not in rows.column_names]
        if missing:
            raise SchemaMismatchError(f"{self.table}: staged rows lack columns {missing}")
        try:
            return rows.select(self.schema.names).cast(self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            raise SchemaMismatchError(
                f"{self.table}: staged rows do not fit the table's types ({err}); cast them "
                "to the contract"
            ) from None


def new_staging(
    table: str, storage: Storage, schema: pa.Schema, partition_by: tuple[str, ...]
) -> Staging:
    return Staging(table, storage.uri, storage.new_staging_dir(), schema, partition_by)


def _split(rows: pa.Table, partition_by: tuple[str, ...]):
    """(partition values as text or None, rows) per distinct combination."""
    if not partition_by:
        yield (), rows
        return
    keys = rows.select(list(partition_by)).group_by(list(partition_by)).aggregate([])
    for key in keys.to_pylist():
        mask = None
        for column, value in key.items():
            hit = pc.is_null(rows[column]) if value is None else pc.equal(rows[column], value)
            mask = hit if mask is None else pc.and_(mask, hit)
        yield tuple(_text(key[c]) for c in partition_by), rows.filter(mask)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _escape(value: str | None) -> str:
    if value is None:
        return HIVE_NULL
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPED else ch for ch in value)
