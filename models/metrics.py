"""How good a binary classifier's probabilities are: ranking (ROC-AUC, PR-AUC, top-decile
lift), fit (log loss) and calibration (expected calibration error), with numpy only.

The ranking metrics treat tied scores as one block (ROC-AUC counts a tied positive/negative
pair as half right, as the Mann-Whitney statistic does; PR-AUC steps once per distinct
score), so they agree with scikit-learn's ``roc_auc_score`` and
``average_precision_score``. With one class present a ranking metric is undefined: NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "CalibrationBins",
    "binary_metrics",
    "calibration_bins",
    "expected_calibration_error",
    "log_loss",
    "pr_auc",
    "roc_auc",
    "top_decile_lift",
]

_EPS = float(np.finfo(np.float64).eps)  # log loss clips to [eps, 1 - eps], as scikit-learn does


def _arrays(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.float64).ravel()
    p = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"{y.size} labels but {p.size} scores")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 or 1")
    return y, p


def roc_auc(labels, scores) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    y, p = _arrays(labels, scores)
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = _average_ranks(p)
    rank_sum = ranks[y == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def pr_auc(labels, scores) -> float:
    """Average precision: the precision at each distinct score threshold, weighted by the
    recall it adds (the step-wise area under the precision-recall curve)."""
    y, p = _arrays(labels, scores)
    positives = y.sum()
    if positives == 0 or positives == y.size:
        return float("nan")
    order = np.argsort(-p, kind="mergesort")
    y_sorted, p_sorted = y[order], p[order]
    last_of_block = np.r_[p_sorted[1:] != p_sorted[:-1], True]
    true_pos = np.cumsum(y_sorted)[last_of_block]
    flagged = (np.flatnonzero(last_of_block) + 1).astype(np.float64)
    precision = true_pos / flagged
    recall_gain = np.diff(np.r_[0.0, true_pos]) / positives
    return float((precision * recall_gain).sum())


def log_loss(labels, probabilities) -> float:
    """Mean negative log-likelihood of the labels under the probabilities (natural log)."""
    y, p = _arrays(labels, probabilities)
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


@dataclass(frozen=True)
class CalibrationBins:
    """Equal-width probability bins that hold rows: their edges, mean predicted
    probability, observed positive rate and row count."""

    lower: np.ndarray
    upper: np.ndarray
    predicted: np.ndarray
    observed: np.ndarray
    count: np.ndarray


def calibration_bins(labels, probabilities, *, bins: int = 10) -> CalibrationBins:
    """Rows grouped into ``bins`` equal-width bins of [0, 1]; a probability on an inner edge
    goes to the upper bin, 1.0 to the last one. Empty bins are left out."""
    y, p = _arrays(labels, probabilities)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    held = count > 0
    predicted = np.bincount(index, weights=p, minlength=bins)[held] / count[held]
    observed = np.bincount(index, weights=y, minlength=bins)[held] / count[held]
    return CalibrationBins(
        lower=edges[:-1][held],
        upper=edges[1:][held],
        predicted=predicted,
        observed=observed,
        count=count[held],
    )


def expected_calibration_error(labels, probabilities, *, bins: int = 10) -> float:
    """Row-weighted mean of |observed rate - mean probability| over equal-width bins."""
    found = calibration_bins(labels, probabilities, bins=bins)
    weights = found.count / found.count.sum()
    return float((weights * np.abs(found.observed - found.predicted)).sum())


def top_decile_lift(labels, scores) -> float:
    """Positive rate among the highest-scoring 10% of rows (ceil(n / 10) of them) over the
    overall positive rate. Rows tied at the cut are taken in their given order."""
    y, p = _arrays(labels, scores)
    if y.sum() == 0:
        return float("nan")
    top = int(np.ceil(y.size / 10))
    chosen = np.argsort(-p, kind="mergesort")[:top]
    return float(y[chosen].mean() / y.mean())


def binary_metrics(labels, probabilities) -> dict[str, float]:
    """Every figure above for one set of rows, plus its size and positive rate."""
    y, p = _arrays(labels, probabilities)
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "log_loss": log_loss(y, p),
        "calibration_error": expected_calibration_error(y, p),
        "lift_top_decile": top_decile_lift(y, p),
        "rows": float(y.size),
        "positive_rate": float(y.mean()) if y.size else float("nan"),
    }
