"""The feature store end to end on generator data: materialization into real Delta tables,
point-in-time training sets against a brute-force oracle read with delta-rs, no leakage,
idempotent re-runs, online values refreshed without a restart."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from pyspark.sql import functions as F

from bench.generated_silver import bronze_order_versions, silver_orders, silver_transactions
from feature_store import FeatureStore
from feature_store.resources import load_resources
from lakehouse import Warehouse
from lakehouse.generate import GeneratorSpec, generate
from schemas.shop import SHOP_TABLES, SILVER_SHOP
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.integration

SPEC = GeneratorSpec(customers=300, days=100, seed=11, defect_rate=0.0)
DATES = (dt.date(2024, 4, 5), dt.date(2024, 4, 6), dt.date(2024, 4, 7))
VIEWS = ("customer_spend", "customer_fraud_profile", "customer_velocity")
T = dt.datetime


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("feature-store-data")
    return generate(SPEC, landing=root / "landing", truth=root / "truth")


@pytest.fixture(scope="module")
def store(spark, cfg, generated, tmp_path_factory) -> FeatureStore:
    root = tmp_path_factory.mktemp("feature-store")
    warehouse = Warehouse(str(root / "warehouse"))
    for contract, rows in (
        (SILVER_TRANSACTIONS, silver_transactions(generated)),
        (SILVER_SHOP["orders"], silver_orders(generated)),
        (SHOP_TABLES["orders"], bronze_order_versions(generated)),
    ):
        path = root / f"{contract.name}.parquet"
        pq.write_table(rows, path)
        frame = spark.read.schema(contract.schema).parquet(str(path))
        warehouse.create(contract).write(frame, mode="overwrite")
    store = FeatureStore(spark, cfg, warehouse=warehouse)
    for day in DATES:
        store.materialize(day, views=list(VIEWS))
    return store


def _rows(store: FeatureStore, table: str, **filters) -> list[dict]:
    """A table as delta-rs reads it: the independent reader."""
    delta = DeltaTable(store.warehouse.uri_for(table))
    found = delta.to_pyarrow_table(filters=[(k, "=", v) for k, v in filters.items()] or None)
    return [{k: _naive_utc(v) for k, v in row.items()} for row in found.to_pylist()]


def _naive_utc(value):
    """Spark hands back naive UTC timestamps; delta-rs gives them with a time zone."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _entity_rows(store: FeatureStore, spark) -> list[tuple]:
    """Customers at random times over the materialized days, at exact cutoffs, at exact
    velocity stamps, and long after (beyond every TTL)."""
    rng = random.Random(5)
    customers = sorted({r["customer_id"] for r in _rows(store, "features.customer_spend")})
    velocity = _rows(store, "features.customer_velocity")
    start = T(2024, 4, 5)
    rows = []
    for customer in customers:
        rows.append((customer, start + dt.timedelta(seconds=rng.randrange(6 * 86400))))
        rows.append((customer, T(2024, 4, 7) if rng.random() < 0.5 else T(2024, 4, 8)))
    rows += [(r["customer_id"], r["feature_ts"]) for r in rng.sample(velocity, 200)]
    rows += [(customers[0], T(2024, 4, 12)), ("C-nobody", T(2024, 4, 7, 12))]
    return [(i, key, ts) for i, (key, ts) in enumerate(rows)]


def _oracle(store: FeatureStore, entity_rows: list[tuple], view) -> dict[int, dict]:
    """For each entity row, by brute force: the view's latest row stamped strictly before
    the row's time and within the TTL."""
    by_key: dict[str, list[dict]] = {}
    for row in _rows(store, view.offline_table):
        by_key.setdefault(row["customer_id"], []).append(row)
    expected = {}
    for row_id, key, ts in entity_rows:
        usable = [
            r for r in by_key.get(key, []) if r["feature_ts"] < ts <= r["feature_ts"] + view.ttl
        ]
        best = max(usable, key=lambda r: r["feature_ts"], default=None)
        expected[row_id] = {
            **{name: best[name] if best else None for name in view.feature_names},
            f"{view.name}__feature_ts": best["feature_ts"] if best else None,
        }
    return expected


