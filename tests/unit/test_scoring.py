"""Batch scoring on tiny frames: the same probabilities as in-process prediction, deciles as a
brute-force ranking gives them, reason codes exact or approximate by decile, clear errors
before Spark runs anything, and the bundle rebuilt once per Python worker."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from lakehouse.config import ScoringConfig
from lakehouse.errors import ConfigError, ModelInputError
from models import scoring
from models.bundle import ClassifierBundle
from models.scoring import (
    ModelRef,
    arrow_batch_size,
    assign_deciles,
    decile_thresholds,
    predict_scores,
    score_churn,
)
from schemas.scores import CHURN_SCORES

pytestmark = pytest.mark.unit

FEATURES = ("spend_30d", "txn_count_30d", "has_regular_income", "balance")
# No label for balance: a reason then shows the feature's own name.
LABELS = {
    "spend_30d": "spend, 30 days",
    "txn_count_30d": "transactions, 30 days",
    "has_regular_income": "regular income",
}
SCHEMA = (
    "customer_id string, spend_30d double, txn_count_30d long, has_regular_income boolean, "
    "balance double"
)
MODEL = ModelRef("churn", "7")
DAY = dt.date(2024, 5, 1)
CUSTOMERS = 400


def python_rows(seed: int, count: int) -> list[tuple]:
    """Customers with NULLs in every feature column, counts as longs, a boolean."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        spend = None if i % 9 == 0 else float(rng.gamma(2.0, 300.0))
        count_30d = None if i % 11 == 0 else int(rng.poisson(20))
        income = None if i % 13 == 0 else bool(rng.random() < 0.6)
        balance = None if i % 17 == 0 else float(rng.normal(1_000, 800))
        rows.append((f"C{i:05d}", spend, count_30d, income, balance))
    return rows


def in_process_frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", *FEATURES])


