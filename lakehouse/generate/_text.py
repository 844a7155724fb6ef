"""Vectorized text helpers: ids, amounts, dates and CSV lines built column-wise with pyarrow.

Formatting goes through lookup tables (a day number or second of day indexes a precomputed
string) because pyarrow's strftime costs about a microsecond per row.
"""

from __future__ import annotations

from datetime import date
from enum import IntEnum
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH = date(1970, 1, 1)
SECONDS_PER_DAY = 86_400


class Stream(IntEnum):
    """One independent random stream per generator part, so parts do not shift each other."""

    POOLS = 1
    CUSTOMERS = 2
    VERSIONS = 3
    ACCOUNTS = 4
    OFFERS = 5
    RETAIL = 6
    ORDERS = 7
    TRANSACTIONS = 8
    FRAUD = 9
    DEFECTS = 10
    RESENT = 11
    KAFKA = 12


def rng_for(seed: int, stream: Stream, *extra: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, int(stream), *extra]))


def day_number(d: date) -> int:
    return (d - EPOCH).days


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded number, e.g. C0000042."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def cents_to_text(cents: np.ndarray) -> pa.Array:
    """Signed integer cents as a decimal string with two places ("-12.05")."""
    magnitude = np.abs(cents)
    whole = pc.cast(pa.array(magnitude // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(magnitude % 100), pa.string()), 2, "0")
    sign = pc.if_else(pa.array(cents < 0), "-", "")
    return pc.binary_join_element_wise(sign, whole, ".", frac, "")


def cents_to_decimal(cents: np.ndarray) -> pa.Array:
    return pc.cast(cents_to_text(cents), pa.decimal128(14, 2))


@cache
def _date_table(first: int, count: int) -> pa.Array:
    days = pa.array(np.arange(first, first + count, dtype=np.int32), pa.date32())
    return pc.strftime(days, format="%Y-%m-%d")


@cache
def _time_table() -> pa.Array:
    sec = np.arange(SECONDS_PER_DAY)
    hh, mm, ss = sec // 3600, sec // 60 % 60, sec % 60
    pad = [f"{i:02d}" for i in range(60)]
    return pa.array([f"{pad[h]}:{pad[m]}:{pad[s]}" for h, m, s in zip(hh, mm, ss, strict=True)])


def dates_to_text(days: np.ndarray) -> pa.Array:
    """Day numbers (days since 1970-01-01) as YYYY-MM-DD."""
    days = np.asarray(days, dtype=np.int64)
    if days.size == 0:
        return pa.array([], pa.string())
    first = int(days.min())
    table = _date_table(first, int(days.max()) - first + 1)
    return pc.take(table, pa.array(days - first))


def ts_to_text(epoch_seconds: np.ndarray) -> pa.Array:
    """UTC epoch seconds as ISO 8601 with a Z (2024-01-05T13:45:12Z)."""
    epoch_seconds = np.asarray(epoch_seconds, dtype=np.int64)
    day = dates_to_text(epoch_seconds // SECONDS_PER_DAY)
    clock = pc.take(_time_table(), pa.array(epoch_seconds % SECONDS_PER_DAY))
    return pc.binary_join_element_wise(day, "T", clock, "Z", "")


def ts_array(epoch_seconds: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(epoch_seconds, dtype=np.int64), pa.timestamp("s", tz="UTC"))


def date_array(days: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(days, dtype=np.int32), pa.date32())


def csv_field(values: pa.Array) -> pa.Array:
    """RFC 4180 quoting: quote a field only when it holds a comma, quote or line break."""
    values = pc.fill_null(pc.cast(values, pa.string()), "")
    needs = pc.match_substring_regex(values, '[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, values)


def csv_lines(columns: list[pa.Array]) -> np.ndarray:
    """One CSV line per row (no terminator), as a numpy object array of str."""
    fields = [csv_field(col) for col in columns]
    return pc.binary_join_element_wise(*fields, ",").to_numpy(zero_copy_only=False)


def take_pool(pool: np.ndarray | list[str], index: np.ndarray) -> pa.Array:
    return pc.take(pa.array(pool, pa.string()), pa.array(np.asarray(index, dtype=np.int64)))
