"""Transaction anomalies: a scikit-learn IsolationForest over per-transaction features, an
alert threshold chosen from the training scores, and plain-language reasons for alerts.

    rows = transaction_rows(store, first_day=a, last_day=d).toPandas()  # anomaly_training.py
    model = fit_anomaly(rows, settings=cfg.models.anomaly)
    model.predict_frame(rows)   # txn_id, customer_id, txn_ts, anomaly_score, is_alert, reason
    scores = score_transactions(spark_rows, model, score_date=d, model_ref=ref)  # the contract

Features (from the feature store: ``customer_velocity`` per transaction time and the on-demand
``transaction_risk``; the rest from the transaction itself):
- ``txn_count_1h``: the customer's transactions in the hour up to this one;
- ``amount_zscore_log``: log1p of how far a debit is above the customer's 90-day debits, in
  standard deviations (0 at or below the mean, or without a baseline);
- ``is_foreign_currency``: not paid in the home currency;
- ``hour_rarity`` and ``category_rarity``: -log of the share of training transactions at that
  hour of day (UTC) or in that category (a category never seen counts as rarer than any seen).

Chosen by measurement (bench/model_quality.py keeps the comparison): also feeding the forest
the 24-hour count and spend, the raw amount, the distance from home and the away flag buried
the injected fraud under legitimate one-feature extremes (large rent or travel payments):
recall 0.24 instead of 0.67, precision 0.06 instead of 0.15, at the same alert rate. The
forest splits uniformly between a node's minimum and maximum, so heavy tails are logged.
The training window must span a month-start, or monthly payments (salary, rent) it never
saw look unusual (models.anomaly.train_days).

The alert threshold is the training score above which ``alert_rate`` of the training rows lie
(ties resolved towards fewer alerts); a row is an alert when its score is strictly above it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame

from lakehouse.config import AnomalyModelConfig
from lakehouse.errors import TrainingDataError
from models.scoring import ModelRef
from models.snapshots import require_columns
from schemas.scores import TRANSACTION_ANOMALIES

__all__ = [
    "FEATURES",
    "INPUT_COLUMNS",
    "MODEL_NAME",
    "AnomalyModel",
    "fit_anomaly",
    "score_transactions",
]

MODEL_NAME = "anomaly"
INPUT_COLUMNS = (
    "txn_id",
    "customer_id",
    "txn_ts",
    "amount",
    "currency",
    "category",
    "txn_count_1h",
    "amount_zscore",
)
FEATURES = (
    "txn_count_1h",
    "amount_zscore_log",
    "is_foreign_currency",
    "hour_rarity",
    "category_rarity",
)
HOME_CURRENCY = "EUR"
UNKNOWN = "(none)"  # the category key of transactions without one
MIN_ROWS = 50
TAIL_SAMPLE = 20_000  # training values kept per feature to say how rare a value is
REASON_TAIL = 0.05  # a feature is named in a reason when at most this share of training is as high
REASONS = 3
# Equally rare values (e.g. all beyond anything seen in training): the more telling first.
REASON_ORDER = (
    "category_rarity",
    "txn_count_1h",
    "amount_zscore_log",
    "is_foreign_currency",
    "hour_rarity",
)
OUTPUT_COLUMNS = ("txn_id", "customer_id", "txn_ts", "anomaly_score", "is_alert", "reason")


@dataclass(frozen=True, eq=False)
class AnomalyModel:
    forest: object  # sklearn.ensemble.IsolationForest fitted on FEATURES, in that order
    hour_share: tuple[float, ...]  # share of training transactions per UTC hour 0..23
    category_share: dict[str, float]
    unseen_share: float  # what a category never seen in training counts as
    threshold: float
    alert_rate: float
    tails: dict[str, np.ndarray] = field(repr=False)  # sorted training values per feature

    def features(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The forest's inputs for ``rows`` (INPUT_COLUMNS), in FEATURES order."""
        require_columns(rows, INPUT_COLUMNS, model=MODEL_NAME)
        return _features(rows, self.hour_share, self.category_share, self.unseen_share)

    def scores(self, features: pd.DataFrame) -> np.ndarray:
        """Anomaly score per row of ``features``: higher = more unusual (0..1)."""
        return -self.forest.score_samples(features[list(FEATURES)].to_numpy(dtype=np.float64))

    def predict_frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """txn_id, customer_id, txn_ts, anomaly_score, is_alert and, for alerts, the reason."""
        features = self.features(rows)
        scores = self.scores(features)
        alerts = scores > self.threshold
        reasons = pd.Series(None, index=rows.index, dtype=object)
        if alerts.any():
            picked = rows.loc[alerts]
            reasons.loc[alerts] = self.reasons(picked, features.loc[alerts])
        return pd.DataFrame(
            {
                "txn_id": rows["txn_id"],
                "customer_id": rows["customer_id"],
                "txn_ts": rows["txn_ts"],
                "anomaly_score": scores,
                "is_alert": alerts,
                "reason": reasons,
            }
        )

    def tail_share(self, name: str, values: np.ndarray) -> np.ndarray:
        """Share of the training rows whose ``name`` is at least ``values``."""
        ordered = self.tails[name]
        at_least = ordered.size - np.searchsorted(ordered, values, side="left")
        return at_least / ordered.size

    def reasons(self, rows: pd.DataFrame, features: pd.DataFrame) -> list[str]:
        """Up to REASONS plain-language reasons per row: its rarest feature values first."""
        shares = {name: self.tail_share(name, features[name].to_numpy()) for name in FEATURES}
        texts = []
        for i, (_, row) in enumerate(rows.iterrows()):
            rare = sorted(
                (shares[n][i], REASON_ORDER.index(n), n)
                for n in FEATURES
                if shares[n][i] <= REASON_TAIL
            )
            parts = [self._phrase(name, row) for *_, name in rare[:REASONS]]
            texts.append("; ".join(parts) if parts else "an unusual combination for this customer")
        return texts

    def _phrase(self, name: str, row: pd.Series) -> str:
        if name == "txn_count_1h":
            return f"{int(row['txn_count_1h'])} transactions within an hour"
        if name == "amount_zscore_log":
            return (
                f"{row['currency']} {abs(row['amount']):,.2f} out, {row['amount_zscore']:.1f} "
                "standard deviations above the customer's usual payment"
            )
        if name == "is_foreign_currency":
            return f"paid in {row['currency']}"
        if name == "hour_rarity":
            hour = pd.Timestamp(row["txn_ts"]).hour
            return f"at {hour:02d}h UTC, an hour with {_percent(self.hour_share[hour])} of payments"
        category = row["category"] if isinstance(row["category"], str) else UNKNOWN
        share = self.category_share.get(category)
        if share is None:
            return f"category {category}, never seen in training"
        return f"category {category}, {_percent(share)} of payments"


