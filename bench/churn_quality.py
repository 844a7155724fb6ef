"""churn_quality: the churn model's holdout ROC-AUC against an oracle that knows the
generator's hidden state, on the whole holdout and on its forward-looking part.

Data: ``GeneratorSpec(customers=12000, days=180, defect_rate=0)`` as silver-shaped tables
(bench/generated_silver.py: transactions, accounts, orders) in a temporary warehouse; every
churn feature view (models.training_set.CHURN_VIEWS) materialized on the snapshot dates only
(the training set reads nothing else); the churn job's own path (``load_training_frame``,
``fit_churn``), without MLflow. Settings are the default ``models.churn`` ones except
snapshots every 14 days (not 7) and a 28-day test window (not 14): materializing the 8 views
costs ~17 s per date here, and 9 snapshot dates instead of 18 keep the run under 5 minutes
with as many test rows (two snapshots, ~6,000 customers) and a third of the training rows.

The oracle scores each holdout row (customer, snapshot date D) with the probability of its
label under the generator's own mechanism, from the hidden state rebuilt from the spec
(``oracle_probabilities``): no transaction in (D, D + horizon] is certain once the customer
has churned, impossible when a monthly payment or a fraud episode falls on an active day of
the horizon, and otherwise exp(-expected number of discretionary transactions), whose daily
rate fades linearly from the decay start to the churn date. Its ROC-AUC on the same rows and
labels as the model's is the ceiling the model is measured against. The earlier oracle, the
share of the fade done by the end of D (``oracle_scores``, from truth/churn.parquet alone),
is reported beside it.

Forward-looking figures (``forward_figures``): the share of churned holdout rows whose
customer had already left by D (truth churn_date <= D), and the model's, the oracle's and
recency's (days since the last transaction) ROC-AUC on the rows still a customer at D. The
population rule (models.training_set.churn_population) keeps that share near zero; before it
(every customer with a transaction in the 30 days up to D) it was ~0.9 and recency alone
scored 0.98 on a task that was mostly "has already left".

Key figure: ``churn_auc_fraction_of_oracle`` = model ROC-AUC / oracle ROC-AUC, goal >= 0.95.
``--rows`` and ``--reps`` do not apply (one fixed data set, one training).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bench._measure import bench_spark
from bench._record import Outcome
from lakehouse import Warehouse

__all__ = ["oracle_scores", "run"]

GOAL = 0.95
CUSTOMERS, DAYS, SEED = 12_000, 180, 20_240_701
SETTINGS = {"snapshot_every_days": 14, "holdout_days": 28}  # see the module docstring


def oracle_scores(rows: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Per row (customer_id, snapshot_date): the share of the customer's activity fade done by
    the end of the snapshot date, from the truth's churn_date and decay_start_date."""
    joined = rows[["customer_id", "snapshot_date"]].merge(
        truth[["customer_id", "churn_date", "decay_start_date"]], on="customer_id", how="left"
    )
    day = pd.to_datetime(joined["snapshot_date"])
    start = pd.to_datetime(joined["decay_start_date"])
    churn = pd.to_datetime(joined["churn_date"])
    begun = start.notna() & (start <= day)
    done = (day + pd.Timedelta(days=1) - start).dt.days / (churn - start).dt.days
    return np.where(begun, done, 0.0).astype(np.float64)


