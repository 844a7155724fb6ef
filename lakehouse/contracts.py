"""TableContract: the one declaration of a table (schema, partitioning, keys, PII, owner)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

from pyspark.sql import types as T

from lakehouse.errors import ContractError

__all__ = ["PARTITION_TYPES", "PiiTreatment", "TableContract"]

PiiTreatment = Literal["tokenize", "mask", "drop"]
# Types whose values survive the trip through a partition directory name and the Delta log.
PARTITION_TYPES = (T.StringType, T.DateType, T.IntegerType, T.LongType, T.ShortType, T.BooleanType)
_NAME = re.compile(r"^(bronze|silver|gold|ops|features|tpch)\.[a-z][a-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class TableContract:
    """A table's contract; validated at construction so a bad one fails at import time."""

    name: str
    schema: T.StructType
    description: str
    owner: str
    version: int = 1
    partition_by: tuple[str, ...] = ()
    primary_key: tuple[str, ...] = ()
    pii: Mapping[str, PiiTreatment] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ContractError(
                f"{self.name!r}: table names are '<layer>.<entity>' in snake_case with layer "
                "bronze, silver, gold, ops, features or tpch"
            )
        columns = {f.name: f for f in self.schema.fields}
        for role, names in (
            ("partition column", self.partition_by),
            ("primary key column", self.primary_key),
            ("PII column", tuple(self.pii)),
        ):
            unknown = [n for n in names if n not in columns]
            if unknown:
                raise ContractError(
                    f"{self.name} v{self.version}: {role} {unknown} not in the schema "
                    f"(columns: {sorted(columns)})"
                )
        allowed = get_args(PiiTreatment)
        unknown_pii = {c: t for c, t in self.pii.items() if t not in allowed}
        if unknown_pii:
            raise ContractError(
                f"{self.name} v{self.version}: PII treatment {unknown_pii} unknown; use one of "
                f"{allowed}"
            )
        for name in self.partition_by:
            if not isinstance(columns[name].dataType, PARTITION_TYPES):
                raise ContractError(
                    f"{self.name} v{self.version}: partition column '{name}' is "
                    f"{columns[name].dataType.simpleString()}; partition by a date, integer, "
                    "string or boolean column"
                )
        if len(self.partition_by) == len(columns):
            raise ContractError(f"{self.name}: at least one column must not be a partition column")

    @property
    def layer(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def entity(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(self.schema.fieldNames())

    def delta_configuration(self) -> dict[str, str]:
        """Table properties written into the Delta log, so any reader can see the contract."""
        return {
            **self.properties,
            "lakehouse.contract.version": str(self.version),
            "lakehouse.owner": self.owner,
            "lakehouse.primaryKey": ",".join(self.primary_key),
        }


# Ingest metadata every bronze row carries, after the source's own columns.
INGEST_METADATA = (
    T.StructField("_source_file", T.StringType(), nullable=False),
    T.StructField("_line_number", T.LongType(), nullable=False),
    T.StructField("_run_id", T.StringType(), nullable=False),
    T.StructField("_run_date", T.DateType(), nullable=False),
)


def bronze_contract(
    name: str, *, source_columns: tuple[str, ...], owner: str, description: str
) -> TableContract:
    """A bronze table: the source's columns as received (text), plus ingest metadata,
    partitioned by the run date that received them."""
    fields = [T.StructField(c, T.StringType(), nullable=True) for c in source_columns]
    return TableContract(
        name=name,
        owner=owner,
        description=description,
        partition_by=("_run_date",),
        schema=T.StructType([*fields, *INGEST_METADATA]),
    )
