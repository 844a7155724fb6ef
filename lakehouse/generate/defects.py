"""Defects as the sources really send them, and the manifest row that records each one.

A defective row carries exactly one defect; the row-level kinds are drawn per source with the
weights below. Values are chosen so that no clean row could ever fail the same check (no clean
amount exceeds 1,000,000, no clean birth year is before 1900, no clean text holds a quote).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from lakehouse.generate.txn_parts import TXN_COLUMNS

MANIFEST_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("file", pa.string()),  # relative to the landing root, or the MariaDB table name
        ("line_no", pa.int64()),  # 1-based physical line, header is line 1
        ("row_key", pa.string()),  # the true key of the row (even when the key was blanked)
        ("defect_kind", pa.string()),
        ("column", pa.string()),
    ]
)
MALFORMED_DATES = (
    "31/02/2024",
    "2024-13-45",
    "2024-02-30",
    "05.01.2024",
    "2024-01-05 25:61:00",
    "Jan 5th 2024",
    "N/A",
    "0000-00-00",
)
NON_NUMERIC = ("N/A", "12,50", "abc", "€45.00", "1.2.3", "--5.00", "TBD", "ten")
UNKNOWN_CURRENCIES = ("XXX", "EURO", "BTC", "ZZZ", "ECU")
HUGE_AMOUNTS = ("99999999.99", "-98765432.10", "123456789.00")
EXTRA_FIELD = "EXTRA"


@dataclass(frozen=True)
class SourceLayout:
    """How one CSV source is laid out and which defects it can carry (with weights)."""

    name: str
    columns: tuple[str, ...]
    key: str
    date_column: str
    quote_column: str
    kinds: dict[str, float]
    amount_column: str | None = None
    currency_column: str | None = None
    range_column: str | None = None


COMMON = {
    "missing_key": 1.0,
    "duplicate": 1.0,
    "late_row": 1.0,
    "bad_quoting": 1.0,
    "wrong_column_count": 1.0,
}
TRANSACTIONS = SourceLayout(
    name="transactions",
    columns=TXN_COLUMNS,
    key="txn_id",
    date_column="txn_ts",
    quote_column="merchant_raw",
    amount_column="amount",
    currency_column="currency",
    range_column="amount",
    kinds={
        **COMMON,
        "malformed_date": 1.0,
        "non_numeric_amount": 1.0,
        "out_of_range": 1.0,
        "unknown_currency": 1.0,
    },
)
CUSTOMERS = SourceLayout(
    name="customers",
    columns=(
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        "address",
        "city",
        "region",
        "signup_date",
        "income_band",
        "credit_score_band",
        "updated_at",
    ),
    key="customer_id",
    date_column="signup_date",
    quote_column="address",
    range_column="date_of_birth",
    kinds={**COMMON, "malformed_date": 1.0, "out_of_range": 1.0},
)
ACCOUNTS = SourceLayout(
    name="accounts",
    columns=("account_id", "customer_id", "product_code", "opened_date", "status", "updated_at"),
    key="account_id",
    date_column="opened_date",
    quote_column="product_code",
    range_column="opened_date",
    kinds={**COMMON, "malformed_date": 1.0, "out_of_range": 1.0},
)
SOURCES = (TRANSACTIONS, CUSTOMERS, ACCOUNTS)


def quote(value: str) -> str:
    if any(ch in value for ch in ',"\r\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


def mutate(
    layout: SourceLayout, fields: list[str], kind: str, rng: np.random.Generator
) -> tuple[str, str | None]:
    """The defective line for one row's clean field values, and the column it affects."""
    index = {name: i for i, name in enumerate(layout.columns)}
    raw: dict[int, str] = {}  # fields written as-is, bypassing CSV quoting
    column: str | None = None
    if kind == "malformed_date":
        column = layout.date_column
        fields[index[column]] = MALFORMED_DATES[int(rng.integers(len(MALFORMED_DATES)))]
    elif kind == "non_numeric_amount":
        column = layout.amount_column
        fields[index[column]] = NON_NUMERIC[int(rng.integers(len(NON_NUMERIC)))]
    elif kind == "unknown_currency":
        column = layout.currency_column
        fields[index[column]] = UNKNOWN_CURRENCIES[int(rng.integers(len(UNKNOWN_CURRENCIES)))]
    elif kind == "missing_key":
        column = layout.key
        fields[index[column]] = ""
    elif kind == "out_of_range":
        column = layout.range_column
        fields[index[column]] = _out_of_range(column, fields[index[column]], rng)
    elif kind == "bad_quoting":
        # An opening quote that is never closed: a CSV reader runs on into the next line.
        column = layout.quote_column
        raw[index[column]] = '"' + fields[index[column]]
    elif kind == "wrong_column_count":
        # Half the time an extra trailing field, half the time the last field is missing.
        fields = [*fields, EXTRA_FIELD] if rng.random() < 0.5 else fields[:-1]
    else:
        raise ValueError(f"defect kind {kind!r} is not a field defect")
    return ",".join(raw.get(i, quote(v)) for i, v in enumerate(fields)), column


def _out_of_range(column: str, value: str, rng: np.random.Generator) -> str:
    if column == "amount":
        return HUGE_AMOUNTS[int(rng.integers(len(HUGE_AMOUNTS)))]
    # A date column: same month and day in 1850 (Feb 29 does not exist then).
    month_day = value[5:10] if len(value) >= 10 else "01-01"
    return "1850-" + ("02-28" if month_day == "02-29" else month_day)


def choose_defects(
    rng: np.random.Generator, rows: int, rate: float, layout: SourceLayout
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of defective rows and their kinds (Bernoulli per row, so counts are noisy)."""
    hit = np.flatnonzero(rng.random(rows) < rate)
    names = np.array(list(layout.kinds))
    weights = np.array(list(layout.kinds.values()))
    kinds = names[rng.choice(names.size, size=hit.size, p=weights / weights.sum())]
    return hit, kinds
