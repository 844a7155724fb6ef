"""The customer features of docs/features.md as pure Spark transforms: source rows and the
as-of date in, one DataFrame of ``customer_id`` and the view's features out. No I/O, no clock,
built-in Spark functions only.

Each transform cuts its source to its own window by event date, so it may be handed more
rows than it needs; ``TRANSFORMS`` says how many days (``as_of`` included) each one reads.
Snapshot views have one row per customer with a source row in the view's longest window;
the framework stamps them with ``feature_ts`` (``as_of + 1 day, 00:00 UTC``). The velocity
view carries its own ``feature_ts`` (the transaction time).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame

from ._habits import customer_fraud_profile, customer_income
from ._orders import customer_orders, customer_returns
from ._spending import (
    SPEND_CATEGORIES,
    customer_activity,
    customer_cashflow,
    customer_lifestyle,
    customer_spend,
)
from ._velocity import customer_velocity

__all__ = [
    "SPEND_CATEGORIES",
    "TRANSFORMS",
    "customer_activity",
    "customer_cashflow",
    "customer_fraud_profile",
    "customer_income",
    "customer_lifestyle",
    "customer_orders",
    "customer_returns",
    "customer_spend",
    "customer_velocity",
]

# view name -> (transform, days of source it reads, counting as_of itself)
TRANSFORMS: dict[str, tuple[Callable[..., DataFrame], int]] = {
    "customer_spend": (customer_spend, 90),
    "customer_lifestyle": (customer_lifestyle, 90),
    "customer_activity": (customer_activity, 90),
    "customer_cashflow": (customer_cashflow, 30),
    "customer_income": (customer_income, 90),
    "customer_fraud_profile": (customer_fraud_profile, 90),
    # the run date and the day before it, which its 24-hour ranges reach into (days=1)
    "customer_velocity": (customer_velocity, 2),
    "customer_orders": (customer_orders, 90),
    "customer_returns": (customer_returns, 90),
}
