"""What the streaming scorer needs before it reads an event, built from generator data: silver
transactions, the online features it looks up (customer_spend, customer_fraud_profile) and a
champion anomaly model in the config's MLflow registry. Used by the streaming benchmark and by
tests/integration/test_stream_score.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

__all__ = ["CATEGORIES", "ScoringWorld", "build_world", "register_anomaly"]

CATEGORIES = ("groceries", "dining", "travel", "electronics")
VIEWS = ("customer_spend", "customer_fraud_profile")


@dataclass(frozen=True)
class ScoringWorld:
    warehouse: object  # lakehouse.Warehouse
    cfg: object  # lakehouse.config.Config, with the private MLflow registry
    customers: list[str]
    as_of: dt.date  # the features' date: events of the next day are scored against them


def build_world(spark, cfg, root: Path, spec, *, anomaly_updates: dict | None = None):
    """Generate ``spec`` under ``root``, write silver, materialize the online views as of the
    spec's last day and register an anomaly champion in a private registry under ``root``."""
    from bench.generated_silver import silver_transactions
    from feature_store import FeatureStore
    from lakehouse import Warehouse
    from lakehouse.config import MlflowConfig
    from lakehouse.generate import generate
    from schemas.transactions import SILVER_TRANSACTIONS

    data = generate(spec, landing=root / "landing", truth=root / "truth")
    warehouse = Warehouse(str(root / "warehouse"))
    path = root / "transactions.parquet"
    pq.write_table(silver_transactions(data), path)
    frame = spark.read.schema(SILVER_TRANSACTIONS.schema).parquet(str(path))
    warehouse.create(SILVER_TRANSACTIONS).write(frame, mode="overwrite")
    anomaly = cfg.models.anomaly.model_copy(update=anomaly_updates or {})
    mlflow = MlflowConfig(
        tracking_uri=f"sqlite:///{root / 'mlflow.db'}", artifact_root=(root / "mlruns").as_uri()
    )
    world_cfg = cfg.model_copy(
        update={"models": cfg.models.model_copy(update={"anomaly": anomaly}), "mlflow": mlflow}
    )
    FeatureStore(spark, world_cfg, warehouse=warehouse).materialize(spec.end_date, views=VIEWS)
    register_anomaly(world_cfg, seed=1)
    customers = sorted(set(data.customers["customer_id"].to_pylist()))
    return ScoringWorld(warehouse, world_cfg, customers, spec.end_date)


def register_anomaly(cfg, *, seed: int, promote: bool = False):
    """An anomaly model fitted on synthetic usual transactions (no feature store needed),
    registered (champion if it is the first version or ``promote``)."""
    from models.anomaly import INPUT_COLUMNS, fit_anomaly
    from models.model_runs import log_and_register

    rng = np.random.default_rng(seed)
    n = 400
    rows = pd.DataFrame(
        {
            "txn_id": [f"X{i}" for i in range(n)],
            "customer_id": "C0",
            "txn_ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(8, 20, n), "h"),
            "amount": -rng.gamma(2.0, 20.0, n),
            "currency": "EUR",
            "category": rng.choice(CATEGORIES[:2], n),
            "txn_count_1h": rng.integers(1, 3, n),
            "amount_zscore": rng.normal(0, 1, n),
        }
    )[list(INPUT_COLUMNS)]
    model = fit_anomaly(rows, settings=cfg.models.anomaly.model_copy(update={"seed": seed}))
    return log_and_register(
        cfg,
        name="anomaly",
        model=model,
        params={"seed": seed},
        metrics={"threshold": model.threshold},
        lineage={"source": "synthetic"},
        input_example=rows.head(5),
        run_name=f"anomaly synthetic {seed}",
        promote=promote,
    )
