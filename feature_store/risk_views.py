"""Fraud features: the customer's usual behaviour, velocity, and the request-time risk of one
transaction against them. Definitions: docs/features.md."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from feature_store.banking_views import customer_spend
from feature_store.core import Feature, FeatureView, OnDemandFeatureView
from feature_store.sources import TRANSACTION_INPUTS, TRANSACTIONS, customer_view

__all__ = ["customer_fraud_profile", "customer_velocity", "transaction_risk"]

OWNER = "fraud-data"
EARTH_RADIUS_KM = 6371.0


def _view(name: str, **options: Any) -> FeatureView:
    return customer_view(
        name,
        source=TRANSACTIONS,
        inputs=TRANSACTION_INPUTS,
        owner=OWNER,
        tags={"domain": "fraud", "models": "fraud"},
        **options,
    )


customer_fraud_profile = _view(
    "customer_fraud_profile",
    features=(
        Feature("home_location", "string", "most frequent location, 90 days"),
        Feature("foreign_txn_share_90d", "double", "share of transactions not in EUR, 90 days"),
    ),
    ttl=timedelta(days=3),
    description="Where and in which currency a customer usually pays",
)

# One row per transaction time: "as of the customer's last transaction". The streaming
# scorer sees a value once the day is materialized; within the day it counts from its events.
customer_velocity = _view(
    "customer_velocity",
    kind="per_event",
    features=(
        Feature("txn_count_1h", "long", "transactions in the hour up to this one, inclusive"),
        Feature("txn_count_24h", "long", "transactions in the 24 hours up to this one"),
        Feature("spend_24h", "double", "money out in the 24 hours up to this one"),
    ),
    ttl=timedelta(days=1),
    description="How many transactions a customer made in the last hour and day",
)


def _coordinate(place: Column, locations: Mapping[str, tuple[float, float]], axis: int) -> Column:
    if not locations:
        return F.lit(None)
    # One JSON literal, which the optimizer folds into a map, rather than a literal per place
    # and coordinate: building those cost ~0.25 s of driver time per call (four maps of 41
    # places), paid again by every streaming batch.
    values = json.dumps({name: float(point[axis]) for name, point in locations.items()})
    return F.try_element_at(F.from_json(F.lit(values), "map<string,double>"), place)


def _haversine_km(lat1: Column, lon1: Column, lat2: Column, lon2: Column) -> Column:
    d_lat, d_lon = F.radians(lat2 - lat1), F.radians(lon2 - lon1)
    a = F.sin(d_lat / 2) ** 2 + F.cos(F.radians(lat1)) * F.cos(F.radians(lat2)) * (
        F.sin(d_lon / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * F.asin(F.sqrt(a))


def transaction_risk_columns(rows: DataFrame, resources: Mapping[str, Any]) -> DataFrame:
    """amount_zscore, distance_from_home_km, is_away_from_home for each request row."""
    locations = resources["locations"]
    spend = -F.col("amount")
    is_debit = F.col("amount") < 0
    has_spread = F.col("spend_std_90d") > 0
    has_location = F.col("location").isNotNull() & (F.col("location") != "")
    here, home = F.col("location"), F.col("home_location")
    distance = _haversine_km(
        _coordinate(here, locations, 0),
        _coordinate(here, locations, 1),
        _coordinate(home, locations, 0),
        _coordinate(home, locations, 1),
    )
    return rows.withColumns(
        {
            "amount_zscore": F.when(
                is_debit & has_spread,
                (spend - F.col("spend_mean_90d")) / F.col("spend_std_90d"),
            ),
            "distance_from_home_km": distance,
            "is_away_from_home": has_location & ~here.eqNullSafe(home),
        }
    )


def transaction_risk_arrow(rows: pa.Table, resources: Mapping[str, Any]) -> pa.Table:
    """transaction_risk_columns over a pyarrow Table (serving without Spark): the same
    arithmetic in the same order, so amount_zscore is bit-equal; the distance may differ from
    the JVM's trigonometry in the last bits (tests/unit/test_feature_transforms.py)."""
    amount = pc.cast(rows["amount"], pa.float64())
    mean, std = rows["spend_mean_90d"], rows["spend_std_90d"]
    scored = pc.and_kleene(pc.less(amount, 0.0), pc.greater(std, 0.0))
    zscore = pc.divide(pc.subtract(pc.negate(amount), mean), std)
    here, home = rows["location"], rows["home_location"]
    has_location = pc.and_kleene(pc.is_valid(here), pc.not_equal(here, ""))
    same_place = pc.fill_null(
        pc.or_kleene(pc.equal(here, home), pc.and_(pc.is_null(here), pc.is_null(home))), False
    )
    return (
        rows.append_column(
            "amount_zscore", pc.if_else(scored, zscore, pa.scalar(None, pa.float64()))
        )
        .append_column("distance_from_home_km", _distance_km(here, home, resources["locations"]))
        .append_column("is_away_from_home", pc.and_kleene(has_location, pc.invert(same_place)))
    )


def _distance_km(here, home, locations: Mapping[str, tuple[float, float]]) -> pa.Array:
    names = list(locations)
    points = np.array([locations[n] for n in names], dtype=float).reshape(-1, 2)

    def coordinates(place) -> tuple[np.ndarray, np.ndarray]:
        where = pc.index_in(place, value_set=pa.array(names, pa.string()))
        found = pc.is_valid(where).to_numpy(zero_copy_only=False)
        index = pc.fill_null(where, 0).to_numpy(zero_copy_only=False)
        lat = np.where(found, points[index, 0] if names else np.nan, np.nan)
        lon = np.where(found, points[index, 1] if names else np.nan, np.nan)
        return lat, lon

    (lat1, lon1), (lat2, lon2) = coordinates(here), coordinates(home)
    d_lat, d_lon = np.radians(lat2 - lat1), np.radians(lon2 - lon1)
    a = np.sin(d_lat / 2) ** 2 + np.cos(np.radians(lat1)) * np.cos(np.radians(lat2)) * (
        np.sin(d_lon / 2) ** 2
    )
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))
    return pa.array(km, pa.float64(), mask=np.isnan(km))


transaction_risk = OnDemandFeatureView(
    name="transaction_risk",
    sources=(customer_spend, customer_fraud_profile),
    request=(
        Feature("amount", "double", "signed amount, negative = money out"),
        Feature("location", "string", "where the transaction happened"),
    ),
    inputs=("amount", "location", "spend_mean_90d", "spend_std_90d", "home_location"),
    features=(
        Feature("amount_zscore", "double", "debit against the customer's 90-day debits"),
        Feature("distance_from_home_km", "double", "km from the customer's usual location"),
        Feature("is_away_from_home", "boolean", "a location other than the usual one"),
    ),
    transform=transaction_risk_columns,
    arrow_transform=transaction_risk_arrow,
    owner=OWNER,
    description="How unusual one transaction is for its customer (computed per request)",
    tags={"domain": "fraud", "models": "fraud"},
)
