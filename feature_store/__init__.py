"""The feature store: declared entities, sources and feature views; point-in-time training
sets; offline (per date) and online (latest per customer) materialization.

    from feature_store import FeatureStore
    store = FeatureStore(spark, cfg)                      # views from feature_store/repo.py
    store.materialize(date(2024, 3, 31))                  # offline + online tables
    training = store.get_historical_features(labels, ["customer_spend", "customer_income"])
    live = store.get_online_features(events, ["customer_spend", "transaction_risk"])

Feature definitions: docs/features.md. `lakehouse features list` shows what is registered.
"""

from feature_store.core import Entity, Feature, FeatureView, OnDemandFeatureView, Source
from feature_store.materialize import Materialized
from feature_store.registry import Registry
from feature_store.store import FeatureStore

__all__ = [
    "Entity",
    "Feature",
    "FeatureStore",
    "FeatureView",
    "Materialized",
    "OnDemandFeatureView",
    "Registry",
    "Source",
]
