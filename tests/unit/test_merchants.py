"""Raw card-statement strings map to canonical merchants with the rules in conf/."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.errors import ConfigError
from lakehouse.merchants import MerchantRules, load_merchant_rules, standardize_merchants

pytestmark = pytest.mark.unit

CONF = Path(__file__).parents[2] / "conf"
CASES = [
    ("AMZN Mktp US*2K3", "Amazon", "shopping"),
    ("Amazon.com", "Amazon", "shopping"),
    ("AMAZON PRIME", "Amazon", "subscription"),
    ("Amazon Prime*7QX", "Amazon", "subscription"),
    ("UBER *EATS Q1W", "Uber Eats", "dining"),
    ("UBER *TRIP Q1W", "Uber", "transport"),
    ("H & M Hennes & Mauritz", "H&M", "shopping"),
    ("dm-drogerie markt", "dm", "health"),
    ("McDonald's Restaurant", "McDonald's", "dining"),
    ("APPLE.COM/BILL", "Apple", "subscription"),
    ("APPLE STORE R123", "Apple", "electronics"),
    ("  lidl   sagt danke ", "Lidl", "groceries"),
    ("Café Unbekannt", "CAFÉ UNBEKANNT", "dining"),
    ("SUMUP *Bäckerei Roth", "BÄCKEREI ROTH", "groceries"),
    ("ACME GMBH PAYROLL", "ACME GMBH", "salary"),
    ("Haus Verwaltung rent", "HAUS VERWALTUNG", "rent"),
    ("ZZ 1234", "ZZ", "other"),
    (None, None, "other"),
]


def test_raw_strings_map_to_canonical_merchants(spark):
    raw = spark.createDataFrame([(c[0],) for c in CASES], "merchant_raw string")
    got = standardize_merchants(raw, load_merchant_rules(CONF)).collect()
    assert [(r["merchant_raw"], r["merchant"], r["merchant_category"]) for r in got] == CASES


def test_a_prefix_claimed_by_two_merchants_is_refused():
    rules = MerchantRules.model_validate(
        {
            "merchants": [
                {"name": "A", "category": "x", "prefixes": ["ABC"]},
                {"name": "B", "category": "x", "prefixes": ["abc"]},
            ]
        }
    )
    with pytest.raises(ConfigError, match="'ABC' maps to both A and B"):
        rules.by_prefix()
