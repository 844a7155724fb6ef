"""Evaluation plots for a classifier, written as PNG files for MLflow: ROC, precision-recall,
calibration (reliability), feature importance and a contribution summary (SHAP-style: each
dot one customer's contribution of a feature to the log-odds, coloured by the feature's value).

matplotlib runs on its Agg backend (files only, no display), chosen before pyplot loads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from models.metrics import calibration_bins, pr_auc, roc_auc

__all__ = [
    "calibration_plot",
    "contribution_plot",
    "importance_plot",
    "pr_plot",
    "roc_plot",
]

TOP_FEATURES = 15
_DPI = 110


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=_DPI)
    _pyplot().close(fig)
    return path


def roc_plot(labels, scores, path: Path) -> Path:
    from sklearn.metrics import roc_curve

    plt = _pyplot()
    false_pos, true_pos, _ = roc_curve(labels, scores)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(false_pos, true_pos, label=f"model (AUC {roc_auc(labels, scores):.3f})")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="random")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test window")
    ax.legend(loc="lower right")
    return _save(fig, path)


def pr_plot(labels, scores, path: Path) -> Path:
    from sklearn.metrics import precision_recall_curve

    plt = _pyplot()
    precision, recall, _ = precision_recall_curve(labels, scores)
    base_rate = float(np.mean(labels))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.step(recall, precision, where="post", label=f"model (AP {pr_auc(labels, scores):.3f})")
    ax.axhline(base_rate, linestyle=":", color="grey", label=f"base rate {base_rate:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall, test window")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="upper right")
    return _save(fig, path)


def calibration_plot(labels, probabilities, path: Path) -> Path:
    plt = _pyplot()
    found = calibration_bins(labels, probabilities)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfect")
    top.plot(found.predicted, found.observed, marker="o", label="model")
    top.set(ylabel="observed churn rate", title="Calibration, test window")
    top.legend(loc="upper left")
    bottom.bar(found.lower, found.count, width=found.upper - found.lower, align="edge")
    bottom.set(xlabel="predicted probability (bin)", ylabel="rows")
    bottom.set_yscale("log")
    return _save(fig, path)


def importance_plot(gain: Mapping[str, float], labels: Mapping[str, str], path: Path) -> Path:
    """Total gain per feature (XGBoost's ``get_score(importance_type='total_gain')``)."""
    plt = _pyplot()
    ranked = sorted(gain.items(), key=lambda item: item[1])[-TOP_FEATURES:]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(ranked) + 1.2))
    ax.barh([labels.get(n, n) for n, _ in ranked], [v for _, v in ranked])
    ax.set(xlabel="total gain", title="Feature importance")
    return _save(fig, path)


def contribution_plot(
    contributions: np.ndarray,
    values: np.ndarray,
    features: Sequence[str],
    labels: Mapping[str, str],
    path: Path,
    *,
    seed: int = 0,
) -> Path:
    """One row per feature (largest mean |contribution| on top), one dot per customer at its
    contribution, coloured by the feature value's rank among the customers (grey: missing)."""
    plt = _pyplot()
    strength = np.abs(contributions).mean(axis=0)
    top = np.argsort(strength)[-TOP_FEATURES:]
    rng = np.random.default_rng(seed)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(top) + 1.5))
    for row, index in enumerate(top):
        x, v = contributions[:, index], values[:, index]
        jitter = row + rng.uniform(-0.3, 0.3, size=x.size)
        present = ~np.isnan(v)
        ax.scatter(x[~present], jitter[~present], s=4, color="lightgrey")
        colour = _rank01(v[present])
        points = ax.scatter(x[present], jitter[present], s=4, c=colour, cmap="coolwarm")
    ax.set_yticks(range(len(top)), [labels.get(features[i], features[i]) for i in top])
    ax.axvline(0.0, color="grey", linewidth=0.8)
    ax.set(xlabel="contribution to churn log-odds", title="Contribution summary (test sample)")
    bar = fig.colorbar(points, ax=ax)
    bar.set_label("feature value (low to high)")
    return _save(fig, path)


def _rank01(values: np.ndarray) -> np.ndarray:
    """Each value's rank scaled to [0, 1] (colours by order, not by scale)."""
    if values.size < 2:
        return np.zeros(values.size)
    return np.argsort(np.argsort(values, kind="mergesort")) / (values.size - 1)
