"""Merchant standardization measured against the generator's truth (goal >= 98%)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lakehouse.generate import GeneratorSpec, generate
from lakehouse.merchants import load_merchant_rules, normalize_merchant, standardize_merchants

pytestmark = pytest.mark.integration

CONF = Path(__file__).parents[2] / "conf"


def test_standardization_matches_truth_on_generated_transactions(spark, tmp_path):
    data = generate(
        GeneratorSpec(
            customers=500, days=20, seed=3, start_date=dt.date(2024, 2, 1), defect_rate=0.0
        ),
        landing=tmp_path / "landing",
        truth=tmp_path / "truth",
    )
    truth = spark.read.parquet(str(data.truth / "merchants.parquet"))
    raws = spark.createDataFrame(data.transactions.select(["merchant_raw"]).to_pandas())
    predicted = standardize_merchants(raws, load_merchant_rules(CONF))
    scored = predicted.join(truth, on="merchant_raw", how="left").select(
        (normalize_merchant("merchant") == normalize_merchant("canonical_merchant")).alias(
            "merchant_ok"
        ),
        (F.col("merchant_category") == F.col("category")).alias("category_ok"),
    )
    accuracy = scored.agg(
        F.avg(F.col("merchant_ok").cast("double")).alias("merchant"),
        F.avg(F.col("category_ok").cast("double")).alias("category"),
        F.count("*").alias("rows"),
    ).first()
    print(
        f"merchant accuracy {accuracy['merchant']:.4f}, category {accuracy['category']:.4f} "
        f"over {accuracy['rows']:,} transactions"
    )
    assert accuracy["merchant"] >= 0.98
    assert accuracy["category"] >= 0.98