def test_training_set_equals_the_brute_force_oracle(store, spark):
    entity_rows = _entity_rows(store, spark)
    entities = spark.createDataFrame(
        entity_rows, "row_id long, customer_id string, event_ts timestamp"
    )
    training = store.get_historical_features(entities, list(VIEWS), feature_timestamps=True)
    got = {r["row_id"]: r.asDict() for r in training.collect()}
    assert len(got) == len(entity_rows)
    mismatches = []
    for view_name in VIEWS:
        view = store.registry.view(view_name)
        for row_id, want in _oracle(store, entity_rows, view).items():
            found = {name: got[row_id][name] for name in want}
            if found != want:
                mismatches.append((view_name, row_id, want, found))
    assert mismatches == []
    filled = sum(1 for r in got.values() if r["customer_spend__feature_ts"] is not None)
    assert filled > len(entity_rows) * 0.5  # the oracle compared real values, not only NULLs


def test_no_value_from_the_future_reaches_a_row(store, spark):
    entities = spark.createDataFrame(
        _entity_rows(store, spark), "row_id long, customer_id string, event_ts timestamp"
    )
    training = store.get_historical_features(entities, list(VIEWS), feature_timestamps=True)
    stamps = [F.col(f"{v}__feature_ts") for v in VIEWS]
    leaked = training.filter(
        F.greatest(*[F.coalesce(s, F.lit(T(1970, 1, 1))) for s in stamps]) >= F.col("event_ts")
    )
    assert leaked.count() == 0


def test_a_late_row_stamped_after_the_request_is_not_used(store, spark):
    spend = store.registry.view("customer_spend")
    offline = store.warehouse.table(spend.offline_table)
    customer = _rows(store, spend.offline_table, feature_date=DATES[-1])[0]["customer_id"]
    late_day = dt.date(2024, 4, 20)
    late = {name: None for name in spend.feature_names} | {"spend_sum_7d": 1e12}
    late_row = spark.createDataFrame(
        [{"customer_id": customer, "feature_date": late_day, "feature_ts": T(2024, 4, 21), **late}],
        offline.schema,
    )
    offline.write(late_row, mode="replace_where", predicate="feature_date = DATE'2024-04-20'")
    try:
        before, after = T(2024, 4, 8, 12), T(2024, 4, 21, 0, 0, 1)
        entities = spark.createDataFrame(
            [(customer, before), (customer, T(2024, 4, 21)), (customer, after)],
            "customer_id string, event_ts timestamp",
        )
        got = store.get_historical_features(entities, ["customer_spend"]).orderBy("event_ts")
        spend_7d = [r["spend_sum_7d"] for r in got.collect()]
        assert 1e12 not in spend_7d[:2]
        assert spend_7d[2] == 1e12  # the row is readable once its time has come
    finally:
        empty = spark.createDataFrame([], offline.schema)
        offline.write(empty, mode="replace_where", predicate="feature_date = DATE'2024-04-20'")


def test_materializing_a_date_again_changes_nothing(store):
    tables = [t for v in VIEWS for t in (f"features.{v}", f"features.{v}_online")]
    before = {t: _sorted(_rows(store, t)) for t in tables}
    store.materialize(DATES[0], views=list(VIEWS))  # also a backfill: online must not go back
    store.materialize(DATES[-1], views=list(VIEWS))
    assert {t: _sorted(_rows(store, t)) for t in tables} == before


def test_online_values_follow_each_materialization_without_a_restart(store, spark):
    spend = store.registry.view("customer_spend")
    customers = [
        r["customer_id"] for r in _rows(store, spend.offline_table, feature_date=DATES[-1])
    ]
    requests = spark.createDataFrame(
        [(c, T(2024, 4, 8, 12)) for c in customers], "customer_id string, event_ts timestamp"
    )
    first = {r["customer_id"]: r["spend_sum_30d"] for r in _online(store, requests)}
    assert first == _offline_values(store, DATES[-1], "spend_sum_30d")

    next_day = DATES[-1] + dt.timedelta(days=1)
    store.materialize(next_day, views=["customer_spend"])
    later = requests.withColumn("event_ts", F.lit(T(2024, 4, 9, 12)))
    second = {r["customer_id"]: r["spend_sum_30d"] for r in _online(store, later)}
    newest = _offline_values(store, next_day, "spend_sum_30d")
    # A customer without a row on the new date keeps the previous one (within its TTL).
    assert second == {c: newest.get(c, first[c]) for c in customers}
    assert second != first
    # A request older than the newest stamp gets nothing rather than a value from its future.
    refreshed = {r["customer_id"]: r["spend_sum_30d"] for r in _online(store, requests)}
    assert {refreshed[c] for c in newest if c in refreshed} == {None}


