"""Shop features: orders placed and returns/cancellations, dated when they happened."""

from __future__ import annotations

from datetime import timedelta

from feature_store.core import Feature
from feature_store.sources import (
    ORDER_INPUTS,
    ORDER_VERSION_INPUTS,
    ORDER_VERSIONS,
    ORDERS,
    customer_view,
)

__all__ = ["customer_orders", "customer_returns"]

OWNER = "retail-data"

customer_orders = customer_view(
    "customer_orders",
    source=ORDERS,
    inputs=ORDER_INPUTS,
    features=(
        Feature("order_count_90d", "long", "orders placed, 90 days"),
        Feature("order_value_90d", "double", "value of orders placed, 90 days"),
        Feature("avg_order_value_90d", "double", "mean order value, 90 days"),
    ),
    ttl=timedelta(days=3),
    owner=OWNER,
    description="Orders placed in the shop, whatever their later status",
    tags={"domain": "retail", "models": "churn,offers"},
)

customer_returns = customer_view(
    "customer_returns",
    source=ORDER_VERSIONS,
    inputs=ORDER_VERSION_INPUTS,
    features=(
        Feature("return_count_90d", "long", "orders returned, 90 days"),
        Feature("cancel_count_90d", "long", "orders cancelled, 90 days"),
    ),
    ttl=timedelta(days=3),
    owner=OWNER,
    description="Returns and cancellations, dated when the order changed",
    tags={"domain": "retail", "models": "churn"},
)
