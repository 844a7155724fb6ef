"""Shop features: orders placed and returns/cancellations, dated when they happened."""

from __future__ import annotations

from datetime import timedelta

from feature_store.core import Feature, FeatureView
from feature_store.sources import (
    CUSTOMER,
    ORDER_INPUTS,
    ORDER_VERSION_INPUTS,
    ORDER_VERSIONS,
    ORDERS,
)
from feature_store.transforms import TRANSFORMS

__all__ = ["customer_orders", "customer_returns"]

OWNER = "retail-data"

customer_orders = FeatureView(
    name="customer_orders",
    entity=CUSTOMER,
    source=ORDERS,
    inputs=ORDER_INPUTS,
    transform=TRANSFORMS["customer_orders"][0],
    lookback_days=TRANSFORMS["customer_orders"][1],
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

customer_returns = FeatureView(
    name="customer_returns",
    entity=CUSTOMER,
    source=ORDER_VERSIONS,
    inputs=ORDER_VERSION_INPUTS,
    transform=TRANSFORMS["customer_returns"][0],
    lookback_days=TRANSFORMS["customer_returns"][1],
    features=(
        Feature("return_count_90d", "long", "orders returned, 90 days"),
        Feature("cancel_count_90d", "long", "orders cancelled, 90 days"),
    ),
    ttl=timedelta(days=3),
    owner=OWNER,
    description="Returns and cancellations, dated when the order changed",
    tags={"domain": "retail", "models": "churn"},
)
