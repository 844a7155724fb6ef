"""The declarations: Entity, Source, Feature, FeatureView, OnDemandFeatureView.

Each is validated when it is constructed, so a bad declaration fails as its module is
imported, with a message naming the object and what to change. Declarations hold no data and
read nothing; `FeatureStore` (feature_store/store.py) does the work.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from lakehouse.contracts import TableContract
from lakehouse.errors import FeatureDefinitionError

__all__ = [
    "Entity",
    "Feature",
    "FeatureType",
    "FeatureView",
    "OnDemandFeatureView",
    "Source",
    "ViewKind",
]

FeatureType = Literal["double", "long", "int", "boolean", "string", "timestamp", "date"]
SPARK_TYPES: dict[str, T.DataType] = {
    "double": T.DoubleType(),
    "long": T.LongType(),
    "int": T.IntegerType(),
    "boolean": T.BooleanType(),
    "string": T.StringType(),
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
}
# daily_snapshot: one row per entity and date, valid from the end of that date;
# per_event: one row per entity and event time, valid from that instant.
ViewKind = Literal["daily_snapshot", "per_event"]
FEATURE_TS, FEATURE_DATE = "feature_ts", "feature_date"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise FeatureDefinitionError(message)


def _check_name(kind: str, name: str) -> None:
    _check(
        isinstance(name, str) and bool(_NAME.fullmatch(name)),
        f"{kind} name {name!r} is not snake_case (letters, digits, '_'; starting with a letter)",
    )


@dataclass(frozen=True, kw_only=True)
class Entity:
    """What features describe (a customer), and the column that identifies it."""

    name: str
    join_key: str
    description: str = ""

    def __post_init__(self) -> None:
        _check_name("entity", self.name)
        _check_name(f"entity {self.name}: join key", self.join_key)


@dataclass(frozen=True, kw_only=True)
class Source:
    """A Delta table features are computed from, and its event-time column.

    ``date_column`` (a date partition column, if the table has one) lets a materialization
    read only the dates a view's windows cover.
    """

    table: TableContract
    event_time: str
    date_column: str | None = None

    def __post_init__(self) -> None:
        columns = {f.name: f.dataType for f in self.table.schema.fields}
        where = f"source {self.table.name}"
        stamps = sorted(c for c, t in columns.items() if isinstance(t, T.TimestampType))
        _check(
            isinstance(columns.get(self.event_time), T.TimestampType),
            f"{where}: event_time {self.event_time!r} must be a timestamp column of the table "
            f"(timestamp columns: {stamps})",
        )
        if self.date_column is not None:
            _check(
                self.date_column in self.table.partition_by
                and isinstance(columns[self.date_column], T.DateType),
                f"{where}: date_column {self.date_column!r} must be a date partition column "
                f"(partition columns: {list(self.table.partition_by)})",
            )

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def columns(self) -> tuple[str, ...]:
        return self.table.column_names


@dataclass(frozen=True)
class Feature:
    """One feature (or request field): its name, type and meaning."""

    name: str
    dtype: FeatureType
    description: str = ""


def _check_features(owner: str, features: Iterable[Feature], *, reserved: Iterable[str]) -> None:
    features = tuple(features)
    _check(bool(features), f"{owner}: declares no features")
    seen: set[str] = set()
    for feature in features:
        _check(isinstance(feature, Feature), f"{owner}: {feature!r} is not a Feature(name, dtype)")
        _check_name(f"{owner}: feature", feature.name)
        _check(
            feature.dtype in get_args(FeatureType),
            f"{owner}: feature {feature.name!r} has type {feature.dtype!r}; use one of "
            f"{get_args(FeatureType)}",
        )
        _check(feature.name not in seen, f"{owner}: feature {feature.name!r} is declared twice")
        _check(
            feature.name not in reserved,
            f"{owner}: feature name {feature.name!r} is reserved; rename the feature",
        )
        seen.add(feature.name)


def _check_ttl(owner: str, ttl: dt.timedelta | None) -> None:
    _check(
        ttl is not None,
        f"{owner}: ttl is missing; every feature view says how long a value stays valid, "
        "e.g. ttl=timedelta(days=2)",
    )
    _check(
        isinstance(ttl, dt.timedelta) and ttl > dt.timedelta(0),
        f"{owner}: ttl must be a positive timedelta, got {ttl!r}",
    )


@dataclass(frozen=True, kw_only=True)
class FeatureView:
    """Features of one entity computed from one source by ``transform``.

    ``transform(source_rows, as_of=date)`` returns the entity's join key (and, for a
    ``per_event`` view, ``feature_ts``) followed by exactly the declared features. It sees only
    the source columns listed in ``inputs``, for the ``lookback_days`` ending on ``as_of``.
    A value is used for ``ttl`` after its ``feature_ts``, never before it.
    """

    name: str
    entity: Entity
    source: Source
    features: tuple[Feature, ...]
    transform: Callable[..., DataFrame]
    inputs: tuple[str, ...]
    ttl: dt.timedelta | None = None
    lookback_days: int = 1
    kind: ViewKind = "daily_snapshot"
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("feature view", self.name)
        owner = f"feature view {self.name}"
        _check_ttl(owner, self.ttl)
        _check(
            self.kind in get_args(ViewKind), f"{owner}: kind must be one of {get_args(ViewKind)}"
        )
        _check(self.lookback_days >= 1, f"{owner}: lookback_days must be >= 1")
        _check(bool(self.owner and self.description), f"{owner}: give an owner and a description")
        _check(callable(self.transform), f"{owner}: transform must be a function")
        reserved = (self.entity.join_key, FEATURE_TS, FEATURE_DATE)
        _check_features(owner, self.features, reserved=reserved)
        unknown = [c for c in (*self.inputs, self.entity.join_key) if c not in self.source.columns]
        _check(
            not unknown,
            f"{owner}: column(s) {unknown} not in {self.source.name} "
            f"(columns: {list(self.source.columns)})",
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def offline_table(self) -> str:
        return f"features.{self.name}"

    @property
    def online_table(self) -> str:
        return f"features.{self.name}_online"

    def output_schema(self) -> T.StructType:
        """What ``transform`` must return."""
        stamp = [T.StructField(FEATURE_TS, T.TimestampType())] if self.kind == "per_event" else []
        return T.StructType(
            [
                T.StructField(self.entity.join_key, T.StringType()),
                *stamp,
                *(T.StructField(f.name, SPARK_TYPES[f.dtype]) for f in self.features),
            ]
        )

    def offline_contract(self) -> TableContract:
        return self._contract(self.offline_table, online=False)

    def online_contract(self) -> TableContract:
        return self._contract(self.online_table, online=True)

    def _contract(self, name: str, *, online: bool) -> TableContract:
        key = self.entity.join_key
        fields = [
            T.StructField(key, T.StringType(), nullable=False),
            T.StructField(FEATURE_DATE, T.DateType(), nullable=False),
            T.StructField(FEATURE_TS, T.TimestampType(), nullable=False),
            *(T.StructField(f.name, SPARK_TYPES[f.dtype]) for f in self.features),
        ]
        what = "latest values per " + key if online else "values per date"
        return TableContract(
            name=name,
            owner=self.owner,
            description=f"Feature view {self.name} ({what}): {self.description}",
            primary_key=(key,) if online else (key, FEATURE_TS),
            partition_by=() if online else (FEATURE_DATE,),
            schema=T.StructType(fields),
            properties={
                "lakehouse.featureView": self.name,
                "lakehouse.ttlSeconds": str(int(self.ttl.total_seconds())),
            },
        )


@dataclass(frozen=True, kw_only=True)
class OnDemandFeatureView:
    """Features computed at request time from request fields and other views' features.

    ``transform(rows, resources)`` gets the request fields and the ``inputs`` columns and
    returns the rows with the declared features added, as Spark expressions. ``arrow_transform``
    (optional) does the same over a pyarrow Table, for lookups without Spark (the streaming
    scorer's tasks, feature_store/online_arrow.py); a test holds the two equal. Nothing is
    stored.
    """

    name: str
    sources: tuple[FeatureView, ...]
    request: tuple[Feature, ...]
    features: tuple[Feature, ...]
    inputs: tuple[str, ...]
    transform: Callable[[DataFrame, Mapping[str, Any]], DataFrame]
    arrow_transform: Callable[[Any, Mapping[str, Any]], Any] | None = None
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_name("on-demand feature view", self.name)
        owner = f"on-demand feature view {self.name}"
        _check(bool(self.sources), f"{owner}: name the feature views it reads in sources")
        _check(bool(self.owner and self.description), f"{owner}: give an owner and a description")
        _check(callable(self.transform), f"{owner}: transform must be a function")
        _check(
            self.arrow_transform is None or callable(self.arrow_transform),
            f"{owner}: arrow_transform must be a function",
        )
        available = {n for view in self.sources for n in view.feature_names}
        available |= {f.name for f in self.request}
        unknown = [c for c in self.inputs if c not in available]
        _check(
            not unknown,
            f"{owner}: input(s) {unknown} are neither request fields nor features of "
            f"{[v.name for v in self.sources]}",
        )
        _check_features(owner, self.features, reserved=(*available, FEATURE_TS, FEATURE_DATE))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    @property
    def ttl(self) -> None:
        return None
