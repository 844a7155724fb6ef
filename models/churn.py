"""The churn model: an XGBoost classifier trained on the train window, stopped early on the
validation window, calibrated on it, and measured on the test window.

    frame = training_rows(...).toPandas()          # models/training_set.py
    model = fit_churn(frame, features=features, labels=readable_labels(registry, features))
    model.bundle, model.test_metrics               # what tracking logs and registers

Class imbalance (a few percent churn) is handled with ``scale_pos_weight`` = negatives /
positives of the train window; that inflates the booster's raw probabilities, and the
isotonic calibration fitted on the validation window maps them back to observed rates.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from feature_store.registry import Registry
from lakehouse.errors import TrainingDataError
from models.bundle import ClassifierBundle
from models.metrics import binary_metrics, pr_auc, roc_auc
from models.training_set import LABEL, SPLIT, SPLITS

__all__ = [
    "BoosterParams",
    "ChurnModel",
    "check_trainable",
    "fit_calibration",
    "fit_churn",
    "readable_labels",
]

MIN_PER_CLASS = 5  # rows of each class every window needs to train, stop and calibrate on
# Ramp added to the isotonic fit so the calibrated score is strictly increasing in the raw
# one: an isotonic fit is a step function, and its flat steps would tie hundreds of
# customers, throwing away the booster's order (lower ROC-AUC, deciles cut inside ties).
# Probabilities move by at most this much.
CALIBRATION_RAMP = 1e-6
# Reason-code wording where a feature's declared description reads poorly to a person.
LABEL_OVERRIDES = {
    "spend_trend_30d": "spending trend, last 30 vs prior 60 days",
    "days_since_last_txn": "days since the last transaction",
    "txn_count_30d": "transactions in the last 30 days",
    "active_days_30d": "days with a transaction in the last 30 days",
    "merchant_count_90d": "distinct merchants in the last 90 days",
    "net_flow_30d": "money in minus money out, last 30 days",
    "has_regular_income": "a regular income (salary) was detected",
}


@dataclass(frozen=True, kw_only=True)
class BoosterParams:
    """XGBoost settings for the churn model (logged with every run)."""

    max_rounds: int = 400
    early_stopping_rounds: int = 40
    learning_rate: float = 0.05
    max_depth: int = 4
    min_child_weight: float = 2.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0
    seed: int = 7

    def xgboost(self, *, scale_pos_weight: float) -> dict:
        return {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "eval_metric": "auc",  # early stopping on ranking; calibration fixes the levels
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "scale_pos_weight": scale_pos_weight,
            "seed": self.seed,
        }


@dataclass(frozen=True, eq=False)
class ChurnModel:
    bundle: ClassifierBundle
    params: dict[str, float | int | str]  # everything that shaped the model, for tracking
    validation_metrics: dict[str, float]
    test_metrics: dict[str, float]
    test_scores: np.ndarray  # calibrated probabilities of the test rows, in frame order
    train_seconds: float


def readable_labels(registry: Registry, features: Sequence[str]) -> dict[str, str]:
    """A phrase per feature for reason codes: an override, else the feature's declared
    description, else its name in words."""
    described = {
        f.name: f.description
        for view in registry.materialized_views()
        for f in view.features
        if f.description
    }
    return {
        name: LABEL_OVERRIDES.get(name) or described.get(name) or name.replace("_", " ")
        for name in features
    }


def check_trainable(frame: pd.DataFrame) -> None:
    """TrainingDataError unless every window holds at least MIN_PER_CLASS rows of each class."""
    for split in SPLITS:
        labels = frame.loc[frame[SPLIT] == split, LABEL]
        churned = int(labels.sum())
        stayed = int(labels.size - churned)
        if min(churned, stayed) < MIN_PER_CLASS:
            raise TrainingDataError(
                f"churn training set: the {split} window has {labels.size} rows, {churned} "
                f"churned and {stayed} not; each window needs at least {MIN_PER_CLASS} of "
                "each class: train on more customers or a longer history"
            )


def fit_calibration(raw: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Isotonic regression of ``labels`` on ``raw`` probabilities, as knots over [0, 1] for
    ``np.interp``: the fit's thresholds, held flat to 0 and 1, plus CALIBRATION_RAMP."""
    from sklearn.isotonic import IsotonicRegression

    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, labels)
    knots_x = np.asarray(fit.X_thresholds_, dtype=np.float64)
    knots_y = np.asarray(fit.y_thresholds_, dtype=np.float64)
    if knots_x[0] > 0.0:
        knots_x, knots_y = np.r_[0.0, knots_x], np.r_[knots_y[0], knots_y]
    if knots_x[-1] < 1.0:
        knots_x, knots_y = np.r_[knots_x, 1.0], np.r_[knots_y, knots_y[-1]]
    ramp = np.linspace(0.0, 1.0, knots_x.size)
    return knots_x, knots_y * (1.0 - CALIBRATION_RAMP) + CALIBRATION_RAMP * ramp


def fit_churn(
    frame: pd.DataFrame,
    *,
    features: Sequence[str],
    labels: Mapping[str, str],
    params: BoosterParams | None = None,
) -> ChurnModel:
    """Train on the ``train`` rows of ``frame``, stop early and calibrate on ``validation``,
    measure on ``test``. ``frame`` has the split and churned columns and ``features``."""
    import xgboost as xgb

    params = params or BoosterParams()
    check_trainable(frame)
    parts = {s: frame[frame[SPLIT] == s] for s in SPLITS}
    matrix = {s: _matrix(parts[s], features) for s in SPLITS}
    target = {s: parts[s][LABEL].to_numpy(dtype=np.float64) for s in SPLITS}
    churned = target["train"].sum()
    scale_pos_weight = float((target["train"].size - churned) / churned)
    started = time.perf_counter()
    train = xgb.DMatrix(matrix["train"], label=target["train"], feature_names=list(features))
    validation = xgb.DMatrix(
        matrix["validation"], label=target["validation"], feature_names=list(features)
    )
    booster = xgb.train(
        params.xgboost(scale_pos_weight=scale_pos_weight),
        train,
        num_boost_round=params.max_rounds,
        evals=[(validation, "validation")],
        early_stopping_rounds=params.early_stopping_rounds,
        verbose_eval=False,
    )
    best_rounds = booster.best_iteration + 1
    booster = booster[:best_rounds]  # the bundle scores with every tree it holds
    raw_validation = booster.inplace_predict(matrix["validation"])
    calibration_x, calibration_y = fit_calibration(raw_validation, target["validation"])
    train_seconds = time.perf_counter() - started
    bundle = ClassifierBundle(
        booster=booster,
        feature_names=tuple(features),
        calibration_x=calibration_x,
        calibration_y=calibration_y,
        labels=dict(labels),
    )
    test_scores = bundle.predict_proba(matrix["test"])
    return ChurnModel(
        bundle=bundle,
        params={
            **asdict(params),
            "scale_pos_weight": round(scale_pos_weight, 4),
            "best_rounds": best_rounds,
            "features": len(features),
            **{f"{s}_rows": int(target[s].size) for s in SPLITS},
        },
        # Ranking only: the calibration was fitted on these rows, so its error here says nothing.
        validation_metrics={
            "roc_auc": roc_auc(target["validation"], raw_validation),
            "pr_auc": pr_auc(target["validation"], raw_validation),
        },
        test_metrics=binary_metrics(target["test"], test_scores),
        test_scores=test_scores,
        train_seconds=train_seconds,
    )


def _matrix(rows: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    return rows[list(features)].to_numpy(dtype=np.float32, na_value=np.nan)
