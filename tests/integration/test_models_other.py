"""The anomaly, segmentation and next-best-offer models end to end on a small generated bank:
silver tables in a real warehouse, features materialized by the feature store, training
logged to MLflow (a private sqlite store) and registered, scores in the contracts' shapes."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from bench.generated_silver import silver_accounts, silver_customers, silver_transactions
from feature_store import FeatureStore
from lakehouse import Warehouse
from lakehouse.config import MlflowConfig
from lakehouse.errors import ModelInputError, ModelNotFoundError, SourceUnavailableError
from lakehouse.generate import GeneratorSpec, generate
from models.anomaly import score_transactions
from models.anomaly_training import train_anomaly, transaction_rows
from models.model_runs import load_registered, log_and_register
from models.offer_training import offer_scoring_set, train_offers
from models.offers import eligibility, load_offer_rules, offer_rows
from models.segmentation import FEATURES, fit_segments, segment_rows, train_segments
from models.tracking import CHALLENGER, CHAMPION
from schemas.customers import SILVER_CUSTOMERS
from schemas.scores import CUSTOMER_SEGMENTS, NEXT_BEST_OFFERS, TRANSACTION_ANOMALIES
from schemas.shop import SILVER_SHOP
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.integration

SPEC = GeneratorSpec(customers=400, days=70, seed=21, defect_rate=0.0)
RUN_DATE = SPEC.end_date  # 2024-03-10
HORIZON = 14
SNAPSHOT = RUN_DATE - dt.timedelta(days=HORIZON)  # the offer model's training snapshot
# The anomaly model learns from the day after it: its baselines are that snapshot's.
ANOMALY_DATE = SNAPSHOT + dt.timedelta(days=1)
CUSTOMER_VIEWS = [
    "customer_spend",
    "customer_lifestyle",
    "customer_activity",
    "customer_cashflow",
    "customer_income",
]
SMALL_MODELS = {
    "anomaly": {"train_days": 1, "trees": 50, "max_samples": 256},
    "segmentation": {"k_min": 2, "k_max": 4, "silhouette_sample": 300},
    "offers": {"horizon_days": HORIZON, "snapshots": 1, "min_positives": 2},
}


@pytest.fixture(scope="module")
def model_cfg(cfg, tmp_path_factory):
    """The session config with small models and an MLflow store of this module's own."""
    root = tmp_path_factory.mktemp("mlflow-models-other")
    models = cfg.models.model_copy(
        update={k: getattr(cfg.models, k).model_copy(update=v) for k, v in SMALL_MODELS.items()}
    )
    mlflow = MlflowConfig(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}", artifact_root=(root / "artifacts").as_uri()
    )
    return cfg.model_copy(update={"models": models, "mlflow": mlflow})


@pytest.fixture(scope="module")
def store(spark, model_cfg, tmp_path_factory) -> FeatureStore:
    root = tmp_path_factory.mktemp("models-other")
    data = generate(SPEC, landing=root / "landing", truth=root / "truth")
    warehouse = Warehouse(str(root / "warehouse"))
    for contract, rows in (
        (SILVER_TRANSACTIONS, silver_transactions(data)),
        (SILVER_CUSTOMERS, silver_customers(data)),
        (SILVER_SHOP["accounts"], silver_accounts(data)),
    ):
        path = root / f"{contract.name}.parquet"
        pq.write_table(rows, path)
        frame = spark.read.schema(contract.schema).parquet(str(path))
        warehouse.create(contract).write(frame, mode="overwrite")
    store = FeatureStore(spark, model_cfg, warehouse=warehouse)
    # Customer snapshots on the offer snapshot (also the anomaly day's baselines: TTL 3 days)
    # and on the run date; the anomaly day's velocity.
    store.materialize(SNAPSHOT, views=[*CUSTOMER_VIEWS, "customer_fraud_profile"])
    store.materialize(ANOMALY_DATE, views=["customer_velocity"])
    store.materialize(RUN_DATE, views=CUSTOMER_VIEWS)
    return store


@pytest.fixture(scope="module")
def anomaly(store, model_cfg):
    return train_anomaly(store, model_cfg, run_date=ANOMALY_DATE)


def test_anomaly_trains_logs_and_registers_as_champion(anomaly, model_cfg):
    assert (anomaly.registered.version, anomaly.registered.alias) == ("1", CHAMPION)
    ref, loaded = load_registered(model_cfg, "anomaly")
    assert ref == anomaly.registered.ref
    reloaded = loaded.predict_frame(anomaly.rows)
    assert reloaded["anomaly_score"].tolist() == anomaly.scores.tolist()


