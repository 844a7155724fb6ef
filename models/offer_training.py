"""Training and scoring sets of the next-best-offer model from the feature store and silver,
and the training run (MLflow).

    training = offer_training_set(store, run_date=d, settings=cfg.models.offers, rules=rules)
    result = train_offers(store, cfg, run_date=d)          # fit, log, register
    customers, features = offer_scoring_set(store, score_date=d, settings=..., rules=rules)

Snapshot dates are ``models.offers.snapshots`` dates ``horizon_days`` apart, the latest
``run_date - horizon_days``: every label window (D, D + horizon] ends by the run date, so the
model learns from nothing after it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lakehouse.config import OffersModelConfig
from lakehouse.errors import TrainingDataError
from models.offers import MODEL_NAME, OfferModel, OfferRules, fit_offers, load_offer_rules
from models.snapshots import customer_features, load_customer_snapshots, products_opened

__all__ = [
    "OfferTraining",
    "OfferTrainingSet",
    "offer_scoring_set",
    "offer_training_set",
    "snapshot_dates_for",
    "train_offers",
]


@dataclass(frozen=True, eq=False)
class OfferTrainingSet:
    customers: pd.Series
    snapshot_dates: pd.Series
    features: pd.DataFrame
    opened: pd.DataFrame  # opened_<product> per row
    tables: dict[str, int]


@dataclass(frozen=True, eq=False)
class OfferTraining:
    model: OfferModel
    registered: object  # models.model_runs.RegisteredModel
    training: OfferTrainingSet


def snapshot_dates_for(run_date: dt.date, settings: OffersModelConfig) -> list[dt.date]:
    """``snapshots`` dates ``horizon_days`` apart, the latest ``run_date - horizon_days``."""
    step = dt.timedelta(days=settings.horizon_days)
    return sorted(run_date - step * (i + 1) for i in range(settings.snapshots))


def offer_training_set(
    store,
    *,
    run_date: dt.date,
    settings: OffersModelConfig,
    rules: OfferRules,
    dates: list[dt.date] | None = None,
) -> OfferTrainingSet:
    """Customers active on each snapshot date, their features then, and which products of
    ``rules`` they opened in the horizon after (silver.accounts)."""
    dates = dates or snapshot_dates_for(run_date, settings)
    late = [d for d in dates if d + dt.timedelta(days=settings.horizon_days) > run_date]
    if late:
        raise TrainingDataError(
            f"{MODEL_NAME}: snapshot date(s) {late} have label windows ending after the run "
            f"date {run_date}; their opens are not known yet"
        )
    snapshots = load_customer_snapshots(
        store, dates, active_days=settings.active_days, products=rules.codes
    )
    rows = snapshots.rows
    opened = products_opened(
        snapshots.accounts, rows, products=rules.codes, horizon_days=settings.horizon_days
    )
    return OfferTrainingSet(
        customers=rows["customer_id"],
        snapshot_dates=rows["snapshot_date"],
        features=customer_features(rows),
        opened=opened,
        tables=snapshots.tables,
    )


def offer_scoring_set(
    store, *, score_date: dt.date, settings: OffersModelConfig, rules: OfferRules
) -> tuple[pd.Series, pd.DataFrame]:
    """customer_id and features of every customer active up to ``score_date``."""
    snapshots = load_customer_snapshots(
        store, [score_date], active_days=settings.active_days, products=rules.codes
    )
    return snapshots.rows["customer_id"], customer_features(snapshots.rows)


def train_offers(
    store,
    cfg,
    *,
    run_date: dt.date,
    promote: bool = False,
    rules: OfferRules | None = None,
) -> OfferTraining:
    """Fit the per-product models on the snapshots up to ``run_date``, log the run and
    register the model (models/model_runs.py: champion when first or promoted)."""
    from models.model_runs import log_and_register

    settings = cfg.models.offers
    rules = rules or load_offer_rules(cfg.conf_dir)
    training = offer_training_set(store, run_date=run_date, settings=settings, rules=rules)
    model = fit_offers(
        training.features,
        training.opened,
        training.snapshot_dates,
        rules=rules,
        settings=settings,
    )
    metrics = {"rows": len(training.features)}
    for code, product in model.products.items():
        metrics |= {
            f"{code}.positives": product.positives,
            f"{code}.base_rate": product.base_rate,
            f"{code}.validation_roc_auc": product.validation_auc,
        }
    aucs = [p.validation_auc for p in model.products.values() if np.isfinite(p.validation_auc)]
    metrics["mean_validation_roc_auc"] = float(np.mean(aucs)) if aucs else float("nan")
    registered = log_and_register(
        cfg,
        name=MODEL_NAME,
        model=model,
        params={**settings.model_dump(), "features": model.features},
        metrics=metrics,
        lineage={
            "run_date": run_date.isoformat(),
            "snapshot_dates": sorted({str(d) for d in training.snapshot_dates}),
            "tables": training.tables,
        },
        input_example=training.features.head(5),
        run_name=f"{MODEL_NAME} {run_date}",
        promote=promote,
        documents={
            "rules.json": rules.model_dump(),
            "products.json": {
                code: {"kind": p.kind, "positives": p.positives, "rows": p.rows}
                for code, p in model.products.items()
            },
        },
    )
    return OfferTraining(model, registered, training)
