"""Lifestyle segments: KMeans on standardized customer snapshot features, k chosen by the
silhouette over a configured range, each segment named from its centroid.

    snapshots = load_customer_snapshots(store, [d], active_days=..., products=())
    features = customer_features(snapshots.rows)               # models/snapshots.py
    model = fit_segments(features, settings=cfg.models.segmentation)
    model.predict_frame(features)          # segment_id, segment, distance
    segment_rows(snapshots.rows, features, model, score_date=d, model_ref=ref)  # the contract

Features: the share of each spending category in the last 30 days (square-rooted: a share's
differences near zero matter as much as near one half, and the root evens that out for
Euclidean distance), the 90-day travel and luxury shares, log monthly income, log spend and
transaction count, and age. Missing values take the training median.

Names: each feature of ``NAMING`` in a direction (``+1`` above the population mean, ``-1``
below) carries a name; a segment takes the name whose feature its centroid is furthest from
the mean in that direction, in standard deviations. Names are handed out best match first
across all segments, each name once, so two segments never share one; the same centroids
always give the same names. Segment ids run from the largest segment (0) down.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from feature_store.transforms import SPEND_CATEGORIES
from lakehouse.config import SegmentationModelConfig
from lakehouse.errors import TrainingDataError
from models.scoring import ModelRef
from models.snapshots import customer_features, load_customer_snapshots, require_columns
from schemas.scores import CUSTOMER_SEGMENTS

__all__ = [
    "FEATURES",
    "MODEL_NAME",
    "NAMING",
    "SegmentModel",
    "fit_segments",
    "name_segments",
    "segment_rows",
    "train_segments",
]

MODEL_NAME = "segments"
SHARES = tuple(f"share_{c}_30d" for c in SPEND_CATEGORIES)
FEATURES = (
    *SHARES,
    "share_travel_90d",
    "share_luxury_90d",
    "log_income",
    "log_spend_30d",
    "log_txn_30d",
    "age",
)
ROOTED = (*SHARES, "share_travel_90d", "share_luxury_90d")
NAMING: tuple[tuple[str, int, str], ...] = (
    ("share_kids_30d", +1, "family"),
    ("share_luxury_90d", +1, "luxury"),
    ("share_luxury_30d", +1, "luxury"),
    ("share_travel_90d", +1, "traveller"),
    ("share_travel_30d", +1, "traveller"),
    ("log_income", +1, "affluent"),
    ("log_income", -1, "low income"),
    ("age", -1, "young"),
    ("age", +1, "mature"),
    ("log_spend_30d", -1, "saver"),
    ("log_spend_30d", +1, "big spender"),
    ("log_txn_30d", -1, "occasional"),
    ("share_cash_30d", +1, "cash user"),
    ("share_groceries_30d", +1, "everyday essentials"),
    ("share_education_30d", +1, "learner"),
    ("share_dining_30d", +1, "going out"),
    ("share_entertainment_30d", +1, "going out"),
    ("share_shopping_30d", +1, "shopper"),
    ("share_electronics_30d", +1, "tech buyer"),
    ("share_transport_30d", +1, "commuter"),
    ("share_fuel_30d", +1, "driver"),
    ("share_health_30d", +1, "health-conscious"),
)
N_INIT = 10


@dataclass(frozen=True, eq=False)
class SegmentModel:
    centers: np.ndarray  # (k, features) in standardized units, row i = segment_id i
    mean: np.ndarray  # per feature (after the square root), for standardizing
    scale: np.ndarray
    medians: dict[str, float]  # imputation of missing values, raw units
    names: tuple[str, ...]  # per segment_id
    k: int
    silhouettes: dict[int, float] = field(default_factory=dict)
    sizes: tuple[int, ...] = ()  # training customers per segment_id

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        require_columns(features, FEATURES, model=MODEL_NAME)
        return _standardize(features, self.medians, self.mean, self.scale)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        """segment_id, segment (its name), distance to the segment's centroid (scaled units)."""
        values = self.matrix(features)
        # One centroid at a time: rows x centroids x features at once would not fit for
        # millions of customers.
        distances = np.column_stack(
            [np.sqrt(((values - center) ** 2).sum(axis=1)) for center in self.centers]
        )
        nearest = distances.argmin(axis=1)
        return pd.DataFrame(
            {
                "segment_id": nearest.astype(np.int32),
                "segment": np.asarray(self.names, dtype=object)[nearest],
                "distance": distances[np.arange(len(values)), nearest],
            },
            index=features.index,
        )

    def profile(self) -> dict[str, dict]:
        """Per segment name: id, training size and the centroid in standard deviations."""
        return {
            name: {
                "segment_id": i,
                "customers": self.sizes[i] if self.sizes else None,
                "centroid_sd": {
                    f: round(float(v), 3) for f, v in zip(FEATURES, self.centers[i], strict=True)
                },
            }
            for i, name in enumerate(self.names)
        }