def _percent(share: float) -> str:
    return "under 0.1%" if share < 0.001 else f"{share:.1%}"


def _features(rows, hour_share, category_share, unseen_share) -> pd.DataFrame:
    zscore = pd.to_numeric(rows["amount_zscore"], errors="coerce").fillna(0.0).clip(lower=0.0)
    hours = pd.to_datetime(rows["txn_ts"]).dt.hour.to_numpy()
    categories = rows["category"].fillna(UNKNOWN)
    shares = categories.map(category_share).astype(float).fillna(unseen_share)
    return pd.DataFrame(
        {
            "txn_count_1h": pd.to_numeric(rows["txn_count_1h"]).fillna(1).astype(float),
            "amount_zscore_log": np.log1p(zscore),
            "is_foreign_currency": (rows["currency"] != HOME_CURRENCY).astype(float),
            "hour_rarity": -np.log(np.asarray(hour_share)[hours]),
            "category_rarity": -np.log(shares.to_numpy()),
        },
        index=rows.index,
    )


def fit_anomaly(rows: pd.DataFrame, *, settings: AnomalyModelConfig) -> AnomalyModel:
    """An IsolationForest on ``rows`` (INPUT_COLUMNS) and its alert threshold."""
    from sklearn.ensemble import IsolationForest

    require_columns(rows, INPUT_COLUMNS, model=MODEL_NAME)
    if len(rows) < MIN_ROWS:
        raise TrainingDataError(
            f"{MODEL_NAME}: {len(rows)} transactions to learn from, at least {MIN_ROWS} needed; "
            "train on more days (models.anomaly.train_days)"
        )
    total = len(rows)
    # One pseudo-count per hour and category: an hour nobody paid in is rare, not impossible.
    per_hour = np.bincount(pd.to_datetime(rows["txn_ts"]).dt.hour, minlength=24) + 1.0
    hour_share = tuple(float(v) for v in per_hour / per_hour.sum())
    counts = rows["category"].fillna(UNKNOWN).value_counts()
    category_share = {str(k): float(v) / (total + 1) for k, v in counts.items()}
    unseen_share = 1.0 / (total + 1)
    features = _features(rows, hour_share, category_share, unseen_share)
    forest = IsolationForest(
        n_estimators=settings.trees,
        max_samples=min(settings.max_samples, total),
        random_state=settings.seed,
    ).fit(features[list(FEATURES)].to_numpy(dtype=np.float64))
    scores = -forest.score_samples(features[list(FEATURES)].to_numpy(dtype=np.float64))
    threshold = float(np.quantile(scores, 1.0 - settings.alert_rate, method="higher"))
    rng = np.random.default_rng(settings.seed)
    sample = rng.choice(total, size=min(TAIL_SAMPLE, total), replace=False)
    tails = {name: np.sort(features[name].to_numpy()[sample]) for name in FEATURES}
    return AnomalyModel(
        forest=forest,
        hour_share=hour_share,
        category_share=category_share,
        unseen_share=unseen_share,
        threshold=threshold,
        alert_rate=settings.alert_rate,
        tails=tails,
    )


def score_transactions(
    rows: DataFrame, model: AnomalyModel, *, score_date: dt.date, model_ref: ModelRef
) -> DataFrame:
    """``rows`` (transaction_rows of one booking day) scored on the executors, in the shape of
    gold.transaction_anomalies. Raises ModelInputError before any Spark job when a column
    is missing."""
    require_columns(pd.DataFrame(columns=rows.columns), INPUT_COLUMNS, model=MODEL_NAME)
    schema = TRANSACTION_ANOMALIES.schema

    def score(batches):
        for batch in batches:
            scored = model.predict_frame(batch.reset_index(drop=True))
            scored.insert(0, "score_date", score_date)
            scored["model_name"] = model_ref.name
            scored["model_version"] = model_ref.version
            yield scored[list(schema.fieldNames())]

    return rows.select(*INPUT_COLUMNS).mapInPandas(score, schema)
