"""Transactions as columns of integer codes until the end, then one typed pyarrow table.

Low-cardinality text (merchant string, category, mode, city, remark, currency) stays an index
into a small pool and becomes a dictionary column; that keeps 10M rows in well under 2 GB.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate import catalog
from lakehouse.generate._text import EPOCH, cents_to_decimal, ids, ts_array
from lakehouse.generate.customers import CITY_NAMES

ALL_CATEGORIES = (
    *catalog.CATEGORY_NAMES,
    "subscription",
    "utilities",
    "loan_emi",
    "salary",
    "rent",
    "crypto",
    "gift_cards",
    "money_transfer",
    "gambling",
)
CATEGORY_INDEX = {name: i for i, name in enumerate(ALL_CATEGORIES)}
MODE_INDEX = {name: i for i, name in enumerate(catalog.MODES)}
REMARKS = (
    "",
    "contactless",
    "Online purchase",
    "Order ref, thank you",
    "REFUND",
    "Salary payment",
    "Rent",
    "Loan installment",
    "Monthly subscription",
    "Monthly fee",
    "Cash withdrawal",
    "Transfer, see invoice",
)
REMARK_INDEX = {name: i for i, name in enumerate(REMARKS)}
# Location 0 is "no physical place" (online, transfers, direct debits): an empty field.
LOCATIONS = ("", *CITY_NAMES, *(city for city, _ in catalog.FOREIGN_CITIES))
FOREIGN_LOCATION = 1 + len(CITY_NAMES)
FOREIGN_CURRENCY = np.array([catalog.CURRENCIES.index(c) for _, c in catalog.FOREIGN_CITIES])
TXN_COLUMNS = (
    "txn_id",
    "customer_id",
    "account_id",
    "txn_ts",
    "amount",
    "currency",
    "merchant_raw",
    "category",
    "mode",
    "location",
    "remarks",
)


@dataclass(frozen=True)
class Parts:
    cust: np.ndarray
    account: np.ndarray
    sec: np.ndarray
    cents: np.ndarray
    currency: np.ndarray
    raw: np.ndarray
    category: np.ndarray
    mode: np.ndarray
    location: np.ndarray
    remark: np.ndarray
    fraud_kind: np.ndarray

    @classmethod
    def of(cls, **columns: np.ndarray) -> Parts:
        size = columns["cust"].size
        columns.setdefault("fraud_kind", np.full(size, -1, dtype=np.int8))
        return cls(**{k: np.asarray(v) for k, v in columns.items()})

    @classmethod
    def concat(cls, parts: list[Parts]) -> Parts:
        names = [f.name for f in fields(cls)]
        return cls(**{k: np.concatenate([getattr(p, k) for p in parts]) for k in names})

    def take(self, order: np.ndarray) -> Parts:
        return Parts(**{f.name: getattr(self, f.name)[order] for f in fields(self)})


@dataclass(frozen=True)
class DayTransactions:
    """One day's clean transactions plus the integers the CSV writer formats directly."""

    day: int
    table: pa.Table
    sec: np.ndarray
    cents: np.ndarray
    fraud: pa.Table  # txn_id, customer_id, fraud_kind


def _dictionary(index: np.ndarray, pool, *, empty_is_null: bool = False) -> pa.DictionaryArray:
    """Index 0 of LOCATIONS and REMARKS is the empty string: a null in the typed table."""
    mask = index == 0 if empty_is_null else None
    indices = pa.array(index, pa.int32(), mask=mask)
    return pa.DictionaryArray.from_arrays(indices, pa.array(pool, pa.string()))


def finish_day(
    day: int, parts: Parts, *, customer_id: pa.Array, account_id: pa.Array, raw_pool
) -> DayTransactions:
    """Sort the day's rows by time, number them T<yyyymmdd><seq> and build the typed table."""
    parts = parts.take(np.lexsort((parts.raw, parts.cust, parts.sec)))
    stamp = (EPOCH + timedelta(days=int(day))).strftime("%Y%m%d")
    txn_id = ids(f"T{stamp}", np.arange(1, parts.cust.size + 1), 7)
    table = pa.table(
        {
            "txn_id": txn_id,
            "customer_id": pc.take(customer_id, pa.array(parts.cust)),
            "account_id": pc.take(account_id, pa.array(parts.account)),
            "txn_ts": ts_array(parts.sec),
            "amount": cents_to_decimal(parts.cents),
            "currency": _dictionary(parts.currency, catalog.CURRENCIES),
            "merchant_raw": _dictionary(parts.raw, raw_pool),
            "category": _dictionary(parts.category, ALL_CATEGORIES),
            "mode": _dictionary(parts.mode, catalog.MODES),
            "location": _dictionary(parts.location, LOCATIONS, empty_is_null=True),
            "remarks": _dictionary(parts.remark, REMARKS, empty_is_null=True),
        }
    )
    fraud_rows = np.flatnonzero(parts.fraud_kind >= 0)
    fraud = pa.table(
        {
            "txn_id": pc.take(txn_id, pa.array(fraud_rows)),
            "customer_id": pc.take(table["customer_id"], pa.array(fraud_rows)),
            "fraud_kind": np.array(catalog.FRAUD_KINDS)[parts.fraud_kind[fraud_rows]],
        }
    )
    return DayTransactions(day, table, parts.sec, parts.cents, fraud)


def day_date(day: int) -> date:
    return EPOCH + timedelta(days=int(day))
