"""Read filters: conjunctions of (column, op, value) used for partition pruning and file
skipping from per-file min/max statistics, then applied to the rows by Spark."""

from __future__ import annotations

import datetime as dt
import decimal
import operator
from collections.abc import Callable, Sequence
from functools import reduce
from typing import Any, Literal

import pyarrow.dataset as pads
from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.delta._log import ActiveFile
from lakehouse.errors import PredicateError

Op = Literal["=", "==", "!=", "<", "<=", ">", ">=", "in", "not in"]
Filter = tuple[str, Op, Any]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def validate(filters: Sequence[Filter], schema: T.StructType, name: str) -> list[Filter]:
    """Check columns and operators; coerce values to the column's Python type."""
    types = {f.name: f.dataType for f in schema.fields}
    checked = []
    for column, op, value in filters:
        if column not in types:
            raise PredicateError(
                f"{name}: filter on unknown column '{column}' (columns: {sorted(types)})"
            )
        if op not in _COMPARE and op not in ("in", "not in"):
            raise PredicateError(
                f"{name}: filter operator {op!r} on '{column}'; use one of {Op.__args__}"
            )
        if op in ("in", "not in") and isinstance(value, str | bytes):
            raise PredicateError(
                f"{name}: '{op}' on '{column}' takes a list of values, got {value!r}"
            )
        try:
            if op in ("in", "not in"):
                value = [_coerce(v, types[column]) for v in value]
            else:
                value = _coerce(value, types[column])
        except ValueError as err:
            raise PredicateError(
                f"{name}: filter value {value!r} for '{column}' is not a valid "
                f"{types[column].simpleString()} ({err})"
            ) from None
        checked.append((column, op, value))
    return checked


def _coerce(value: Any, dtype: T.DataType) -> Any:
    if isinstance(value, str) and isinstance(dtype, T.TimestampType):
        parsed = dt.datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    if isinstance(value, str) and isinstance(dtype, T.DateType):
        return dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def may_match(filters: Sequence[Filter], file: ActiveFile) -> bool:
    """False only when the file provably holds no row passing every filter."""
    return all(_may_match_one(f, file) for f in filters)


def _may_match_one(flt: Filter, file: ActiveFile) -> bool:
    column, op, value = flt
    try:
        if column in file.partition:
            actual = file.partition[column]
            wanted = value if op in ("in", "not in") else [value]
            if actual is not None and not all(_same_kind(actual, v) for v in wanted):
                return True  # Spark may still cast and match: never skip on a guess
            return _row_passes(actual, op, value)
        low, high = file.mins.get(column), file.maxs.get(column)
        if low is None or high is None or op in ("!=", "not in"):
            return True
        if op in ("=", "=="):
            return low <= value <= high
        if op == "in":
            return any(low <= v <= high for v in value)
        if op in ("<", "<="):
            return _COMPARE[op](low, value)
        return _COMPARE[op](high, value)
    except TypeError:  # a statistic of another type than the value: never skip on a guess
        return True


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b)
    numbers = (int, float, decimal.Decimal)
    return (isinstance(a, numbers) and isinstance(b, numbers)) or type(a) is type(b)


def _row_passes(actual: Any, op: str, value: Any) -> bool:
    if actual is None:
        return False  # SQL: a comparison with NULL is not true
    if op == "in":
        return actual in value
    if op == "not in":
        return actual not in value
    return _COMPARE[op](actual, value)


def to_condition(filters: Sequence[Filter]) -> Column:
    """The same filters as one Spark condition, applied to the rows that were read."""
    return _combine(filters, field=F.col, literal=F.lit)


def to_arrow_expression(filters: Sequence[Filter]) -> pads.Expression:
    """The same filters as one pyarrow dataset expression, for reads without Spark."""
    return _combine(filters, field=pads.field, literal=lambda value: value)


def _combine(filters: Sequence[Filter], *, field: Callable, literal: Callable) -> Any:
    """AND of the filters built from ``field(name)`` objects (Spark columns, Arrow fields)."""

    def one(flt: Filter) -> Any:
        column, op, value = flt
        if op in ("in", "not in"):
            matched = field(column).isin(list(value))
            return matched if op == "in" else ~matched
        return _COMPARE[op](field(column), literal(value))

    return reduce(operator.and_, (one(f) for f in filters))
