"""What to generate (GeneratorSpec) and what comes back in memory (GeneratedData)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa

from lakehouse.errors import LakehouseError

__all__ = ["GeneratedData", "GeneratorSpec", "GeneratorSpecError"]

MAX_DAYS = 3660


class GeneratorSpecError(LakehouseError, ValueError):
    """A GeneratorSpec value is out of range; the message names the field and the fix."""


@dataclass(frozen=True, kw_only=True)
class GeneratorSpec:
    """One deterministic data set: the same spec always gives byte-identical outputs.

    ``defect_rate`` is the share of rows in each CSV source (and of Kafka events) that carry
    one injected defect; 0 gives clean data.
    """

    customers: int
    days: int
    seed: int
    start_date: date = date(2024, 1, 1)
    defect_rate: float = 0.01
    local_merchants: int = 120  # long-tail shops added to the catalog's ~60 brands
    products: int = 300
    suppliers: int = 40
    max_rows_per_file: int = 250_000

    def __post_init__(self) -> None:
        _check(self.customers >= 1, "customers", self.customers, "use at least 1")
        _check(1 <= self.days <= MAX_DAYS, "days", self.days, f"use 1..{MAX_DAYS}")
        _check(self.seed >= 0, "seed", self.seed, "use a non-negative integer")
        _check(0.0 <= self.defect_rate <= 0.2, "defect_rate", self.defect_rate, "use 0..0.2")
        _check(self.products >= 1, "products", self.products, "use at least 1")
        _check(self.suppliers >= 1, "suppliers", self.suppliers, "use at least 1")
        _check(
            self.max_rows_per_file >= 1000,
            "max_rows_per_file",
            self.max_rows_per_file,
            "use at least 1000",
        )
        _check(self.local_merchants >= 0, "local_merchants", self.local_merchants, "use >= 0")

    @property
    def end_date(self) -> date:
        """The last generated day (inclusive)."""
        return self.start_date + timedelta(days=self.days - 1)


def _check(ok: bool, name: str, value: object, fix: str) -> None:
    if not ok:
        raise GeneratorSpecError(f"GeneratorSpec.{name}={value!r} is out of range; {fix}")


@dataclass(frozen=True, kw_only=True)
class GeneratedData:
    """The in-memory side of a run: the MariaDB tables and the clean transactions.

    MariaDB tables (``customers``, ``accounts``, ``orders``, ``order_items``, ``products``,
    ``suppliers``, ``regions``) hold every version of a row, each stamped ``updated_at``;
    the state on a day is the latest version per primary key up to that day
    (see ``mysql_sink.state_as_of``). ``transactions`` are the clean events before defects.
    """

    spec: GeneratorSpec
    customers: pa.Table
    accounts: pa.Table
    orders: pa.Table
    order_items: pa.Table
    products: pa.Table
    suppliers: pa.Table
    regions: pa.Table
    bank_products: pa.Table
    transactions: pa.Table
    landing: Path | None = None
    truth: Path | None = None
    files: tuple[Path, ...] = ()
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
