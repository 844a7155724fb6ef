"""Model metrics against scikit-learn and hand-worked values, the calibration map, the
champion gate's decision, snapshot planning and labelling on tiny frames."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from pyspark.testing import assertDataFrameEqual
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from lakehouse.config import ChurnModelConfig
from lakehouse.errors import TrainingDataError
from models.churn import CALIBRATION_RAMP, check_trainable, fit_calibration
from models.metrics import (
    binary_metrics,
    calibration_bins,
    expected_calibration_error,
    log_loss,
    pr_auc,
    roc_auc,
    top_decile_lift,
)
from models.tracking import CHALLENGER, CHAMPION, decide
from models.training_set import label_snapshots, observed_at, plan_snapshots

pytestmark = pytest.mark.unit

D = dt.date


def scored_rows(seed: int, size: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Labels and scores rounded to two decimals, so many scores tie."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(size) < 0.15).astype(int)
    scores = np.round(np.clip(rng.normal(0.3 + 0.25 * labels, 0.2), 0, 1), 2)
    return labels, scores


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ranking_metrics_equal_scikit_learn_with_ties(seed):
    labels, scores = scored_rows(seed)
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert pr_auc(labels, scores) == pytest.approx(
        average_precision_score(labels, scores), abs=1e-12
    )
    assert log_loss(labels, scores) == pytest.approx(sk_log_loss(labels, scores), abs=1e-12)


def test_metrics_by_hand():
    # ROC-AUC: of the 4 positive/negative pairs, (0.35 vs 0.4) is wrong: 3/4.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    # A tied pair counts half: pairs (0.5 vs 0.5) = 0.5, (0.5 vs 0.2) = 1 -> 0.75.
    assert roc_auc([1, 0, 0], [0.5, 0.5, 0.2]) == 0.75
    # AP: precision 1 at recall 1/2, precision 2/3 at recall 1.
    assert pr_auc([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert log_loss([1, 0], [0.8, 0.3]) == pytest.approx(-(math.log(0.8) + math.log(0.7)) / 2)


def test_ranking_metrics_are_nan_for_one_class():
    assert math.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(pr_auc([0, 0], [0.1, 0.2]))
    assert math.isnan(top_decile_lift([0, 0], [0.1, 0.2]))


def test_calibration_error_by_hand():
    # Bin [0, 0.1): mean 0.05, observed 1/2; bin [0.9, 1]: mean 0.95, observed 1.
    labels, probabilities = [0, 1, 1, 1], [0.05, 0.05, 0.95, 0.95]
    assert expected_calibration_error(labels, probabilities) == pytest.approx(
        0.5 * 0.45 + 0.5 * 0.05
    )
    assert expected_calibration_error([0, 1], [0.0, 1.0]) == 0.0


def test_calibration_bins_put_edges_in_the_upper_bin_and_one_in_the_last():
    bins = calibration_bins([0, 1, 1], [0.1, 0.1, 1.0])
    assert bins.lower.tolist() == pytest.approx([0.1, 0.9])
    assert bins.count.tolist() == [2, 1]
    assert bins.observed.tolist() == [0.5, 1.0]


def test_top_decile_lift_by_hand():
    # 20 rows, 4 positives (rate 0.2); the top 2 scores are both positive: rate 1 -> lift 5.
    labels = [1, 1] + [0] * 16 + [1, 1]
    scores = [0.9, 0.8] + [0.5] * 16 + [0.1, 0.1]
    assert top_decile_lift(labels, scores) == pytest.approx(5.0)


def test_binary_metrics_names_every_figure():
    labels, scores = scored_rows(4, size=500)
    found = binary_metrics(labels, scores)
    assert set(found) == {
        "roc_auc",
        "pr_auc",
        "log_loss",
        "calibration_error",
        "lift_top_decile",
        "rows",
        "positive_rate",
    }
    assert found["rows"] == 500
    assert found["positive_rate"] == pytest.approx(labels.mean())


def test_calibration_is_strictly_increasing_and_stays_with_the_isotonic_fit():
    rng = np.random.default_rng(5)
    raw = rng.beta(1, 6, size=3000)
    labels = (rng.random(3000) < raw**0.7).astype(float)
    knots_x, knots_y = fit_calibration(raw, labels)
    assert knots_x[0] == 0.0
    assert knots_x[-1] == 1.0
    assert np.all(np.diff(knots_x) > 0)
    assert np.all(np.diff(knots_y) > 0)
    assert knots_y[0] >= 0.0
    assert knots_y[-1] <= 1.0
    grid = np.linspace(0.0, 1.0, 10_001)
    calibrated = np.interp(grid, knots_x, knots_y)
    assert np.all(np.diff(calibrated) > 0)
    isotonic = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw, labels)
    assert np.abs(calibrated - isotonic.predict(grid)).max() <= CALIBRATION_RAMP + 1e-12
    # A strictly increasing map keeps the order: the same ROC-AUC as the raw scores.
    assert roc_auc(labels, np.interp(raw, knots_x, knots_y)) == roc_auc(labels, raw)


def test_gate_makes_the_first_version_champion():
    decision = decide(0.7, champion_version=None, champion_auc=None, margin=0.01, version="1")
    assert decision.alias == CHAMPION
    assert "first version" in decision.reason


@pytest.mark.parametrize(
    ("auc", "alias"),
    [(0.9, CHAMPION), (0.8 + 0.01, CHAMPION), (0.805, CHALLENGER), (0.8, CHALLENGER)],
)
def test_gate_needs_the_margin_over_the_champion(auc, alias):
    decision = decide(auc, champion_version="3", champion_auc=0.8, margin=0.01, version="4")
    assert decision.alias == alias
    assert decision.champion_version == "3"
    assert decision.champion_roc_auc == 0.8
    assert "champion v3 0.8000" in decision.reason


def test_gate_keeps_a_version_it_cannot_compare_as_challenger():
    decision = decide(0.99, champion_version="3", champion_auc=None, margin=0.0, version="4")
    assert decision.alias == CHALLENGER
    assert "cannot score this holdout" in decision.reason


SETTINGS = ChurnModelConfig(
    horizon_days=10, active_days=5, snapshot_every_days=3, validation_days=3, holdout_days=3
)


def test_snapshot_plan_counts_back_from_the_last_labelled_day_in_windows():
    plan = plan_snapshots(D(2024, 1, 1), D(2024, 2, 9), settings=SETTINGS)
    # Last labelled day 2024-01-30 (horizon 10); first with a full 5-day activity window 01-05.
    assert plan.test == (D(2024, 1, 30),)
    assert plan.validation == (D(2024, 1, 27),)
    assert plan.train == tuple(D(2024, 1, d) for d in (6, 9, 12, 15, 18, 21, 24))
    assert max(plan.train) < min(plan.validation) <= max(plan.validation) < min(plan.test)


def test_snapshot_plan_refuses_too_short_a_history():
    with pytest.raises(TrainingDataError, match="no snapshot date for the train"):
        plan_snapshots(D(2024, 1, 1), D(2024, 1, 19), settings=SETTINGS)


def test_observed_at_is_just_after_the_day_ends_in_utc():
    assert observed_at(D(2024, 3, 31)) == dt.datetime(2024, 4, 1, 0, 0, 0, 1, tzinfo=dt.UTC)


def test_labels_mark_customers_holding_an_account_without_a_later_transaction(spark):
    plan = plan_snapshots(D(2024, 1, 1), D(2024, 2, 9), settings=SETTINGS)
    days = [
        ("stays", D(2024, 1, 29)),  # active for 01-30 (within 5 days), back on 02-02
        ("stays", D(2024, 2, 2)),
        ("leaves", D(2024, 1, 26)),  # active for 01-27 and 01-30, never back
        ("returns_late", D(2024, 1, 30)),
        ("returns_late", D(2024, 2, 10)),  # after 01-30 + 10 days: outside the horizon
        ("dormant", D(2024, 1, 20)),  # not active in the 5 days up to 01-27 or 01-30
        ("dormant", D(2024, 2, 5)),
        ("closes", D(2024, 1, 26)),  # active for 01-27 and 01-30, but gone by 01-30
    ]
    customer_days = spark.createDataFrame(days, "customer_id string, txn_date date")
    accounts = spark.createDataFrame(
        [(c, D(2023, 6, 1), None) for c in ("stays", "leaves", "returns_late", "dormant")]
        + [("closes", D(2023, 6, 1), D(2024, 1, 28)), ("closes", D(2024, 1, 31), None)],
        "customer_id string, opened_date date, closed_date date",
    )
    got = label_snapshots(customer_days, accounts, plan, settings=SETTINGS).filter(
        "snapshot_date >= '2024-01-27'"
    )
    want = [
        ("stays", D(2024, 1, 30), "test", 0),
        ("leaves", D(2024, 1, 27), "validation", 1),
        ("leaves", D(2024, 1, 30), "test", 1),
        ("returns_late", D(2024, 1, 30), "test", 1),
        ("closes", D(2024, 1, 27), "validation", 1),  # its account still open at 01-27
    ]
    expected = spark.createDataFrame(
        [(c, d, observed_at(d), s, y) for c, d, s, y in want],
        "customer_id string, snapshot_date date, event_ts timestamp, split string, churned int",
    )
    assertDataFrameEqual(got, expected)


def test_a_window_with_one_class_cannot_train():
    frame = pd.DataFrame(
        {
            "split": ["train"] * 20 + ["validation"] * 20 + ["test"] * 20,
            "churned": [0, 1] * 10 + [0] * 20 + [0, 1] * 10,
        }
    )
    with pytest.raises(TrainingDataError, match="the validation window has 20 rows, 0 churned"):
        check_trainable(frame)
