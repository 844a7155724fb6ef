"""Warehouse: where tables live (``<root>/<layer>/<entity>``), and creating them from contracts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pyarrow import fs as pafs

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.delta import _log
from lakehouse.delta.table import Table
from lakehouse.errors import SchemaMismatchError, TableExistsError, TableNotFoundError

__all__ = ["TableInfo", "Warehouse"]


@dataclass(frozen=True)
class TableInfo:
    name: str
    uri: str
    version: int
    rows: int
    files: int
    partition_columns: tuple[str, ...]
    description: str | None


class Warehouse:
    """The tables under one root directory or object-store prefix."""

    def __init__(
        self,
        root: str,
        *,
        storage_options: Mapping[str, str] | None = None,
        max_records_per_file: int = 5_000_000,
        commit_retries: int = 5,
    ) -> None:
        self.root = root.rstrip("/")
        self._storage_options = dict(storage_options or {})
        self._max_records_per_file = max_records_per_file
        self._commit_retries = commit_retries

    @classmethod
    def from_config(cls, cfg: Config) -> Warehouse:
        return cls(
            cfg.warehouse_uri,
            storage_options=cfg.warehouse.storage_options,
            max_records_per_file=cfg.warehouse.max_records_per_file,
            commit_retries=cfg.warehouse.commit_retries,
        )

    def uri_for(self, name: str) -> str:
        layer, _, entity = name.partition(".")
        if not entity or "/" in name:
            raise TableNotFoundError(
                f"{name!r}: table names are '<layer>.<entity>', e.g. silver.orders"
            )
        return f"{self.root}/{layer}/{entity}"

    def table(self, name: str | TableContract) -> Table:
        """The existing table called ``name``; TableNotFoundError if it was never created."""
        name = name.name if isinstance(name, TableContract) else name
        table = self._handle(name)
        table.delta()  # raises TableNotFoundError / NotADeltaTableError with what to do
        return table

    def _handle(self, name: str) -> Table:
        return Table(
            name,
            self.uri_for(name),
            storage_options=self._storage_options,
            max_records_per_file=self._max_records_per_file,
            commit_retries=self._commit_retries,
        )

    def create(self, contract: TableContract) -> Table:
        """Create the table from its contract, or check an existing one against it.

        An existing table gains the contract's new nullable columns (an additive contract
        version); any other difference is an error that says what changed.
        """
        table = self._handle(contract.name)
        try:
            current = table.delta()
        except TableNotFoundError:
            _log.create(
                table._storage,
                contract.name,
                schema=contract.schema,
                partition_by=contract.partition_by,
                description=contract.description,
                configuration=contract.delta_configuration(),
                storage_options=self._storage_options,
            )
            return table
        self._reconcile(contract, current)
        return table

    def _reconcile(self, contract: TableContract, current) -> None:
        existing = {f.name: f for f in _log.spark_schema(current).fields}
        if list(current.metadata().partition_columns) != list(contract.partition_by):
            raise TableExistsError(
                f"{contract.name}: exists partitioned by {current.metadata().partition_columns}, "
                f"contract v{contract.version} says {list(contract.partition_by)}; repartitioning "
                "is a breaking change: publish it as a new table name"
            )
        changed = [
            f"'{f.name}' {existing[f.name].dataType.simpleString()} -> {f.dataType.simpleString()}"
            for f in contract.schema.fields
            if f.name in existing and existing[f.name].dataType != f.dataType
        ]
        dropped = [name for name in existing if name not in contract.column_names]
        if changed or dropped:
            raise SchemaMismatchError(
                f"{contract.name}: contract v{contract.version} differs from the table "
                f"(changed: {changed}, dropped: {dropped}); only adding nullable columns is "
                "compatible, publish a breaking change as a new table name"
            )
        new = [f for f in contract.schema.fields if f.name not in existing]
        required = [f.name for f in new if not f.nullable]
        if required:
            raise SchemaMismatchError(
                f"{contract.name}: new column(s) {required} are NOT NULL; existing rows have no "
                "value for them, declare them nullable"
            )
        if new:
            _log.add_columns(current, new)

    def tables(self) -> list[TableInfo]:
        """Every Delta table under the root, sorted by name."""
        fs, base = pafs.FileSystem.from_uri(self.root)
        found = []
        for layer in _subdirs(fs, base):
            for entity in _subdirs(fs, f"{base}/{layer}"):
                if (
                    fs.get_file_info(f"{base}/{layer}/{entity}/_delta_log").type
                    == pafs.FileType.Directory
                ):
                    found.append(self._info(f"{layer}.{entity}"))
        return sorted(found, key=lambda t: t.name)

    def _info(self, name: str) -> TableInfo:
        table = self._handle(name)
        delta = table.delta()
        files = _log.active_files(delta)
        return TableInfo(
            name=name,
            uri=table.uri,
            version=delta.version(),
            rows=sum(f.num_records or 0 for f in files),
            files=len(files),
            partition_columns=tuple(delta.metadata().partition_columns),
            description=delta.metadata().description,
        )


def _subdirs(fs: pafs.FileSystem, path: str) -> list[str]:
    selector = pafs.FileSelector(path, recursive=False, allow_not_found=True)
    return sorted(
        info.base_name
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.Directory and not info.base_name.startswith(("_", "."))
    )