def test_every_transaction_of_the_day_is_scored_and_alerts_pass_the_threshold(
    anomaly, store, spark
):
    booked = (
        store.warehouse.table("silver.transactions")
        .to_spark(spark, filters=[("txn_date", "=", ANOMALY_DATE)])
        .count()
    )
    scored = anomaly.model.predict_frame(anomaly.rows)
    assert len(scored) == booked == scored["txn_id"].nunique()
    assert (scored["is_alert"] == (scored["anomaly_score"] > anomaly.model.threshold)).all()
    assert scored["is_alert"].mean() <= anomaly.model.alert_rate


def test_spark_scores_equal_in_process_scores_in_the_contracts_shape(anomaly, store):
    rows = transaction_rows(store, first_day=ANOMALY_DATE, last_day=ANOMALY_DATE)
    ref = anomaly.registered.ref
    scored = score_transactions(rows, anomaly.model, score_date=ANOMALY_DATE, model_ref=ref)
    assert scored.schema == TRANSACTION_ANOMALIES.schema
    got = scored.toPandas().sort_values("txn_id", ignore_index=True)
    want = anomaly.model.predict_frame(rows.toPandas()).sort_values("txn_id", ignore_index=True)
    assert got["txn_id"].tolist() == want["txn_id"].tolist()
    assert got["anomaly_score"].tolist() == want["anomaly_score"].tolist()
    assert got["is_alert"].tolist() == want["is_alert"].tolist()
    assert set(got["score_date"]) == {ANOMALY_DATE}


def test_scoring_rows_without_a_feature_column_fails_before_any_spark_job(anomaly, store):
    rows = transaction_rows(store, first_day=ANOMALY_DATE, last_day=ANOMALY_DATE)
    with pytest.raises(ModelInputError, match=r"\['txn_count_1h'\]"):
        score_transactions(
            rows.drop("txn_count_1h"),
            anomaly.model,
            score_date=ANOMALY_DATE,
            model_ref=anomaly.registered.ref,
        )


def test_a_day_without_materialized_velocity_is_refused(store):
    with pytest.raises(SourceUnavailableError, match=r"customer_velocity .*\(2024-02-25\)"):
        transaction_rows(store, first_day=SNAPSHOT, last_day=ANOMALY_DATE)


def test_the_velocity_a_transaction_sees_counts_itself(store):
    rows = transaction_rows(store, first_day=ANOMALY_DATE, last_day=ANOMALY_DATE)
    assert rows.filter(F.col("txn_count_1h").isNull() | (F.col("txn_count_1h") < 1)).count() == 0


@pytest.fixture(scope="module")
def segments(store, model_cfg):
    return train_segments(store, model_cfg, run_date=RUN_DATE)


def test_segments_train_register_and_score_in_the_contracts_shape(segments, model_cfg):
    assert (segments.registered.version, segments.registered.alias) == ("1", CHAMPION)
    rows = segment_rows(
        segments.customers,
        segments.features,
        segments.model,
        score_date=RUN_DATE,
        model_ref=segments.registered.ref,
    )
    assert list(rows.columns) == list(CUSTOMER_SEGMENTS.column_names)
    assert rows["customer_id"].is_unique
    assert set(rows["segment"]) == set(segments.model.names)
    ref, loaded = load_registered(model_cfg, "segments")
    assert ref.version == "1"
    assert loaded.names == segments.model.names


def test_a_refit_on_the_same_customers_gives_the_same_named_segments(segments, model_cfg):
    again = fit_segments(segments.features, settings=model_cfg.models.segmentation)
    assert again.names == segments.model.names
    pd.testing.assert_frame_equal(
        again.predict_frame(segments.features), segments.model.predict_frame(segments.features)
    )


def test_a_later_version_is_challenger_unless_promoted(segments, model_cfg):
    def register(*, promote: bool):
        return log_and_register(
            model_cfg,
            name="segments",
            model=segments.model,
            params={},
            metrics={},
            lineage={"tables": {}},
            input_example=segments.features[list(FEATURES)].head(3),
            run_name="segments again",
            promote=promote,
        )

    kept = register(promote=False)
    assert kept.alias == CHALLENGER
    assert "champion v1 is kept" in kept.reason
    promoted = register(promote=True)
    assert promoted.alias == CHAMPION
    assert load_registered(model_cfg, "segments")[0].version == promoted.version