def oracle_probabilities(rows: pd.DataFrame, spec, *, horizon_days: int) -> np.ndarray:
    """Per row (customer_id, snapshot_date): the probability, under the generator's own
    mechanism and its hidden state (rebuilt from ``spec``), that the customer makes no
    transaction in (D, D + horizon_days]: zero when a monthly payment or a fraud episode
    falls on an active day of the horizon, else exp(-expected discretionary count), the
    daily Poisson rate x weekday factor x activity fade summed over the active days."""
    from lakehouse.generate._text import EPOCH
    from lakehouse.generate.transactions import WEEKDAY_FACTOR
    from lakehouse.generate.world import build_world

    world = build_world(spec)
    state, schedule = world.state, world.schedule
    index = pd.Index(np.asarray(world.customers.customer_id.to_pylist()))
    who = index.get_indexer(rows["customer_id"])[:, None]
    snapshot = (pd.to_datetime(rows["snapshot_date"]) - pd.Timestamp(EPOCH)).dt.days
    day = snapshot.to_numpy()[:, None] + np.arange(1, horizon_days + 1)
    active = (state.signup_day[who] <= day) & (day < state.churn_day[who])
    fade = np.clip((state.churn_day[who] - day) / state.decay_days[who], 0.05, 1.0)
    weekday = WEEKDAY_FACTOR[(day + EPOCH.weekday()) % 7]
    expected = np.where(active, state.rate[who] * weekday * fade, 0.0).sum(axis=1)
    pays_on = np.zeros((state.n, 32), dtype=bool)  # customer x day of month with a payment
    pays_on[schedule.cust, schedule.dom] = True
    month_day = pd.to_datetime(day.ravel(), unit="D").day.to_numpy().reshape(day.shape)
    certain = active & (pays_on[who, month_day] | (state.fraud_day[who] == day))
    return np.where(certain.any(axis=1), 0.0, np.exp(-expected))


def forward_figures(holdout: pd.DataFrame, scores: dict[str, np.ndarray], truth) -> dict:
    """How much of the task looks forward: the share of churned rows whose customer had
    already left by the snapshot date (truth churn_date <= D), and each score's ROC-AUC on
    the rows still a customer at D (churn_date > D or never): predicting who will stop."""
    from models.metrics import roc_auc

    joined = holdout[["customer_id", "snapshot_date"]].merge(
        truth[["customer_id", "churn_date"]], on="customer_id", how="left"
    )
    day, churn = pd.to_datetime(joined["snapshot_date"]), pd.to_datetime(joined["churn_date"])
    gone = (churn <= day).to_numpy()  # NaT (never churns) compares False
    churned = holdout["churned"].to_numpy()
    ahead = churned[~gone]
    return {
        "positives_already_gone_share": float(gone[churned == 1].mean()),
        "rows_still_customers": int(ahead.size),
        "positives_still_customers": int(ahead.sum()),
        **{f"{name}_roc_auc": roc_auc(ahead, s[~gone]) for name, s in scores.items()},
    }


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    with bench_spark("churn-quality", report=report) as (spark, cfg, home):
        return _measure(spark, cfg, home, report)


