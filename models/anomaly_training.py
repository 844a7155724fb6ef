"""The anomaly model's data and training run: per-transaction rows from the feature store
(point in time) and the MLflow run that registers the model.

    rows = transaction_rows(store, first_day=a, last_day=d)     # Spark, INPUT_COLUMNS
    result = train_anomaly(store, cfg, run_date=d)             # fit, log, register
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.errors import SourceUnavailableError
from models.anomaly import FEATURES, INPUT_COLUMNS, MODEL_NAME, AnomalyModel, fit_anomaly

__all__ = ["AnomalyTraining", "train_anomaly", "transaction_rows"]

VIEWS = ("customer_velocity", "transaction_risk")
TRANSACTIONS = "silver.transactions"
_ONE_MICROSECOND = dt.timedelta(microseconds=1)


def transaction_rows(
    store, *, first_day: dt.date, last_day: dt.date, keep: Sequence[str] = ()
) -> DataFrame:
    """Every transaction booked ``first_day..last_day`` with INPUT_COLUMNS (Spark), its
    features as known just after it happened: the velocity including it, the customer's
    baselines from the latest daily snapshot before it (within the views' TTL). ``keep``
    names other columns of the join to return (e.g. txn_count_24h, distance_from_home_km).

    Raises SourceUnavailableError when a day's velocity, or a daily snapshot covering it, was
    never materialized (the point-in-time join would quietly fill NULLs)."""
    _check_coverage(store, first_day, last_day)
    table = store.warehouse.table(TRANSACTIONS)
    txns = table.to_spark(
        store.spark, filters=[("txn_date", ">=", first_day), ("txn_date", "<=", last_day)]
    )
    # Velocity rows are stamped at the transaction's own time and the join takes values
    # stamped strictly before a row: one microsecond later the count includes it.
    entities = txns.select(
        "txn_id",
        "customer_id",
        "txn_ts",
        F.col("amount").cast("double").alias("amount"),
        "currency",
        "category",
        "location",
        (F.col("txn_ts") + F.lit(_ONE_MICROSECOND)).alias("event_ts"),
    )
    joined = store.get_historical_features(entities, list(VIEWS))
    return joined.select(*INPUT_COLUMNS, *(c for c in keep if c not in INPUT_COLUMNS))


def _check_coverage(store, first_day: dt.date, last_day: dt.date) -> None:
    days = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    velocity = store.registry.view("customer_velocity")
    missing = sorted(set(days) - _materialized_dates(store, velocity))
    if missing:
        _uncovered(velocity.name, missing, missing)
    for view in store.registry.view("transaction_risk").sources:
        have = _materialized_dates(store, view)
        reach = view.ttl.days
        bare = [
            d
            for d in days
            if not any(d - dt.timedelta(days=k) in have for k in range(1, reach + 1))
        ]
        if bare:
            _uncovered(view.name, bare, [d - dt.timedelta(days=1) for d in bare])


def _uncovered(view: str, days: Sequence[dt.date], run: Sequence[dt.date]) -> None:
    shown = ", ".join(str(d) for d in days[:5]) + (" ..." if len(days) > 5 else "")
    raise SourceUnavailableError(
        f"feature view {view} has no values for {len(days)} transaction day(s) ({shown}): run "
        f"lakehouse features materialize --view {view} --from-date {run[0]} --run-date {run[-1]}"
    )


def _materialized_dates(store, view) -> set[dt.date]:
    from feature_store.core import FEATURE_DATE
    from lakehouse.errors import TableNotFoundError

    try:
        table = store.warehouse.table(view.offline_table)
    except TableNotFoundError:
        return set()
    actions = pa.table(table.delta().get_add_actions(flatten=True))
    column = f"partition.{FEATURE_DATE}"
    if not actions.num_rows or column not in actions.column_names:
        return set()
    values = pc.unique(actions.column(column)).to_pylist()
    return {v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v)) for v in values}


@dataclass(frozen=True, eq=False)
class AnomalyTraining:
    model: AnomalyModel
    registered: object  # models.model_runs.RegisteredModel
    rows: pd.DataFrame  # the training transactions (INPUT_COLUMNS)
    scores: np.ndarray  # their anomaly scores


def train_anomaly(store, cfg, *, run_date: dt.date, promote: bool = False) -> AnomalyTraining:
    """Fit the forest on the ``models.anomaly.train_days`` of transactions up to ``run_date``,
    log the run and register the model (models/model_runs.py)."""
    from models.model_runs import log_and_register

    settings = cfg.models.anomaly
    first = run_date - dt.timedelta(days=settings.train_days - 1)
    tables = {
        name: store.warehouse.table(name).version
        for name in (TRANSACTIONS, *(v.offline_table for v in _stored_views(store)))
    }
    rows = transaction_rows(store, first_day=first, last_day=run_date).toPandas()
    model = fit_anomaly(rows, settings=settings)
    scores = model.scores(model.features(rows))
    alerts = scores > model.threshold
    quantiles = {f"score_q{q}": float(np.quantile(scores, q / 1000)) for q in (500, 990, 999)}
    registered = log_and_register(
        cfg,
        name=MODEL_NAME,
        model=model,
        params={**settings.model_dump(), "features": FEATURES},
        metrics={
            "threshold": model.threshold,
            "training_rows": len(rows),
            "training_alerts": int(alerts.sum()),
            "training_alert_share": float(alerts.mean()),
            **quantiles,
        },
        lineage={
            "run_date": run_date.isoformat(),
            "window": f"{first}..{run_date}",
            "tables": tables,
        },
        input_example=rows[list(INPUT_COLUMNS)].head(5),
        run_name=f"{MODEL_NAME} {run_date}",
        promote=promote,
        documents={"categories.json": model.category_share},
    )
    return AnomalyTraining(model, registered, rows, scores)


def _stored_views(store):
    names = [
        "customer_velocity",
        *(v.name for v in store.registry.view("transaction_risk").sources),
    ]
    return [store.registry.view(n) for n in names]