def test_offers_train_register_and_offer_only_eligible_products_not_held(store, model_cfg):
    trained = train_offers(store, model_cfg, run_date=RUN_DATE)
    assert (trained.registered.version, trained.registered.alias) == ("1", CHAMPION)
    rules = load_offer_rules(model_cfg.conf_dir)
    customers, features = offer_scoring_set(
        store, score_date=RUN_DATE, settings=model_cfg.models.offers, rules=rules
    )
    rows = offer_rows(
        customers,
        features,
        trained.model,
        score_date=RUN_DATE,
        model_ref=trained.registered.ref,
        rules=rules,
    )
    assert list(rows.columns) == list(NEXT_BEST_OFFERS.column_names)
    assert len(rows) > 0
    allowed = eligibility(features, rules).set_axis(customers.to_numpy())
    offered = zip(rows["customer_id"], rows["product_code"], strict=True)
    assert all(allowed.at[customer, product] for customer, product in offered)
    assert rows["rank"].between(1, rules.max_offers).all()
    assert rows["confidence"].between(0, 100).all()
    assert not rows.duplicated(["customer_id", "product_code"]).any()


def test_loading_a_model_never_registered_is_a_clear_error(model_cfg):
    with pytest.raises(ModelNotFoundError, match=r"models:/nothing@champion"):
        load_registered(model_cfg, "nothing")


def test_train_and_score_jobs_write_each_models_rows_for_a_date_once(
    spark, store, model_cfg, anomaly, segments
):
    """`lakehouse train|score --model anomaly|segments|offers` (jobs/train.py, jobs/score.py):
    rows equal the registered model's in-process output; scoring a date again replaces it."""
    from deltalake import DeltaTable

    from jobs.score import run as score
    from jobs.train import train_other
    from lakehouse.run import RunContext

    # promote: this module's other tests registered offers versions already, in any order.
    trained = train_other(
        spark,
        model_cfg,
        context=RunContext.start("train", RUN_DATE),
        model_name="offers",
        promote=True,
        warehouse=store.warehouse,
    )
    assert trained.registered.alias == CHAMPION
    rules = load_offer_rules(model_cfg.conf_dir)
    customers, features = offer_scoring_set(
        store, score_date=RUN_DATE, settings=model_cfg.models.offers, rules=rules
    )
    wanted = {}
    for name, day in (("anomaly", ANOMALY_DATE), ("segments", RUN_DATE), ("offers", RUN_DATE)):
        ref, fitted = load_registered(model_cfg, name)
        if name == "anomaly":
            rows = fitted.predict_frame(
                transaction_rows(store, first_day=day, last_day=day).toPandas()
            )
            wanted[name] = sorted(zip(rows["txn_id"], rows["anomaly_score"], strict=True))
        elif name == "segments":
            rows = segment_rows(
                segments.customers, segments.features, fitted, score_date=day, model_ref=ref
            )
            wanted[name] = sorted(zip(rows["customer_id"], rows["segment"], strict=True))
        else:
            rows = offer_rows(
                customers, features, fitted, score_date=day, model_ref=ref, rules=rules
            )
            wanted[name] = sorted(
                zip(rows["customer_id"], rows["product_code"], rows["rank"], strict=True)
            )
        wanted[name] = (ref.version, wanted[name])

    for (name, day), contract in zip(
        (("anomaly", ANOMALY_DATE), ("segments", RUN_DATE), ("offers", RUN_DATE)),
        (TRANSACTION_ANOMALIES, CUSTOMER_SEGMENTS, NEXT_BEST_OFFERS),
        strict=True,
    ):
        context = RunContext.start("score", day)
        first = score(spark, model_cfg, context=context, model_name=name, warehouse=store.warehouse)
        again = score(spark, model_cfg, context=context, model_name=name, warehouse=store.warehouse)
        stored = DeltaTable(store.warehouse.table(contract.name).uri).to_pandas()
        stored = stored[stored["score_date"] == day]
        assert len(stored) == first.rows == again.rows > 0, name
        assert len(pq.read_table(again.export_dir)) == len(stored), name
        version, want = wanted[name]
        assert set(stored["model_version"]) == {version}, name
        if name == "anomaly":
            got = sorted(zip(stored["txn_id"], stored["anomaly_score"], strict=True))
        elif name == "segments":
            got = sorted(zip(stored["customer_id"], stored["segment"], strict=True))
        else:
            got = sorted(
                zip(stored["customer_id"], stored["product_code"], stored["rank"], strict=True)
            )
        assert got == want, name