@pytest.fixture(scope="module")
def bundle() -> ClassifierBundle:
    train = in_process_frame(python_rows(1, 600))
    x = train[list(FEATURES)].to_numpy(dtype=np.float32, na_value=np.nan)
    risk = np.nan_to_num(-x[:, 0] / 600 - x[:, 1] / 20 - x[:, 2] + x[:, 3] / 1_000)
    labels = (risk + np.random.default_rng(2).normal(size=len(x)) > -2).astype(np.float32)
    params = {"max_depth": 3, "eta": 0.3, "objective": "binary:logistic", "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(x, labels, missing=np.nan), num_boost_round=12)
    # A flat stretch in the calibration gives tied scores, which deciles must keep together.
    return ClassifierBundle(
        booster=booster,
        feature_names=FEATURES,
        calibration_x=np.array([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
        calibration_y=np.array([0.0, 0.05, 0.3, 0.3, 0.9, 1.0]),
        labels=LABELS,
    )


@pytest.fixture(scope="module")
def rows(spark):
    return python_rows(3, CUSTOMERS)


@pytest.fixture(scope="module")
def frame(spark, rows):
    return spark.createDataFrame(rows, SCHEMA).repartition(3)


@pytest.fixture(scope="module")
def expected(bundle, rows) -> dict[str, float]:
    """In-process probabilities, the booster called directly on the same rows."""
    local = in_process_frame(rows)
    return dict(zip(local["customer_id"], bundle.predict_proba(bundle.matrix(local)), strict=True))


@pytest.fixture(scope="module")
def churn_rows(frame, bundle) -> dict[str, dict]:
    settings = ScoringConfig(exact_reason_deciles=2)
    scored = score_churn(frame, bundle, model=MODEL, score_date=DAY, settings=settings)
    return {r["customer_id"]: r.asDict() for r in scored.collect()}


def test_batch_scores_equal_in_process_predictions(frame, bundle, expected):
    got = predict_scores(frame, bundle, model=MODEL).collect()
    assert len(got) == CUSTOMERS
    assert {r["customer_id"]: r["score"] for r in got} == expected  # exactly, float for float


def test_churn_rows_follow_the_contract(frame, bundle, churn_rows, expected):
    settings = ScoringConfig()
    scored = score_churn(frame, bundle, model=MODEL, score_date=DAY, settings=settings)
    assert [(f.name, f.dataType) for f in scored.schema.fields] == [
        (f.name, f.dataType) for f in CHURN_SCORES.schema.fields
    ]
    assert {r["customer_id"]: r["score"] for r in churn_rows.values()} == expected
    assert {
        (r["score_date"], r["model_name"], r["model_version"]) for r in churn_rows.values()
    } == {(DAY, "churn", "7")}


def test_deciles_match_a_brute_force_ranking(churn_rows, expected):
    ids = sorted(expected)
    scores = np.array([expected[c] for c in ids])
    higher = (scores[None, :] > scores[:, None]).sum(axis=1)  # rows scoring strictly higher
    want = 1 + (10 * higher) // len(scores)
    assert [churn_rows[c]["decile"] for c in ids] == want.tolist()
    assert len(set(scores)) < len(scores)  # ties were present and kept in one decile
    assert len(set(want)) >= 8  # a tie across a boundary leaves a decile empty


@pytest.mark.parametrize(
    "values",
    [
        [0.5] * 15,
        [0.9, 0.1, 0.4],
        [0.3],
        np.round(np.random.default_rng(4).random(257), 2).tolist(),
    ],
    ids=["all-tied", "three-rows", "one-row", "rounded-with-ties"],
)
def test_decile_cut_points_match_a_brute_force_ranking(spark, values):
    thresholds = decile_thresholds(spark.createDataFrame([(v,) for v in values], "score double"))
    scores = np.array(values)
    higher = (scores[None, :] > scores[:, None]).sum(axis=1)
    assert (
        assign_deciles(scores, thresholds).tolist() == (1 + (10 * higher) // len(values)).tolist()
    )


def test_no_rows_no_cut_points(spark):
    assert decile_thresholds(spark.createDataFrame([], "score double")) == ()


def oracle_reasons(bundle: ClassifierBundle, row: dict, *, approximate: bool) -> list[str | None]:
    """The features with positive contributions, largest first, by XGBoost called directly."""
    x = np.array([[np.nan if row[n] is None else row[n] for n in FEATURES]], dtype=np.float32)
    dmatrix = xgb.DMatrix(x, feature_names=list(FEATURES), missing=np.nan)
    both = bundle.booster.predict(dmatrix, pred_contribs=True, approx_contribs=approximate)[0]
    ranked = sorted((-v, i) for i, v in enumerate(both[:-1]) if v > 0)
    names = [LABELS.get(FEATURES[i], FEATURES[i]) for _, i in ranked[:3]]
    return names + [None] * (3 - len(names))


def test_reasons_are_exact_in_the_top_deciles_and_approximate_elsewhere(bundle, rows, churn_rows):
    by_id = {r[0]: dict(zip(["customer_id", *FEATURES], r, strict=True)) for r in rows}
    methods = set()
    for customer, got in churn_rows.items():
        exact = got["decile"] <= 2
        methods.add((got["decile"], got["reason_method"]))
        want = oracle_reasons(bundle, by_id[customer], approximate=not exact)
        assert [got["reason_1"], got["reason_2"], got["reason_3"]] == want, customer
    assert {m for d, m in methods if d <= 2} == {"exact"}
    assert {m for d, m in methods if d > 2} == {"approximate"}
    assert {d for d, _ in methods} >= {1, 2, 3, 10}
    reasons = [r["reason_1"] for r in churn_rows.values()]
    assert None in reasons  # nothing pushed the score up
    assert "balance" in reasons  # a feature without a label shows its name


def test_fewer_reason_codes_leave_the_later_columns_empty(frame, bundle, churn_rows):
    settings = ScoringConfig(exact_reason_deciles=2, reason_codes=1)
    got = score_churn(frame, bundle, model=MODEL, score_date=DAY, settings=settings).collect()
    assert {r["customer_id"]: r["reason_1"] for r in got} == {
        customer: row["reason_1"] for customer, row in churn_rows.items()
    }
    assert {(r["reason_2"], r["reason_3"]) for r in got} == {(None, None)}


def test_more_reason_codes_than_the_contract_holds_is_a_config_error(frame, bundle):
    settings = ScoringConfig(reason_codes=4)
    with pytest.raises(ConfigError, match=r"reason_codes is 4; gold\.churn_scores holds 3"):
        score_churn(frame, bundle, model=MODEL, score_date=DAY, settings=settings)


def test_exact_and_approximate_contributions_can_differ(bundle, rows):
    """Why the method matters: Saabas' path attributions are not TreeSHAP's."""
    local = in_process_frame(rows)
    matrix = bundle.matrix(local)
    exact = bundle.contributions(matrix, approximate=False)
    approximate = bundle.contributions(matrix, approximate=True)
    assert not np.allclose(exact, approximate)
    np.testing.assert_allclose(exact.sum(axis=1), approximate.sum(axis=1), rtol=1e-4, atol=1e-4)


def jobs_run_during(spark, action) -> tuple[pytest.ExceptionInfo, list[int]]:
    group = f"scoring-check-{uuid.uuid4().hex}"
    spark.sparkContext.setJobGroup(group, "checks that must not start a job")
    try:
        with pytest.raises(ModelInputError) as raised:
            action()
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
    return raised, spark.sparkContext.statusTracker().getJobIdsForGroup(group)


def test_a_missing_feature_column_is_refused_before_any_spark_job(spark, frame, bundle):
    without = frame.drop("balance")
    raised, jobs = jobs_run_during(
        spark,
        lambda: score_churn(without, bundle, model=MODEL, score_date=DAY, settings=ScoringConfig()),
    )
    assert "lacks column(s) ['balance']" in str(raised.value)
    assert jobs == []


def test_a_string_feature_is_refused_before_any_spark_job(spark, frame, bundle):
    texts = frame.withColumn("txn_count_30d", frame["txn_count_30d"].cast("string"))
    raised, jobs = jobs_run_during(spark, lambda: predict_scores(texts, bundle, model=MODEL))
    assert "'txn_count_30d' is string, expected a number" in str(raised.value)
    assert jobs == []


def test_the_bundle_is_rebuilt_once_per_python_worker(spark, frame, bundle):
    shipped = scoring._ship(bundle, ModelRef("churn", f"probe-{uuid.uuid4().hex}"))

    def probe(batches):
        import os

        import pyarrow as pa

        from models import scoring as worker_scoring

        for batch in batches:
            cached = shipped.key in worker_scoring._WORKER_BUNDLES
            built = worker_scoring._worker_bundle(shipped)
            yield pa.RecordBatch.from_pydict(
                {
                    "pid": [os.getpid()],
                    "cached": [cached],
                    "bundle": [id(built)],
                    "rows": [batch.num_rows],
                }
            )

    with arrow_batch_size(spark, 7):
        seen = frame.repartition(8).mapInArrow(
            probe, "pid long, cached boolean, bundle long, rows long"
        )
        found = seen.collect()
    by_worker: dict[int, list] = {}
    for r in found:
        by_worker.setdefault(r["pid"], []).append(r)
    for batches in by_worker.values():
        assert [b["cached"] for b in batches].count(False) == 1  # built by its first batch only
        assert len({b["bundle"] for b in batches}) == 1
    assert max(r["rows"] for r in found) <= 7
    assert sum(r["rows"] for r in found) == CUSTOMERS


def test_arrow_batch_size_is_restored(spark):
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    before = spark.conf.get(key)
    with arrow_batch_size(spark, 123):
        assert spark.conf.get(key) == "123"
    assert spark.conf.get(key) == before
