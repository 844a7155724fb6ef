"""The entity every view describes and the tables features are computed from."""

from __future__ import annotations

from typing import Any

from feature_store.core import Entity, FeatureView, Source
from schemas.shop import SHOP_TABLES, SILVER_SHOP
from schemas.transactions import SILVER_TRANSACTIONS

__all__ = ["CUSTOMER", "ORDERS", "ORDER_VERSIONS", "TRANSACTIONS", "customer_view"]

CUSTOMER = Entity(name="customer", join_key="customer_id", description="A bank and shop customer")

TRANSACTIONS = Source(table=SILVER_TRANSACTIONS, event_time="txn_ts", date_column="txn_date")
ORDERS = Source(table=SILVER_SHOP["orders"], event_time="order_ts", date_column="order_date")
# Every version of an order the daily MySQL pulls saw: a return or a cancellation is dated
# when it happened (updated_at), not when the order was placed. Versions pulled after a
# date were not known on it, so pruning by the pull date is also correct in time.
ORDER_VERSIONS = Source(
    table=SHOP_TABLES["orders"], event_time="updated_at", date_column="_run_date"
)

# The source columns the transforms in feature_store/transforms read.
TRANSACTION_INPUTS = (
    "customer_id",
    "txn_ts",
    "txn_date",
    "amount",
    "currency",
    "merchant",
    "category",
    "location",
)
ORDER_INPUTS = ("customer_id", "order_id", "order_ts", "order_date", "total_amount", "status")
ORDER_VERSION_INPUTS = ("customer_id", "order_id", "status", "updated_at")


def customer_view(
    name: str, *, source: Source, inputs: tuple[str, ...], **options: Any
) -> FeatureView:
    """A customer view whose transform and lookback are feature_store.transforms' ``name``."""
    from feature_store.transforms import TRANSFORMS

    transform, lookback_days = TRANSFORMS[name]
    return FeatureView(
        name=name,
        entity=CUSTOMER,
        source=source,
        inputs=inputs,
        transform=transform,
        lookback_days=lookback_days,
        **options,
    )
