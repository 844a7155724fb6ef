"""Churn training end to end on generated data: a private warehouse and MLflow (sqlite +
file artifacts), two feature views materialized on the snapshot dates only. Training logs a
run and registers v1 as champion; a worse model is refused by the gate; the training set
has no leakage, its churned rows are customers still there at the snapshot date, and its
windows follow each other in time; the model against the oracle."""

from __future__ import annotations

import datetime as dt

import mlflow
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from bench.churn_quality import oracle_probabilities
from bench.generated_silver import silver_accounts, silver_transactions
from feature_store import FeatureStore
from jobs.train import run
from lakehouse import Warehouse
from lakehouse.errors import SourceUnavailableError
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.run import RunContext
from models.bundle import load_bundle
from models.churn import BoosterParams, fit_churn, readable_labels
from models.metrics import roc_auc
from models.tracking import CHALLENGER, CHAMPION, connect, log_and_register
from models.training_set import (
    data_span,
    load_training_frame,
    observed_at,
    plan_snapshots,
    read_accounts,
)
from schemas.shop import SILVER_SHOP
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.integration

# Churned rows are ~0.8% of the customers still holding an account: 1,500 customers give
# 9-13 per snapshot date here, enough for every window's MIN_PER_CLASS (models/churn.py).
SPEC = GeneratorSpec(customers=1500, days=90, seed=24, defect_rate=0.0)
VIEWS = ("customer_activity", "customer_spend")  # two views keep materializing short
FAST = BoosterParams(max_rounds=60, early_stopping_rounds=10)


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("churn-data")
    return generate(SPEC, landing=root / "landing", truth=root / "truth")


@pytest.fixture(scope="module")
def churn_cfg(cfg, tmp_path_factory):
    """The session config with its own warehouse and MLflow: other tests' models and
    tables stay out of this registry."""
    root = tmp_path_factory.mktemp("churn")
    mlflow_dir = root / "mlflow"
    # Snapshots every 14 days: 3 dates to materialize (one per window) instead of 5.
    churn = cfg.models.churn.model_copy(update={"snapshot_every_days": 14})
    return cfg.model_copy(
        update={
            "models": cfg.models.model_copy(update={"churn": churn}),
            "warehouse": cfg.warehouse.model_copy(update={"root": str(root / "warehouse")}),
            "mlflow": cfg.mlflow.model_copy(
                update={
                    "tracking_uri": f"sqlite:///{mlflow_dir / 'mlflow.db'}",
                    "artifact_root": (mlflow_dir / "artifacts").as_uri(),
                }
            ),
        }
    )


@pytest.fixture(scope="module")
def store(spark, churn_cfg, generated, tmp_path_factory) -> FeatureStore:
    root = tmp_path_factory.mktemp("churn-silver")
    warehouse = Warehouse.from_config(churn_cfg)
    for contract, table in (
        (SILVER_TRANSACTIONS, silver_transactions(generated)),
        (SILVER_SHOP["accounts"], silver_accounts(generated)),
    ):
        path = root / f"{contract.name}.parquet"
        pq.write_table(table, path)
        rows = spark.read.schema(contract.schema).parquet(str(path))
        warehouse.create(contract).write(rows, mode="overwrite")
    store = FeatureStore(spark, churn_cfg, warehouse=warehouse)
    first, last, _ = data_span(warehouse)
    for day in plan_snapshots(first, last, settings=churn_cfg.models.churn).dates:
        store.materialize(day, views=list(VIEWS))
    return store


@pytest.fixture(scope="module")
def last_day(store) -> dt.date:
    return data_span(store.warehouse)[1]


@pytest.fixture(scope="module")
def trained(spark, churn_cfg, store, last_day):
    context = RunContext.start("train", last_day)
    return run(spark, churn_cfg, context=context, views=VIEWS, params=FAST)


@pytest.fixture(scope="module")
def training(store, churn_cfg, last_day):
    return load_training_frame(
        store,
        last_day=last_day,
        settings=churn_cfg.models.churn,
        views=VIEWS,
        feature_timestamps=True,
    )