def _measure(spark, cfg, home: Path, report: Callable[[str], None]) -> Outcome:
    from feature_store import FeatureStore
    from lakehouse.generate import GeneratorSpec
    from models.churn import fit_churn, readable_labels
    from models.metrics import roc_auc
    from models.training_set import CHURN_VIEWS, data_span, load_training_frame, plan_snapshots

    spec = GeneratorSpec(customers=CUSTOMERS, days=DAYS, seed=SEED, defect_rate=0.0)
    report(f"generating {CUSTOMERS:,} customers x {DAYS} days into a fresh warehouse")
    warehouse, truth = _silver_warehouse(spark, spec, home)
    store = FeatureStore(spark, cfg, warehouse=warehouse)
    load_before = os.getloadavg()
    settings = cfg.models.churn.model_copy(update=SETTINGS)
    first, last, _ = data_span(warehouse)
    plan = plan_snapshots(first, last, settings=settings)
    started = time.perf_counter()
    for number, day in enumerate(plan.dates, 1):
        report(f"materializing {len(CHURN_VIEWS)} views for {day} ({number}/{len(plan.dates)})")
        store.materialize(day, views=list(CHURN_VIEWS))
    materialized = time.perf_counter()
    report("building the training set")
    training = load_training_frame(store, last_day=last, settings=settings)
    built = time.perf_counter()
    report(f"training on {len(training.split('train')):,} rows")
    labels = readable_labels(store.registry, training.features)
    model = fit_churn(training.rows, features=training.features, labels=labels)
    fitted = time.perf_counter()
    holdout = training.split("test")
    churned = holdout["churned"].to_numpy()
    report("scoring the holdout with the oracles")
    scores = {
        "model": model.test_scores,
        "oracle": oracle_probabilities(holdout, spec, horizon_days=settings.horizon_days),
        "fade_oracle": oracle_scores(holdout, truth),
        "recency": holdout["days_since_last_txn"].fillna(np.inf).to_numpy(),
    }
    aucs = {name: roc_auc(churned, s) for name, s in scores.items()}
    model_auc, oracle_auc = aucs["model"], aucs["oracle"]
    fraction = model_auc / oracle_auc
    ahead = forward_figures(holdout, scores, truth)
    figures = {
        "churn_auc_fraction_of_oracle": round(fraction, 4),
        "churn_model_roc_auc": round(model_auc, 4),
        "churn_oracle_roc_auc": round(oracle_auc, 4),
        "churn_positives_already_gone_share": round(ahead["positives_already_gone_share"], 4),
        "churn_forward_model_roc_auc": round(ahead["model_roc_auc"], 4),
        "churn_forward_oracle_roc_auc": round(ahead["oracle_roc_auc"], 4),
        "churn_forward_recency_roc_auc": round(ahead["recency_roc_auc"], 4),
        "churn_train_seconds": round(fitted - built, 2),
    }
    details = {
        "goal_fraction_of_oracle": GOAL,
        "goal_met": bool(fraction >= GOAL),
        "data": {"customers": CUSTOMERS, "days": DAYS, "seed": SEED, "first": first, "last": last},
        "settings": settings.model_dump(),
        "windows": training.plan.describe(),
        "rows": {s: _counts(training.split(s)) for s in ("train", "validation", "test")},
        "test_metrics": model.test_metrics,
        "validation_metrics": model.validation_metrics,
        "holdout_roc_auc": aucs,
        "recency_only_roc_auc": aucs["recency"],
        "forward": ahead,
        "model_params": model.params,
        "seconds": {
            "materialize_snapshot_dates": round(materialized - started, 1),
            "training_set": round(built - materialized, 1),
            "fit_and_calibrate": round(fitted - built, 2),
        },
        # Timings only: the quality figures do not depend on how busy the machine was.
        "load_average_1_5_15_min": {"start": load_before, "end": os.getloadavg()},
        "oracle": "P(no transaction in the horizon) under the generator (see module docstring)",
        **figures,
    }
    return Outcome(details=_jsonable(details), figures=figures)


def _silver_warehouse(spark, spec, home: Path) -> tuple[Warehouse, pd.DataFrame]:
    from bench.generated_silver import (
        bronze_order_versions,
        silver_accounts,
        silver_orders,
        silver_transactions,
    )
    from lakehouse.generate import generate
    from schemas.shop import SHOP_TABLES, SILVER_SHOP
    from schemas.transactions import SILVER_TRANSACTIONS

    data = generate(spec, landing=home / "landing", truth=home / "truth")
    warehouse = Warehouse(str(home / "warehouse"))
    for contract, table in (
        (SILVER_TRANSACTIONS, silver_transactions(data)),
        (SILVER_SHOP["orders"], silver_orders(data)),
        (SILVER_SHOP["accounts"], silver_accounts(data)),
        (SHOP_TABLES["orders"], bronze_order_versions(data)),
    ):
        path = home / f"{contract.name}.parquet"
        pq.write_table(table, path)
        frame = spark.read.schema(contract.schema).parquet(str(path))
        warehouse.create(contract).write(frame, mode="overwrite")
    truth = pq.read_table(home / "truth" / "churn.parquet").to_pandas()
    return warehouse, truth


def _counts(rows: pd.DataFrame) -> dict[str, int]:
    return {"rows": len(rows), "churned": int(rows["churned"].sum())}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
