"""Customer features from silver.transactions: spend, lifestyle, activity, cash flow, income.

Definitions: docs/features.md. Transforms: feature_store/transforms.
"""

from __future__ import annotations

from datetime import timedelta

from feature_store.core import Feature, FeatureView
from feature_store.sources import TRANSACTION_INPUTS, TRANSACTIONS, customer_view
from feature_store.transforms import SPEND_CATEGORIES

__all__ = [
    "customer_activity",
    "customer_cashflow",
    "customer_income",
    "customer_lifestyle",
    "customer_spend",
]

OWNER = "growth-data"
# A daily snapshot stays usable for two more days if a materialization is late.
SNAPSHOT_TTL = timedelta(days=3)


def _view(name: str, features: list[Feature], description: str, **tags: str) -> FeatureView:
    return customer_view(
        name,
        source=TRANSACTIONS,
        inputs=TRANSACTION_INPUTS,
        features=tuple(features),
        ttl=SNAPSHOT_TTL,
        owner=OWNER,
        description=description,
        tags={"domain": "banking", **tags},
    )


def _spend_windows() -> list[Feature]:
    features = []
    for days in (7, 30, 90):
        features += [
            Feature(f"spend_sum_{days}d", "double", f"money out over {days} days"),
            Feature(f"spend_count_{days}d", "long", f"debits over {days} days"),
            Feature(f"spend_mean_{days}d", "double", f"mean debit over {days} days"),
            Feature(f"spend_std_{days}d", "double", f"sample std of debits over {days} days"),
        ]
    return features


customer_spend = _view(
    "customer_spend",
    [
        *_spend_windows(),
        *(Feature(f"spend_{c}_30d", "double", f"{c} spend over 30 days") for c in SPEND_CATEGORIES),
    ],
    "How much, how often and on what a customer spends (7/30/90 days)",
    models="churn,segments,offers,fraud",
)

customer_lifestyle = _view(
    "customer_lifestyle",
    [
        Feature("share_travel_90d", "double", "travel share of spend, 90 days"),
        Feature("share_luxury_90d", "double", "luxury share of spend, 90 days"),
        Feature("share_health_90d", "double", "health share of spend, 90 days"),
        Feature("share_emi_90d", "double", "loan installments' share of spend, 90 days"),
    ],
    "Share of spend on lifestyle categories over 90 days",
    models="segments,offers",
)

customer_activity = _view(
    "customer_activity",
    [
        Feature("txn_count_30d", "long", "transactions over 30 days"),
        Feature("active_days_30d", "long", "days with a transaction, 30 days"),
        Feature("days_since_last_txn", "double", "days from the last transaction to the cutoff"),
        Feature("spend_trend_30d", "double", "spend of the last 30 days / half the 60 before"),
    ],
    "Frequency, recency and trend of activity",
    models="churn",
)

customer_cashflow = _view(
    "customer_cashflow",
    [
        Feature("inflow_30d", "double", "money in over 30 days"),
        Feature("outflow_30d", "double", "money out over 30 days"),
        Feature("net_flow_30d", "double", "inflow - outflow, 30 days"),
        Feature("overdraft_days_30d", "long", "days the 30-day running balance was negative"),
    ],
    "Cash flow over 30 days",
    models="churn,offers",
)

customer_income = _view(
    "customer_income",
    [
        Feature("regular_income_90d", "double", "monthly income from regular credits"),
        Feature("has_regular_income", "boolean", "a regular credit (salary) was detected"),
        Feature("recurring_payment_count_90d", "long", "regular payments of a steady amount"),
        Feature("recurring_outflow_90d", "double", "monthly money out to those payments"),
        Feature("merchant_count_90d", "long", "distinct merchants, 90 days"),
    ],
    "Income and recurring payments detected from monthly patterns, and merchant diversity, "
    "by counterparty over 90 days",
    models="churn,offers",
)