def test_training_logs_a_run_and_registers_the_first_version_as_champion(trained, churn_cfg, store):
    assert (trained.version, trained.alias) == ("1", CHAMPION)
    assert "first version" in trained.reason
    client = connect(churn_cfg)
    logged = client.get_run(trained.run_id).data
    for name in ("roc_auc", "pr_auc", "log_loss", "calibration_error", "lift_top_decile"):
        assert logged.metrics[f"test_{name}"] == pytest.approx(trained.metrics[name])
    assert logged.params["churn.horizon_days"] == str(churn_cfg.models.churn.horizon_days)
    transactions = store.warehouse.table("silver.transactions")
    assert logged.tags["lineage.silver.transactions"] == str(transactions.version)
    assert logged.tags["gate.alias"] == CHAMPION
    artifacts = {a.path for a in client.list_artifacts(trained.run_id)}
    plots = {a.path for a in client.list_artifacts(trained.run_id, "plots")}
    assert "lineage.json" in artifacts
    assert {
        f"plots/{n}.png" for n in ("roc", "precision_recall", "calibration", "feature_importance")
    } | {"plots/contribution_summary.png"} <= plots
    registered = client.get_registered_model("churn")
    assert registered.aliases == {CHAMPION: 1}
    bundle = load_bundle("models:/churn@champion")
    assert bundle.labels["days_since_last_txn"] == "days since the last transaction"
    info = mlflow.models.get_model_info("models:/churn/1")
    assert info.signature.inputs.input_names() == list(bundle.feature_names)
    assert info.saved_input_example_info is not None


def test_a_worse_model_stays_challenger_and_the_run_says_why(trained, training, churn_cfg, store):
    rng = np.random.default_rng(3)
    rows = training.rows.copy()
    in_train = rows["split"] == "train"
    rows.loc[in_train, "churned"] = rng.permutation(rows.loc[in_train, "churned"].to_numpy())
    labels = readable_labels(store.registry, training.features)
    worse = fit_churn(rows, features=training.features, labels=labels, params=FAST)
    client = connect(churn_cfg)
    record = log_and_register(
        client,
        churn_cfg,
        name="churn",
        model=worse,
        holdout=training.split("test"),
        lineage={"tables": training.tables},
        run_name="churn shuffled labels",
        margin=churn_cfg.models.churn.champion_margin,
    )
    assert record.decision.alias == CHALLENGER
    assert record.decision.champion_version == "1"
    # The champion re-scored on this run's holdout rows: the same rows v1 was tested on.
    assert record.decision.champion_roc_auc == pytest.approx(trained.metrics["roc_auc"])
    assert "does not beat the champion" in record.decision.reason
    assert client.get_run(record.run_id).data.tags["gate.reason"] == record.decision.reason
    version = client.get_model_version("churn", record.version)
    assert version.tags["gate.reason"] == record.decision.reason
    assert client.get_registered_model("churn").aliases == {
        CHAMPION: 1,
        CHALLENGER: int(record.version),
    }


def test_training_rows_use_the_snapshot_days_features_and_nothing_later(training):
    rows = training.rows
    for view in VIEWS:
        stamp = rows[f"{view}__feature_ts"]
        assert stamp.notna().all()  # every active customer has a value of that day
        assert (stamp < rows["event_ts"]).all()
        # Exactly the snapshot day's values: stamped at the end of that day.
        day_end = pd.to_datetime(rows["snapshot_date"]) + pd.Timedelta(days=1)
        assert (stamp == day_end).all()
    assert (rows["event_ts"] == rows["snapshot_date"].map(_naive_observed_at)).all()


def _naive_observed_at(day: dt.date) -> dt.datetime:
    return observed_at(day).replace(tzinfo=None)  # Spark hands back naive UTC


