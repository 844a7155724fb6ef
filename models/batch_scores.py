"""A date's rows of the anomaly, segment and offer models, in their gold contracts' shape, for
`lakehouse score --model anomaly|segments|offers` (jobs/score.py; churn has models/scoring.py).

    ref, rows = score_date_rows(store, cfg, model="segments", alias="champion", run_date=d)

- anomaly: every transaction booked on the date, with its features as known just after it
  happened (models/anomaly_training.transaction_rows), scored on the executors
  (models/anomaly.score_transactions, mapInPandas) -> gold.transaction_anomalies;
- segments, offers: every customer of the models' population (an account open at the end of
  the date and a transaction in the active days: models/snapshots.py), one row each (a few
  tens of thousands of rows: the feature vectors are collected once and scored in process,
  as in training) -> gold.customer_segments, gold.next_best_offers.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pyspark.sql import DataFrame

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from schemas.scores import CUSTOMER_SEGMENTS, NEXT_BEST_OFFERS, TRANSACTION_ANOMALIES

__all__ = ["OTHER_MODELS", "OtherModel", "score_date_rows"]

OtherModel = Literal["anomaly", "segments", "offers"]
# --model -> the table its rows go to
OTHER_MODELS: dict[str, TableContract] = {
    "anomaly": TRANSACTION_ANOMALIES,
    "segments": CUSTOMER_SEGMENTS,
    "offers": NEXT_BEST_OFFERS,
}


def score_date_rows(
    store, cfg: Config, *, model: OtherModel, alias: str, run_date: dt.date
) -> tuple[object, DataFrame]:
    """(the registered version used, a Spark DataFrame of the date's rows in the model's
    contract). Raises ModelNotFoundError for an unknown model or alias, and
    SourceUnavailableError when the date's features were never materialized."""
    from models.model_runs import load_registered

    ref, fitted = load_registered(cfg, model, alias=alias)
    if model == "anomaly":
        from models.anomaly import score_transactions
        from models.anomaly_training import transaction_rows

        rows = transaction_rows(store, first_day=run_date, last_day=run_date)
        return ref, score_transactions(rows, fitted, score_date=run_date, model_ref=ref)
    if model == "segments":
        from models.segmentation import segment_rows
        from models.snapshots import customer_features, load_customer_snapshots

        snapshots = load_customer_snapshots(
            store, [run_date], active_days=cfg.models.segmentation.active_days, products=()
        )
        customers = snapshots.rows["customer_id"]
        features = customer_features(snapshots.rows)
        rows = segment_rows(customers, features, fitted, score_date=run_date, model_ref=ref)
    else:
        from models.offer_training import offer_scoring_set
        from models.offers import load_offer_rules, offer_rows

        rules = load_offer_rules(cfg.conf_dir)
        customers, features = offer_scoring_set(
            store, score_date=run_date, settings=cfg.models.offers, rules=rules
        )
        rows = offer_rows(
            customers, features, fitted, score_date=run_date, model_ref=ref, rules=rules
        )
    contract = OTHER_MODELS[model]
    return ref, store.spark.createDataFrame(rows, schema=contract.schema)
