"""churn_quality: the churn model's holdout ROC-AUC against an oracle that knows the
generator's hidden churn dates.

Data: ``GeneratorSpec(customers=4000, days=180, defect_rate=0)`` as silver-shaped tables
(bench/generated_silver.py) in a temporary warehouse; every churn feature view
(models.training_set.CHURN_VIEWS) materialized on the snapshot dates only (the training set
reads nothing else); the churn job's own path (``load_training_frame``, ``fit_churn``),
without MLflow. Settings are the default ``models.churn`` ones except snapshots every 14 days
(not 7) and a 28-day test window (not 14): materializing the 8 views costs ~17 s per date
here, and 9 snapshot dates instead of 18 keep the run under 5 minutes with as many test rows
(two snapshots, ~6,400 customers) and a third of the training rows (~19,000).

The oracle scores each holdout row from the truth (truth/churn.parquet) as it stands at the
row's snapshot date D: a churning customer's activity fades linearly from decay_start_date
to churn_date, so the share of that fade done by the end of D,
``(D + 1 - decay_start) / (churn - decay_start)`` (above 1 once churned), is what the data
can reveal; 0 when the fade has not begun by D or the customer never churns. Its ROC-AUC
on the same rows and labels as the model's is the ceiling the model is measured against.

Key figure: ``churn_auc_fraction_of_oracle`` = model ROC-AUC / oracle ROC-AUC, goal >= 0.95.
``--rows`` and ``--reps`` do not apply (one fixed data set, one training).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bench._measure import bench_environ
from bench._record import Outcome
from lakehouse import Warehouse, build_spark, load_config

__all__ = ["oracle_scores", "run"]

GOAL = 0.95
CUSTOMERS, DAYS, SEED = 4000, 180, 20_240_701
SPARK_MASTER = "local[2]"
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


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    home = Path(tempfile.mkdtemp(prefix="bench-churn-"))
    try:
        cfg = load_config(
            "local", environ={"LAKEHOUSE__SPARK__MASTER": SPARK_MASTER, **bench_environ(home)}
        )
        report(f"starting Spark ({cfg.spark.master})")
        spark = build_spark("bench-churn-quality", cfg)
        try:
            return _measure(spark, cfg, home, report)
        finally:
            spark.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


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
    oracle_auc = roc_auc(churned, oracle_scores(holdout, truth))
    model_auc = model.test_metrics["roc_auc"]
    recency_auc = roc_auc(churned, holdout["days_since_last_txn"].fillna(np.inf).to_numpy())
    fraction = model_auc / oracle_auc
    figures = {
        "churn_auc_fraction_of_oracle": round(fraction, 4),
        "churn_model_roc_auc": round(model_auc, 4),
        "churn_oracle_roc_auc": round(oracle_auc, 4),
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
        "recency_only_roc_auc": recency_auc,
        "model_params": model.params,
        "seconds": {
            "materialize_snapshot_dates": round(materialized - started, 1),
            "training_set": round(built - materialized, 1),
            "fit_and_calibrate": round(fitted - built, 2),
        },
        # Timings only: the quality figures do not depend on how busy the machine was.
        "load_average_1_5_15_min": {"start": load_before, "end": os.getloadavg()},
        "oracle": "activity fade done by the end of the snapshot date (see module docstring)",
        **figures,
    }
    return Outcome(details=_jsonable(details), figures=figures)


def _silver_warehouse(spark, spec, home: Path) -> tuple[Warehouse, pd.DataFrame]:
    from bench.generated_silver import bronze_order_versions, silver_orders, silver_transactions
    from lakehouse.generate import generate
    from schemas.shop import SHOP_TABLES, SILVER_SHOP
    from schemas.transactions import SILVER_TRANSACTIONS

    data = generate(spec, landing=home / "landing", truth=home / "truth")
    warehouse = Warehouse(str(home / "warehouse"))
    for contract, table in (
        (SILVER_TRANSACTIONS, silver_transactions(data)),
        (SILVER_SHOP["orders"], silver_orders(data)),
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
