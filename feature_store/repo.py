"""The feature repository: every view this lakehouse serves, registered in one place."""

from __future__ import annotations

from feature_store.banking_views import (
    customer_activity,
    customer_cashflow,
    customer_income,
    customer_lifestyle,
    customer_spend,
)
from feature_store.registry import Registry
from feature_store.retail_views import customer_orders, customer_returns
from feature_store.risk_views import customer_fraud_profile, customer_velocity, transaction_risk
from feature_store.sources import CUSTOMER

__all__ = ["REGISTRY"]

REGISTRY = Registry(
    entities=[CUSTOMER],
    views=[
        customer_spend,
        customer_lifestyle,
        customer_activity,
        customer_cashflow,
        customer_income,
        customer_fraud_profile,
        customer_velocity,
        customer_orders,
        customer_returns,
        transaction_risk,
    ],
)