def test_transaction_risk_matches_a_hand_computation(store, spark, cfg):
    spend = _offline_by_customer(store, "features.customer_spend", DATES[-1])
    profile = _offline_by_customer(store, "features.customer_fraud_profile", DATES[-1])
    locations = load_resources(Path(cfg.conf_dir))["locations"]
    usable = [c for c in sorted(spend) if (spend[c]["spend_std_90d"] or 0) > 0]
    customers = [c for c in usable if profile.get(c, {}).get("home_location")][:40]
    requests = [
        (c, T(2024, 4, 8, 9), -150.0 - i, "Lagos" if i % 2 else "Munich")
        for i, c in enumerate(customers)
    ]
    frame = spark.createDataFrame(
        requests, "customer_id string, event_ts timestamp, amount double, location string"
    )
    got = store.get_historical_features(frame, ["transaction_risk"]).collect()
    for row in got:
        mean, std = (spend[row["customer_id"]][k] for k in ("spend_mean_90d", "spend_std_90d"))
        home = profile[row["customer_id"]]["home_location"]
        assert row["amount_zscore"] == pytest.approx((-row["amount"] - mean) / std)
        distance = _haversine(locations[row["location"]], locations[home])
        assert row["distance_from_home_km"] == pytest.approx(distance, rel=1e-9)
        assert row["is_away_from_home"] == (row["location"] != home)


def test_the_arrow_lookup_equals_the_spark_one(store, spark):
    # The streaming tasks' lookup (OnlineSnapshot, no Spark) against get_online_features over
    # the same requests: known and unknown customers, before and after the stamps and beyond
    # the TTL, credits, unknown, empty and NULL places.
    rng = random.Random(9)
    customers = sorted({r["customer_id"] for r in _rows(store, "features.customer_spend")})
    places = ["Munich", "Lagos", "London", "Atlantis", "", None]
    requests = [
        (
            f"r{i}",
            rng.choice([*customers, "C-nobody"]),
            T(2024, 4, rng.choice([6, 7, 8, 9, 30]), rng.randrange(24)),
            round(rng.uniform(-900, 300), 2),
            rng.choice(places),
        )
        for i in range(400)
    ]
    schema = "request_id string, customer_id string, txn_ts timestamp, amount double, "
    schema += "location string"
    features = ["customer_spend", "transaction_risk"]
    frame = spark.createDataFrame(requests, schema)
    want = {
        r["request_id"]: r.asDict()
        for r in store.get_online_features(frame, features, timestamp_column="txn_ts").collect()
    }
    snapshot = store.online_snapshot(features)
    arrow = pa.Table.from_pylist(
        [dict(zip(frame.columns, r, strict=True)) for r in requests],
        schema=pa.schema(
            [
                ("request_id", pa.string()),
                ("customer_id", pa.string()),
                ("txn_ts", pa.timestamp("us", tz="UTC")),
                ("amount", pa.float64()),
                ("location", pa.string()),
            ]
        ),
    )
    got = snapshot.lookup(arrow, timestamp_column="txn_ts")
    assert got.column_names == list(want["r0"])
    assert got.num_rows == len(requests)
    for row in got.to_pylist():
        expected = want[row["request_id"]]
        distance, spark_distance = (
            row.pop("distance_from_home_km"),
            expected.pop("distance_from_home_km"),
        )
        assert (distance is None) == (spark_distance is None)
        assert distance is None or distance == pytest.approx(spark_distance, rel=1e-12)
        assert {k: _naive_utc(v) for k, v in row.items()} == expected
    assert any(r["amount_zscore"] is not None for r in want.values())
    assert any(r["spend_mean_90d"] is None for r in want.values())


def _online(store: FeatureStore, requests):
    return store.get_online_features(requests, ["customer_spend"]).collect()


def _offline_values(store: FeatureStore, day: dt.date, feature: str) -> dict:
    return {
        r["customer_id"]: r[feature]
        for r in _rows(store, "features.customer_spend", feature_date=day)
    }


def _offline_by_customer(store: FeatureStore, table: str, day: dt.date) -> dict[str, dict]:
    return {r["customer_id"]: r for r in _rows(store, table, feature_date=day)}


def _sorted(rows: list[dict]) -> list[tuple]:
    return sorted((tuple(sorted(r.items())) for r in rows), key=repr)


def _haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(math.sqrt(h))