def _raw(features: pd.DataFrame, medians: dict[str, float]) -> np.ndarray:
    frame = features[list(FEATURES)].astype(float).fillna(medians)
    for name in ROOTED:
        frame[name] = np.sqrt(frame[name].clip(lower=0.0))
    return frame.to_numpy(dtype=np.float64)


def _standardize(features, medians, mean, scale) -> np.ndarray:
    return (_raw(features, medians) - mean) / scale


def fit_segments(features: pd.DataFrame, *, settings: SegmentationModelConfig) -> SegmentModel:
    """KMeans for each k in k_min..k_max; the k with the best silhouette (on a sample of
    ``silhouette_sample`` customers; the smaller k on a tie) is kept and named."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    require_columns(features, FEATURES, model=MODEL_NAME)
    if len(features) <= settings.k_max:
        raise TrainingDataError(
            f"{MODEL_NAME}: {len(features)} customers cannot be split into up to "
            f"{settings.k_max} segments; segment more customers or lower models.segmentation.k_max"
        )
    medians = {
        n: float(v) if np.isfinite(v) else 0.0 for n, v in features[list(FEATURES)].median().items()
    }
    raw = _raw(features, medians)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)  # a constant feature stays 0
    values = (raw - mean) / scale
    sample = min(settings.silhouette_sample, len(values))
    fits, silhouettes = {}, {}
    for k in range(settings.k_min, settings.k_max + 1):
        fits[k] = KMeans(n_clusters=k, n_init=N_INIT, random_state=settings.seed).fit(values)
        silhouettes[k] = float(
            silhouette_score(
                values, fits[k].labels_, sample_size=sample, random_state=settings.seed
            )
        )
    best = max(silhouettes, key=lambda k: (silhouettes[k], -k))
    sizes = np.bincount(fits[best].labels_, minlength=best)
    order = sorted(range(best), key=lambda c: (-sizes[c], tuple(fits[best].cluster_centers_[c])))
    centers = fits[best].cluster_centers_[order]
    return SegmentModel(
        centers=centers,
        mean=mean,
        scale=scale,
        medians=medians,
        names=name_segments(centers),
        k=best,
        silhouettes=silhouettes,
        sizes=tuple(int(sizes[c]) for c in order),
    )


def name_segments(centers: np.ndarray) -> tuple[str, ...]:
    """A distinct name per centroid row (standardized units over FEATURES): best match first
    across all segments (see the module docstring); ``segment <i>`` when names run out."""
    index = {name: i for i, name in enumerate(FEATURES)}
    candidates = []
    for segment, center in enumerate(centers):
        for rank, (feature, sign, name) in enumerate(NAMING):
            candidates.append((-sign * float(center[index[feature]]), segment, rank, name))
    names: dict[int, str] = {}
    for _, segment, _, name in sorted(candidates):
        if segment not in names and name not in names.values():
            names[segment] = name
    return tuple(names.get(i, f"segment {i}") for i in range(len(centers)))


def segment_rows(
    customers: pd.Series,
    features: pd.DataFrame,
    model: SegmentModel,
    *,
    score_date: dt.date,
    model_ref: ModelRef,
) -> pd.DataFrame:
    """gold.customer_segments rows: one per customer (``customers`` aligned with
    ``features``)."""
    predicted = model.predict_frame(features)
    rows = pd.DataFrame(
        {
            "score_date": score_date,
            "customer_id": customers.to_numpy(),
            "segment": predicted["segment"].to_numpy(),
            "segment_id": predicted["segment_id"].to_numpy(),
            "distance": predicted["distance"].to_numpy(),
            "model_name": model_ref.name,
            "model_version": model_ref.version,
        }
    )
    return rows[list(CUSTOMER_SEGMENTS.column_names)]


@dataclass(frozen=True, eq=False)
class SegmentTraining:
    model: SegmentModel
    registered: object  # models.model_runs.RegisteredModel
    customers: pd.Series
    features: pd.DataFrame


def train_segments(store, cfg, *, run_date: dt.date, promote: bool = False) -> SegmentTraining:
    """Segment the customers active up to ``run_date`` (features as of its end), log the run
    and register the model (models/model_runs.py: champion when first or promoted)."""
    from models.model_runs import log_and_register

    settings = cfg.models.segmentation
    snapshots = load_customer_snapshots(
        store, [run_date], active_days=settings.active_days, products=()
    )
    features = customer_features(snapshots.rows)
    model = fit_segments(features, settings=settings)
    metrics = {f"silhouette_k{k}": v for k, v in model.silhouettes.items()}
    metrics |= {"k": model.k, "silhouette": model.silhouettes[model.k], "customers": len(features)}
    registered = log_and_register(
        cfg,
        name=MODEL_NAME,
        model=model,
        params={**settings.model_dump(), "features": FEATURES, "names": model.names},
        metrics=metrics,
        lineage={"run_date": run_date.isoformat(), "tables": snapshots.tables},
        input_example=features[list(FEATURES)].head(5),
        run_name=f"{MODEL_NAME} {run_date}",
        promote=promote,
        documents={"segments.json": model.profile()},
    )
    return SegmentTraining(model, registered, snapshots.rows["customer_id"], features)
