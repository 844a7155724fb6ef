"""Next-best-offer rules on hand-built frames: the conf/offers.yaml loader and its errors,
eligibility per rule, ranking, and that a recommendation never holds an ineligible or
already-held product."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lakehouse.config import DEFAULT_CONF_DIR
from lakehouse.errors import ConfigError, ModelInputError
from models.offer_reasons import describe
from models.offers import (
    BASE_FEATURES,
    LOGISTIC,
    POPULARITY,
    QUANTILES,
    OfferModel,
    OfferRules,
    ProductModel,
    ProductRule,
    eligibility,
    load_offer_rules,
    offer_rows,
    rank_offers,
)
from models.scoring import ModelRef
from schemas.scores import NEXT_BEST_OFFERS

pytestmark = pytest.mark.unit

RULES = OfferRules(
    max_offers=2,
    products={
        "SAVINGS": ProductRule(name="savings account"),
        "CARD": ProductRule(name="credit card", min_age=18, min_credit_band="fair"),
        "LOAN": ProductRule(
            name="loan", min_age=21, max_age=65, min_monthly_income=1500, min_credit_band="good"
        ),
    },
)
CREDIT = {"poor": 0.0, "fair": 1.0, "good": 2.0, "very_good": 3.0, "excellent": 4.0}


def customers(*rows: tuple) -> pd.DataFrame:
    """(age, monthly_income, credit band, held products) per customer."""
    frame = pd.DataFrame(
        [
            {
                "age": age,
                "monthly_income": income,
                "credit_band": CREDIT.get(band, np.nan),
                **{f"held_{code}": float(code in held) for code in RULES.codes},
            }
            for age, income, band, held in rows
        ]
    )
    return frame


def test_the_repository_rules_load():
    rules = load_offer_rules(DEFAULT_CONF_DIR)
    assert rules.max_offers == 3
    assert rules.codes == ("SAVINGS", "CREDIT_CARD", "PERSONAL_LOAN", "MORTGAGE", "INVESTMENT")
    assert rules.products["MORTGAGE"] == ProductRule(
        name="mortgage", min_age=21, max_age=65, min_monthly_income=1800, min_credit_band="good"
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("max_offers: 4\nproducts: {A: {name: a}}\n", "max_offers"),
        ("products: {A: {name: a, min_credit_band: great}}\n", "products.A.min_credit_band"),
        ("products: {A: {name: a, minimum_age: 3}}\n", "products.A.minimum_age"),
        ("products: {}\n", "products"),
        ("max_offers: 3\n", "products"),
    ],
)
def test_a_bad_rules_file_names_the_file_and_the_key(tmp_path: Path, text: str, key: str):
    (tmp_path / "offers.yaml").write_text(text)
    with pytest.raises(ConfigError, match=rf"offers\.yaml: '{key}'"):
        load_offer_rules(tmp_path)


def test_a_missing_rules_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"offers\.yaml: cannot read the offer rules"):
        load_offer_rules(tmp_path)


def test_each_rule_and_holding_decides_eligibility():
    rows = customers(
        (30, 2000.0, "good", ()),  # everything
        (17, 2000.0, "good", ()),  # too young for card and loan
        (70, 2000.0, "good", ()),  # too old for the loan
        (30, 1000.0, "good", ()),  # income too low for the loan
        (30, 2000.0, "fair", ()),  # band too low for the loan
        (30, 2000.0, "poor", ()),  # band too low for card and loan
        (np.nan, 2000.0, "good", ()),  # unknown age: no product with an age rule
        (30, 2000.0, None, ()),  # unknown band: no product with a band rule
        (30, np.nan, "good", ()),  # no income detected counts as 0
        (30, 2000.0, "good", ("SAVINGS", "LOAN")),  # held products are never eligible
    )
    want = pd.DataFrame(
        [
            (True, True, True),
            (True, False, False),
            (True, True, False),
            (True, True, False),
            (True, True, False),
            (True, False, False),
            (True, False, False),
            (True, False, False),
            (True, True, False),
            (False, True, False),
        ],
        columns=list(RULES.codes),
    )
    pd.testing.assert_frame_equal(eligibility(rows, RULES), want)


def test_eligibility_needs_the_rule_columns():
    with pytest.raises(ModelInputError, match=r"offers: input rows lack column\(s\) \['age'\]"):
        eligibility(pd.DataFrame({"monthly_income": [1.0], "credit_band": [2.0]}), RULES)


def test_ranking_takes_eligible_products_by_propensity_and_stops_at_max_offers():
    propensity = pd.DataFrame(
        {"SAVINGS": [0.1, 0.3, 0.5], "CARD": [0.2, 0.3, 0.9], "LOAN": [0.3, 0.1, 0.8]},
        index=[10, 11, 12],
    )
    eligible = pd.DataFrame(
        {"SAVINGS": [True, True, False], "CARD": [True, True, False], "LOAN": [False, True, False]},
        index=[10, 11, 12],
    )
    got = rank_offers(propensity, eligible, max_offers=2)
    want = pd.DataFrame(
        {
            "row": [10, 10, 11, 11],
            "rank": np.array([1, 2, 1, 2], dtype=np.int32),
            # Row 11: SAVINGS and CARD tie at 0.3; the rules' order decides.
            "product_code": ["CARD", "SAVINGS", "SAVINGS", "CARD"],
        }
    )
    pd.testing.assert_frame_equal(got, want)


def offer_model() -> OfferModel:
    names = (*BASE_FEATURES, *(f"held_{c}" for c in RULES.codes))
    coef = np.zeros(len(names))
    coef[names.index("log_income")] = 1.0
    coef[names.index("share_travel_90d")] = 0.5
    products = {
        "SAVINGS": ProductModel(
            "SAVINGS", POPULARITY, np.zeros(len(names)), -3.0, 0.05, 3, 60, np.full(101, 0.05)
        ),
        "CARD": ProductModel(
            "CARD", LOGISTIC, coef, -2.0, 0.1, 20, 200, np.linspace(0.0, 0.5, QUANTILES.size)
        ),
        "LOAN": ProductModel(
            "LOAN", LOGISTIC, -coef, -1.0, 0.1, 20, 200, np.linspace(0.0, 0.5, QUANTILES.size)
        ),
    }
    return OfferModel(
        names, np.zeros(len(names)), np.ones(len(names)), {}, products, RULES, horizon_days=30
    )


def customer_frame(size: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=size) for name in BASE_FEATURES})
    frame["share_travel_90d"] = rng.random(size)
    frame["age"] = rng.integers(15, 80, size).astype(float)
    frame["credit_band"] = rng.integers(0, 5, size).astype(float)
    frame["monthly_income"] = rng.choice([0.0, 800.0, 1600.0, 3200.0], size)
    for code in RULES.codes:
        frame[f"held_{code}"] = (rng.random(size) < 0.3).astype(float)
    return frame


def test_offers_never_include_an_ineligible_or_held_product():
    frame = customer_frame(500, seed=3)
    offers = offer_model().recommend(frame)
    allowed = eligibility(frame, RULES)
    offered = allowed.to_numpy()[
        frame.index.get_indexer(offers["row"]),
        [RULES.codes.index(c) for c in offers["product_code"]],
    ]
    assert offered.all()
    held = frame[[f"held_{c}" for c in RULES.codes]].to_numpy()
    assert not held[offers["row"], [RULES.codes.index(c) for c in offers["product_code"]]].any()
    # Each customer gets every eligible product up to max_offers, ranks 1..n.
    expected = allowed.sum(axis=1).clip(upper=RULES.max_offers)
    assert offers.groupby("row").size().reindex(frame.index, fill_value=0).equals(expected)
    assert (
        offers.groupby("row")["rank"].apply(list)
        == offers.groupby("row")["rank"].apply(lambda r: list(range(1, len(r) + 1)))
    ).all()
    assert offers["confidence"].between(0, 100).all()


def test_rules_passed_at_scoring_replace_the_trained_ones():
    frame = customer_frame(200, seed=4)
    strict = OfferRules(max_offers=1, products={"SAVINGS": ProductRule(name="savings account")})
    offers = offer_model().recommend(frame, rules=strict)
    assert set(offers["product_code"]) <= {"SAVINGS"}
    assert offers["row"].is_unique


def test_confidence_and_reason_of_a_logistic_and_a_popularity_product():
    frame = customer_frame(1, seed=5).assign(
        log_income=2.0, monthly_income=3200.0, share_travel_90d=0.24, age=40.0, credit_band=3.0,
        **{f"held_{c}": 0.0 for c in RULES.codes},
    )  # fmt: skip
    offers = offer_model().recommend(frame)
    card = offers[offers["product_code"] == "CARD"].iloc[0]
    # sigmoid(2.0 + 0.5 * 0.24 - 2.0) = 0.53 is above every training quantile (0..0.5).
    assert card["confidence"] == 100
    assert card["reason"] == (
        "credit card: a regular income of EUR 3,200 a month and travel is 24% of spending over "
        "90 days"
    )
    savings = offers[offers["product_code"] == "SAVINGS"].iloc[0]
    assert savings["confidence"] == 50
    assert savings["reason"].startswith("savings account: among the products")


def test_feature_descriptions_read_the_customers_values():
    row = pd.Series(
        {"monthly_income": 0.0, "net_flow_30d": -120.0, "credit_band": 0.0, "tenure_years": 0.4}
    )
    assert describe("log_income", row, RULES) == "no regular income detected"
    assert describe("log_net_flow_30d", row, RULES) == (
        "EUR 120 more went out than came in over 30 days"
    )
    assert describe("credit_band", row, RULES) == "credit score band poor"
    assert describe("tenure_years", row, RULES) == "a customer for less than a year"
    assert describe("held_CARD", pd.Series({"held_CARD": 1.0}), RULES) == "holds a credit card"


def test_recommending_without_a_feature_column_is_a_typed_error():
    frame = customer_frame(3, seed=6).drop(columns="log_income")
    with pytest.raises(ModelInputError, match=r"\['log_income'\]"):
        offer_model().recommend(frame)


def test_offer_rows_have_the_contracts_columns():
    frame = customer_frame(20, seed=7)
    ids = pd.Series([f"C{i:03d}" for i in range(20)])
    rows = offer_rows(
        ids,
        frame,
        offer_model(),
        score_date=dt.date(2024, 3, 31),
        model_ref=ModelRef("offers", "2"),
    )
    assert list(rows.columns) == list(NEXT_BEST_OFFERS.column_names)
    assert rows["customer_id"].str.startswith("C").all()
    assert set(rows["model_version"]) == {"2"}
    assert not rows.duplicated(["customer_id", "rank"]).any()