def test_labels_equal_a_brute_force_count_of_the_generated_transactions(
    training, generated, churn_cfg
):
    txns = silver_transactions(generated).select(["customer_id", "txn_date"]).to_pandas()
    by_customer = txns.groupby("customer_id")["txn_date"].apply(set).to_dict()
    accounts = silver_accounts(generated).to_pandas()
    horizon = churn_cfg.models.churn.horizon_days
    active = churn_cfg.models.churn.active_days
    expected = {}
    for day in training.plan.dates:
        closed = (accounts["status"] == "closed") & (accounts["updated_at"].dt.date <= day)
        holding = set(accounts.loc[(accounts["opened_date"] <= day) & ~closed, "customer_id"])
        for customer, dates in by_customer.items():
            recent = any(day - dt.timedelta(days=active) < d <= day for d in dates)
            if recent and customer in holding:
                later = any(day < d <= day + dt.timedelta(days=horizon) for d in dates)
                expected[(customer, day)] = 0 if later else 1
    got = {
        (r.customer_id, r.snapshot_date): r.churned
        for r in training.rows[["customer_id", "snapshot_date", "churned"]].itertuples()
    }
    assert got == expected


def test_churned_rows_are_customers_still_there_at_the_snapshot_date(training, generated):
    truth = pq.read_table(generated.truth / "churn.parquet").to_pandas()
    churned = training.rows[training.rows["churned"] == 1]
    joined = churned.merge(truth, on="customer_id", how="left")
    gone = pd.to_datetime(joined["churn_date"]) <= pd.to_datetime(joined["snapshot_date"])
    # Every active customer, open account or not, made ~88% of them already gone here.
    assert len(churned) >= 15
    assert gone.mean() < 0.25


def test_windows_follow_each_other_and_labels_end_inside_the_data(training, last_day, churn_cfg):
    settings = churn_cfg.models.churn
    days = {
        s: sorted(set(training.split(s)["snapshot_date"])) for s in ("train", "validation", "test")
    }
    assert all(days.values())
    assert days["train"][-1] < days["validation"][0]
    assert days["validation"][-1] < days["test"][0]
    assert days["test"][-1] + dt.timedelta(days=settings.horizon_days) == last_day
    assert days["test"][0] > last_day - dt.timedelta(
        days=settings.horizon_days + settings.holdout_days
    )


def test_the_model_against_the_oracle(trained, training, churn_cfg, record_property):
    holdout = training.split("test")
    horizon = churn_cfg.models.churn.horizon_days
    oracle = oracle_probabilities(holdout, SPEC, horizon_days=horizon)
    oracle_auc = roc_auc(holdout["churned"], oracle)
    model_auc = trained.metrics["roc_auc"]
    record_property("churn_model_roc_auc", model_auc)
    record_property("churn_oracle_roc_auc", oracle_auc)
    print(
        f"churn holdout ROC-AUC {model_auc:.4f}, oracle {oracle_auc:.4f}, "
        f"fraction {model_auc / oracle_auc:.4f}"
    )
    assert model_auc > 0.6  # sanity only: bench/churn_quality.py measures the goal


def test_training_without_silver_data_is_a_clear_error(spark, churn_cfg, tmp_path):
    empty = Warehouse(str(tmp_path / "empty"))
    context = RunContext.start("train", dt.date(2024, 4, 1))
    with pytest.raises(SourceUnavailableError, match=r"silver\.transactions does not exist yet"):
        run(spark, churn_cfg, context=context, warehouse=empty)


def test_training_without_silver_accounts_is_a_clear_error(spark, tmp_path):
    with pytest.raises(SourceUnavailableError, match=r"silver\.accounts does not exist yet"):
        read_accounts(Warehouse(str(tmp_path / "empty")), spark)


def test_unmaterialized_features_are_a_clear_error(spark, churn_cfg, store, last_day):
    context = RunContext.start("train", last_day)
    with pytest.raises(
        SourceUnavailableError,
        match=r"customer_cashflow not materialized for 3 of the 3 snapshot dates .* "
        r"--view customer_cashflow$",
    ):
        run(spark, churn_cfg, context=context, views=(*VIEWS, "customer_cashflow"))


def test_a_run_date_after_the_data_is_a_clear_error(spark, churn_cfg, store, last_day):
    context = RunContext.start("train", last_day + dt.timedelta(days=1))
    with pytest.raises(SourceUnavailableError, match=f"train with --run-date {last_day}"):
        run(spark, churn_cfg, context=context, views=VIEWS)
