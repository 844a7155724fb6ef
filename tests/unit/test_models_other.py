"""The anomaly and segmentation models and customer snapshots on hand-built data: segment
names from centroids, k by silhouette, the alert flag against the threshold, products held
and opened, typed errors for bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from lakehouse.config import AnomalyModelConfig, SegmentationModelConfig
from lakehouse.errors import ModelInputError, TrainingDataError
from models.anomaly import INPUT_COLUMNS, fit_anomaly
from models.segmentation import FEATURES, NAMING, fit_segments, name_segments
from models.snapshots import products_held, products_opened

pytestmark = pytest.mark.unit

T = pd.Timestamp


def centroid(**sd: float) -> np.ndarray:
    """A centroid in standard deviations: 0 for every feature not named."""
    return np.array([sd.get(name, 0.0) for name in FEATURES])


def test_segments_are_named_by_their_most_distinctive_feature():
    centers = np.stack(
        [
            centroid(share_kids_30d=1.3, share_groceries_30d=0.5),
            centroid(share_luxury_90d=1.7, share_travel_90d=1.1, log_income=0.5),
            centroid(log_income=-2.0, age=-1.0, share_dining_30d=0.9),
            centroid(age=-0.7, share_travel_90d=0.6),
        ]
    )
    assert name_segments(centers) == ("family", "luxury", "low income", "young")


def test_two_segments_never_share_a_name_the_stronger_match_keeps_it():
    centers = np.stack(
        [
            centroid(share_travel_90d=0.8, share_cash_30d=0.3),
            centroid(share_travel_90d=1.4),
            centroid(),  # average on every feature
        ]
    )
    names = name_segments(centers)
    assert names[1] == "traveller"
    assert names[0] != "traveller"
    assert len(set(names)) == 3
    assert name_segments(centers) == names  # the same centroids, the same names


def test_segments_beyond_the_naming_table_are_numbered():
    distinct = list(dict.fromkeys(name for _, _, name in NAMING))
    average = np.zeros((len(distinct) + 2, len(FEATURES)))
    names = name_segments(average)
    # Nothing stands out: names go in the table's order, then numbers.
    assert names == (*distinct, f"segment {len(distinct)}", f"segment {len(distinct) + 1}")


def blobs(seed: int, per_blob: int = 80) -> pd.DataFrame:
    """Four well separated groups of customers on three features, the rest constant."""
    rng = np.random.default_rng(seed)
    spots = [
        {"share_kids_30d": 0.3, "age": 40},
        {"share_travel_90d": 0.5, "age": 55},
        {"log_income": 2.0, "age": 21},
        {"share_cash_30d": 0.4, "age": 70},
    ]
    frames = []
    for spot in spots:
        frame = pd.DataFrame({name: np.full(per_blob, 0.05) for name in FEATURES})
        frame["log_income"] = 8.0
        for name, value in spot.items():
            frame[name] = value + rng.normal(0, 0.02 if "share" in name else 1.0, per_blob)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


SEGMENTS = SegmentationModelConfig(k_min=2, k_max=6, silhouette_sample=300)


def test_k_is_chosen_by_silhouette_and_refitting_gives_the_same_segments():
    features = blobs(seed=1)
    first = fit_segments(features, settings=SEGMENTS)
    again = fit_segments(features, settings=SEGMENTS)
    assert first.k == 4
    assert max(first.silhouettes, key=first.silhouettes.get) == 4
    assert first.names == again.names
    pd.testing.assert_frame_equal(first.predict_frame(features), again.predict_frame(features))
    assert set(first.names) == {"family", "traveller", "low income", "cash user"}
    assert first.sizes == (80, 80, 80, 80)


def test_missing_values_take_the_training_median():
    features = blobs(seed=2)
    model = fit_segments(features, settings=SEGMENTS)
    holey = features.copy()
    holey.loc[0, "age"] = np.nan
    patched = features.copy()
    patched.loc[0, "age"] = model.medians["age"]
    pd.testing.assert_frame_equal(model.predict_frame(holey), model.predict_frame(patched))


def test_segmentation_input_errors_are_typed():
    features = blobs(seed=3)
    with pytest.raises(ModelInputError, match=r"segments: input rows lack column\(s\) \['age'\]"):
        fit_segments(features.drop(columns="age"), settings=SEGMENTS)
    with pytest.raises(TrainingDataError, match=r"6 segments"):
        fit_segments(features.head(5), settings=SEGMENTS)


def transactions(size: int, seed: int) -> pd.DataFrame:
    """Daytime card payments in EUR, mostly one per hour, a few abroad."""
    rng = np.random.default_rng(seed)
    days = pd.to_timedelta(rng.integers(0, 7, size), unit="D")
    seconds = pd.to_timedelta(rng.integers(8 * 3600, 20 * 3600, size), unit="s")
    return pd.DataFrame(
        {
            "txn_id": [f"T{i:06d}" for i in range(size)],
            "customer_id": [f"C{i % 50:03d}" for i in range(size)],
            "txn_ts": T("2024-03-01") + days + seconds,
            "amount": -rng.lognormal(3.5, 0.8, size),
            "currency": rng.choice(["EUR"] * 19 + ["USD"], size),
            "category": rng.choice(["groceries", "dining", "travel", None], size),
            "txn_count_1h": 1 + rng.poisson(0.2, size),
            "amount_zscore": rng.normal(0, 1, size),
        }
    )


ANOMALY = AnomalyModelConfig(trees=50, max_samples=256, alert_rate=0.02)


def test_every_transaction_is_scored_and_the_alert_flag_is_the_threshold():
    rows = transactions(2000, seed=1)
    model = fit_anomaly(rows, settings=ANOMALY)
    scored = model.predict_frame(rows)
    assert list(scored.columns) == [
        "txn_id", "customer_id", "txn_ts", "anomaly_score", "is_alert", "reason"
    ]  # fmt: skip
    assert scored["txn_id"].tolist() == rows["txn_id"].tolist()
    assert scored["anomaly_score"].notna().all()
    assert (scored["is_alert"] == (scored["anomaly_score"] > model.threshold)).all()
    # At most the configured share of the training rows is above the threshold.
    assert 0 < scored["is_alert"].mean() <= ANOMALY.alert_rate
    assert scored.loc[scored["is_alert"], "reason"].str.len().gt(0).all()
    assert scored.loc[~scored["is_alert"], "reason"].isna().all()


def test_a_burst_in_a_category_never_seen_is_an_alert_with_its_reasons():
    rows = transactions(2000, seed=2)
    model = fit_anomaly(rows, settings=ANOMALY)
    burst = rows.head(1).assign(
        txn_id="T-burst",
        txn_ts=T("2024-03-09 03:10"),
        amount=-4000.0,
        category="crypto",
        currency="EUR",
        txn_count_1h=9,
        amount_zscore=25.0,
    )
    scored = model.predict_frame(burst)
    assert scored["is_alert"].item()
    reason = scored["reason"].item()
    assert reason == (
        "category crypto, never seen in training; 9 transactions within an hour; "
        "EUR 4,000.00 out, 25.0 standard deviations above the customer's usual payment"
    )


def test_anomaly_input_errors_are_typed():
    rows = transactions(200, seed=3)
    model = fit_anomaly(rows, settings=ANOMALY)
    with pytest.raises(
        ModelInputError, match=r"anomaly: input rows lack column\(s\) \['txn_count_1h'\]"
    ):
        model.predict_frame(rows.drop(columns="txn_count_1h"))
    with pytest.raises(TrainingDataError, match=r"at least 50 needed"):
        fit_anomaly(rows.head(10), settings=ANOMALY)
    assert set(INPUT_COLUMNS) <= set(rows.columns)


ACCOUNTS = pd.DataFrame(
    {
        "customer_id": ["C1", "C1", "C1", "C2", "C2"],
        "product_code": ["SAVINGS", "CARD", "LOAN", "CARD", "SAVINGS"],
        "opened_date": pd.to_datetime(
            ["2023-01-01", "2024-03-05", "2024-01-01", "2024-02-20", "2024-04-10"]
        ),
        # C1's loan was closed on 2024-02-01.
        "closed_date": pd.to_datetime([None, None, "2024-02-01", None, None]),
    }
)


def test_products_held_and_opened_on_each_snapshot_date():
    rows = pd.DataFrame(
        {
            "customer_id": ["C1", "C1", "C2", "C3"],
            "snapshot_date": [dt.date(2024, 1, 15), dt.date(2024, 3, 1)] * 2,
        },
        index=[7, 8, 9, 10],
    )
    products = ("SAVINGS", "CARD", "LOAN")
    held = products_held(ACCOUNTS, rows, products=products)
    want = pd.DataFrame(
        {
            "held_SAVINGS": [True, True, False, False],
            "held_CARD": [False, False, False, False],
            "held_LOAN": [True, False, False, False],
        },
        index=rows.index,
    )
    pd.testing.assert_frame_equal(held, want)
    opened = products_opened(ACCOUNTS, rows, products=products, horizon_days=30)
    want = pd.DataFrame(
        {
            "opened_SAVINGS": [False, False, False, False],
            "opened_CARD": [False, True, False, False],  # C2's card: 36 days after 01-15
            "opened_LOAN": [False, False, False, False],
        },
        index=rows.index,
    )
    pd.testing.assert_frame_equal(opened, want)
