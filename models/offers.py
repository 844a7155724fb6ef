"""Next-best offers: a propensity model per product, eligibility rules from conf/offers.yaml,
up to ``max_offers`` ranked offers per customer with a 0-100 confidence and a reason.

    rules = load_offer_rules(cfg.conf_dir)
    model = fit_offers(features, opened, snapshot_dates, rules=rules, settings=cfg.models.offers)
    model.recommend(features, rules=rules)    # row, rank, product_code, confidence, reason
    offer_rows(customers, features, model, rules=rules, score_date=d, model_ref=ref)

Labels come from the pipeline's own data: a customer not holding a product on a snapshot date
D who opens it in (D, D + horizon] (silver.accounts) is a positive for that product. Each
product gets an L2 logistic regression on the standardized customer features (a few dozen
opens per product at most: a small model, strongly regularized); a product with fewer than
``min_positives`` opens is ranked by its popularity (open rate) alone.

Ranking: the eligible products a customer does not hold, by propensity (the chance of opening
it within the horizon), best first. Confidence: where the customer's propensity for the
product falls among the training customers' (a percentile: 90 = above 90% of them; 50 for a
product ranked by popularity only). Reason: the two features that raise this customer's
propensity the most (coefficient x standardized value), in words with the customer's values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from feature_store.transforms import SPEND_CATEGORIES
from lakehouse.config import OffersModelConfig
from lakehouse.errors import ConfigError, TrainingDataError
from models.offer_reasons import reason_text
from models.scoring import ModelRef
from models.snapshots import CREDIT_BANDS, require_columns
from schemas.scores import NEXT_BEST_OFFERS

__all__ = [
    "MODEL_NAME",
    "OfferModel",
    "OfferRules",
    "ProductRule",
    "eligibility",
    "fit_offers",
    "load_offer_rules",
    "offer_rows",
    "rank_offers",
]

MODEL_NAME = "offers"
RULES_FILE = "offers.yaml"
BASE_FEATURES = (
    *(f"share_{c}_30d" for c in SPEND_CATEGORIES),
    "share_travel_90d",
    "share_luxury_90d",
    "log_income",
    "log_spend_30d",
    "log_txn_30d",
    "log_net_flow_30d",
    "age",
    "credit_band",
    "income_band",
    "tenure_years",
)
RULE_COLUMNS = ("age", "monthly_income", "credit_band")
ROOTED_PREFIX = "share_"
QUANTILES = np.linspace(0.0, 1.0, 101)
POPULARITY, LOGISTIC = "popularity", "logistic"


class ProductRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    min_age: int | None = Field(default=None, ge=0)
    max_age: int | None = Field(default=None, ge=0)
    min_monthly_income: float | None = Field(default=None, ge=0)
    min_credit_band: Literal[CREDIT_BANDS] | None = None  # type: ignore[valid-type]


class OfferRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_offers: int = Field(default=3, ge=1, le=3)
    products: dict[str, ProductRule]

    @field_validator("products")
    @classmethod
    def _some_products(cls, value: dict[str, ProductRule]) -> dict[str, ProductRule]:
        if not value:
            raise ValueError("list at least one product")
        return value

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.products)


def load_offer_rules(conf_dir: Path) -> OfferRules:
    """conf_dir/offers.yaml as OfferRules; ConfigError naming the file and key otherwise."""
    path = Path(conf_dir) / RULES_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read the offer rules ({err})") from err
    try:
        return OfferRules.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ConfigError(
            f"{path}: '{where}': {first['msg']} (got {first.get('input')!r}); fix the file "
            "(its header says what each key means)"
        ) from None


def eligibility(features: pd.DataFrame, rules: OfferRules) -> pd.DataFrame:
    """One boolean column per product of ``rules``: the customer meets every rule given for it
    and does not hold it (``held_<product>``; a missing column means not held)."""
    require_columns(features, RULE_COLUMNS, model=MODEL_NAME)
    age, band = features["age"], features["credit_band"]
    income = features["monthly_income"].fillna(0.0)
    columns = {}
    for code, rule in rules.products.items():
        ok = pd.Series(True, index=features.index)
        if rule.min_age is not None:
            ok &= age.notna() & (age >= rule.min_age)
        if rule.max_age is not None:
            ok &= age.notna() & (age <= rule.max_age)
        if rule.min_monthly_income is not None:
            ok &= income >= rule.min_monthly_income
        if rule.min_credit_band is not None:
            ok &= band.notna() & (band >= CREDIT_BANDS.index(rule.min_credit_band))
        held = features.get(f"held_{code}")
        if held is not None:
            ok &= ~held.fillna(0).astype(bool)
        columns[code] = ok
    return pd.DataFrame(columns, index=features.index)


def rank_offers(
    propensity: pd.DataFrame, eligible: pd.DataFrame, *, max_offers: int
) -> pd.DataFrame:
    """row (the index of ``propensity``), rank (1 = best), product_code: each row's eligible
    products by propensity, highest first (ties: the order of the columns), at most
    ``max_offers``."""
    scores = propensity[eligible.columns].where(eligible.to_numpy())
    values = scores.to_numpy(dtype=np.float64)
    filled = np.where(np.isnan(values), -np.inf, values)
    order = np.argsort(-filled, axis=1, kind="stable")[:, :max_offers]
    picked = np.take_along_axis(filled, order, axis=1)
    rows, ranks = np.nonzero(np.isfinite(picked))
    return pd.DataFrame(
        {
            "row": scores.index.to_numpy()[rows],
            "rank": (ranks + 1).astype(np.int32),
            "product_code": np.asarray(eligible.columns)[order[rows, ranks]],
        }
    )


@dataclass(frozen=True)
class ProductModel:
    code: str
    kind: str  # LOGISTIC or POPULARITY
    coef: np.ndarray  # per feature of the OfferModel (zeros for POPULARITY)
    intercept: float
    base_rate: float  # open rate among the training rows not holding it
    positives: int
    rows: int
    quantiles: np.ndarray  # training propensities at QUANTILES
    validation_auc: float = float("nan")


@dataclass(frozen=True, eq=False)
class OfferModel:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    medians: dict[str, float]
    products: dict[str, ProductModel]
    rules: OfferRules  # the rules it was trained with; scoring may pass newer ones
    horizon_days: int

    def matrix(self, features: pd.DataFrame) -> np.ndarray:
        require_columns(features, self.features, model=MODEL_NAME)
        frame = features[list(self.features)].astype(float).fillna(self.medians)
        for name in self.features:
            if name.startswith(ROOTED_PREFIX):
                frame[name] = np.sqrt(frame[name].clip(lower=0.0))
        return (frame.to_numpy(dtype=np.float64) - self.mean) / self.scale

    def propensity(self, features: pd.DataFrame) -> pd.DataFrame:
        """Per product: the chance the customer opens it within the horizon."""
        values = self.matrix(features)
        return pd.DataFrame(
            {code: _sigmoid(values @ p.coef + p.intercept) for code, p in self.products.items()},
            index=features.index,
        )

    def recommend(self, features: pd.DataFrame, *, rules: OfferRules | None = None):
        """row, rank, product_code, confidence (0-100), reason: up to max_offers per row."""
        rules = rules or self.rules
        known = OfferRules(
            max_offers=rules.max_offers,
            products={c: r for c, r in rules.products.items() if c in self.products},
        )
        values = self.matrix(features)
        propensity = self.propensity(features)
        ranked = rank_offers(propensity, eligibility(features, known), max_offers=known.max_offers)
        positions = features.index.get_indexer(ranked["row"])
        confidence, reasons = [], []
        for position, code in zip(positions, ranked["product_code"], strict=True):
            product = self.products[code]
            chance = propensity.iloc[position][code]
            confidence.append(_percentile(product, chance))
            contributions = product.coef * values[position]
            reasons.append(
                reason_text(
                    code,
                    product.kind,
                    contributions,
                    values[position],
                    self.features,
                    features.iloc[position],
                    known,
                )
            )
        return ranked.assign(confidence=np.asarray(confidence, dtype=np.int32), reason=reasons)

    def predict_frame(self, features: pd.DataFrame) -> pd.DataFrame:
        return self.recommend(features.reset_index(drop=True))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _percentile(product: ProductModel, chance: float) -> int:
    if product.kind == POPULARITY:
        return 50
    return round(100 * float(np.interp(chance, product.quantiles, QUANTILES)))


def fit_offers(
    features: pd.DataFrame,
    opened: pd.DataFrame,
    snapshot_dates: pd.Series,
    *,
    rules: OfferRules,
    settings: OffersModelConfig,
) -> OfferModel:
    """Per product of ``rules``: rows not holding it on their snapshot date, label
    ``opened_<product>``. Validation ROC-AUC: fitted without the latest snapshot date and
    scored on it (when it has opens and there is an earlier date); the model keeps all dates."""
    names = (*BASE_FEATURES, *(f"held_{c}" for c in rules.codes))
    require_columns(features, names, model=MODEL_NAME)
    require_columns(opened, [f"opened_{c}" for c in rules.codes], model=MODEL_NAME)
    medians = {
        n: float(v) if np.isfinite(v) else 0.0 for n, v in features[list(names)].median().items()
    }
    shell = OfferModel(
        names, np.zeros(len(names)), np.ones(len(names)), medians, {}, rules, settings.horizon_days
    )
    raw = shell.matrix(features)
    mean, scale = raw.mean(axis=0), raw.std(axis=0)
    values = (raw - mean) / np.where(scale > 0, scale, 1.0)
    latest = snapshot_dates.to_numpy() == snapshot_dates.max()
    products = {}
    for code in rules.codes:
        candidates = ~features[f"held_{code}"].fillna(0).astype(bool).to_numpy()
        labels = opened[f"opened_{code}"].to_numpy(dtype=bool)
        product = _fit_product(code, values, labels, candidates, settings)
        auc = _validation_auc(values, labels, candidates, latest, settings)
        products[code] = replace(product, validation_auc=auc)
    if all(p.kind == POPULARITY for p in products.values()) and not any(
        p.positives for p in products.values()
    ):
        raise TrainingDataError(
            f"{MODEL_NAME}: no product of {list(rules.codes)} was opened after any snapshot "
            "date; train on more history or more customers"
        )
    return OfferModel(
        names,
        mean,
        np.where(scale > 0, scale, 1.0),
        medians,
        products,
        rules,
        settings.horizon_days,
    )


def _fit_product(code, values, labels, candidates, settings) -> ProductModel:
    from sklearn.linear_model import LogisticRegression

    x, y = values[candidates], labels[candidates]
    positives, rows = int(y.sum()), int(candidates.sum())
    base = positives / rows if rows else 0.0
    if positives < settings.min_positives or positives == rows:
        logit = float(np.log(max(base, 1e-6) / max(1 - base, 1e-6)))
        zero = np.zeros(values.shape[1])
        return ProductModel(
            code, POPULARITY, zero, logit, base, positives, rows, np.full(QUANTILES.size, base)
        )
    fitted = LogisticRegression(C=settings.regularization, max_iter=2000).fit(x, y)
    coef, intercept = fitted.coef_[0].copy(), float(fitted.intercept_[0])
    quantiles = np.quantile(_sigmoid(x @ coef + intercept), QUANTILES)
    return ProductModel(code, LOGISTIC, coef, intercept, base, positives, rows, quantiles)


def _validation_auc(values, labels, candidates, latest, settings) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    train, test = candidates & ~latest, candidates & latest
    y_train, y_test = labels[train], labels[test]
    if y_train.sum() < settings.min_positives or y_test.sum() == 0 or y_test.all():
        return float("nan")
    fitted = LogisticRegression(C=settings.regularization, max_iter=2000).fit(
        values[train], y_train
    )
    return float(roc_auc_score(y_test, fitted.decision_function(values[test])))


def offer_rows(
    customers: pd.Series,
    features: pd.DataFrame,
    model: OfferModel,
    *,
    score_date: dt.date,
    model_ref: ModelRef,
    rules: OfferRules | None = None,
) -> pd.DataFrame:
    """gold.next_best_offers rows for ``customers`` (aligned with ``features``)."""
    offers = model.recommend(features, rules=rules)
    who = customers.reindex(offers["row"]).to_numpy()
    rows = offers.drop(columns="row").assign(
        score_date=score_date,
        customer_id=who,
        model_name=model_ref.name,
        model_version=model_ref.version,
    )
    return rows[list(NEXT_BEST_OFFERS.column_names)].reset_index(drop=True)
