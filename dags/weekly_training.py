"""weekly_training: retrain the models on the features up to the logical date.

    train_churn     training set (point-in-time snapshots) -> XGBoost -> holdout evaluation ->
                    MLflow run -> the champion gate: the new version becomes champion only if
                    its holdout ROC-AUC beats the champion's by models.churn.champion_margin
    train_anomaly   the isolation forest on the last models.anomaly.train_days, promoted
    train_segments  KMeans segments, promoted
    train_offers    next-best-offer propensities, promoted

The unsupervised models have no holdout label to gate on: each week's version is promoted (the
previous one stays in the registry to roll back to). Tasks run one after another: two Spark
sessions side by side would share the same cores.
"""

from __future__ import annotations

import datetime as dt

from _common import DEFAULT_ARGS, lakehouse_task
from airflow.sdk import DAG

with DAG(
    dag_id="weekly_training",
    description="features -> train -> evaluate -> champion gate / promote, tracked in MLflow",
    schedule="0 4 * * 0",  # Sundays, after that day's daily batch
    start_date=dt.datetime(2024, 1, 7, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["lakehouse", "models"],
    doc_md=__doc__,
) as dag:
    churn = lakehouse_task(
        "train_churn", "train --model churn --run-date {{ ds }}", timeout_minutes=120
    )
    others = [
        lakehouse_task(
            f"train_{model}",
            f"train --model {model} --run-date {{{{ ds }}}} --promote",
            timeout_minutes=60,
        )
        for model in ("anomaly", "segments", "offers")
    ]
    for upstream, downstream in zip([churn, *others[:-1]], others, strict=True):
        upstream >> downstream
