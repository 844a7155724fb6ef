"""The score job end to end on generator data: a model registered in MLflow under an alias,
features materialized in the feature store, scores written to Delta and to the Parquet export
and read back with independent readers (delta-rs, DuckDB), against in-process prediction on
the offline tables' rows for the date."""

from __future__ import annotations

import dataclasses
import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import xgboost as xgb
from deltalake import DeltaTable

from bench.generated_silver import silver_accounts, silver_transactions
from feature_store import FeatureStore
from jobs import score
from lakehouse import load_config
from lakehouse.delta import Warehouse
from lakehouse.errors import ModelInputError, ModelNotFoundError
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.jobs import EXIT_NO_MODEL
from lakehouse.run import RunContext
from models.bundle import ClassifierBundle, log_bundle
from models.training_set import model_features
from schemas.scores import CHURN_SCORES
from schemas.shop import SILVER_SHOP
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.integration

SPEC = GeneratorSpec(customers=200, days=35, seed=23, defect_rate=0.0)
DAY = SPEC.start_date + dt.timedelta(days=SPEC.days - 1)
EARLIER = DAY - dt.timedelta(days=1)
VIEWS = ("customer_spend", "customer_activity")


@pytest.fixture(scope="module")
def job_cfg(test_environ, tmp_path_factory):
    home = tmp_path_factory.mktemp("score-job-home")
    return load_config("local", environ={**test_environ, "LAKEHOUSE_HOME": str(home)})


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("score-job-data")
    return generate(SPEC, landing=root / "landing", truth=root / "truth")


@pytest.fixture(scope="module")
def store(spark, job_cfg, generated, tmp_path_factory) -> FeatureStore:
    path = tmp_path_factory.mktemp("score-job-silver") / "transactions.parquet"
    pq.write_table(silver_transactions(generated), path)
    rows = spark.read.schema(SILVER_TRANSACTIONS.schema).parquet(str(path))
    warehouse = Warehouse.from_config(job_cfg)
    warehouse.create(SILVER_TRANSACTIONS).write(rows, mode="overwrite")
    accounts = spark.createDataFrame(
        silver_accounts(generated).to_pandas(), SILVER_SHOP["accounts"].schema
    )
    warehouse.create(SILVER_SHOP["accounts"]).write(accounts, mode="overwrite")
    store = FeatureStore(spark, job_cfg)
    store.materialize(DAY, views=list(VIEWS))
    return store


def active_on(generated, day: dt.date) -> list[str]:
    """Customers with a transaction in the 30 days up to ``day`` and an account open at its
    end (closed on the day of its closing version), from the generator's rows."""
    txns = silver_transactions(generated)
    since = day - dt.timedelta(days=30)
    in_window = pc.and_(pc.greater(txns["txn_date"], since), pc.less_equal(txns["txn_date"], day))
    active = set(txns.filter(in_window)["customer_id"].to_pylist())
    holding = {
        row["customer_id"]
        for row in silver_accounts(generated).to_pylist()
        if row["opened_date"] <= day
        and not (row["status"] == "closed" and row["updated_at"].date() <= day)
    }
    return sorted(active & holding)


def offline_features(store, generated, day: dt.date) -> pd.DataFrame:
    """The active customers with the views' values of ``day``'s offline partition (delta-rs)."""
    frame = pd.DataFrame({"customer_id": active_on(generated, day)})
    for view in VIEWS:
        table = DeltaTable(store.warehouse.uri_for(f"features.{view}"))
        values = table.to_pandas(filters=[("feature_date", "=", day)])
        names = list(store.registry.view(view).feature_names)
        frame = frame.merge(values[["customer_id", *names]], on="customer_id", how="left")
    features = model_features(store.registry, VIEWS)
    return frame[["customer_id", *features]].astype({f: "float64" for f in features})


@pytest.fixture(scope="module")
def bundle(job_cfg, store, generated) -> ClassifierBundle:
    """A tiny booster on the date's rows, logged and registered as churn@champion."""
    import mlflow

    from models.tracking import connect, experiment_id

    rows = offline_features(store, generated, DAY)
    features = model_features(store.registry, VIEWS)
    matrix = rows[list(features)].to_numpy(dtype=np.float32, na_value=np.nan)
    labels = (rows["spend_sum_30d"] < rows["spend_sum_30d"].median()).astype(np.float32)
    params = {"max_depth": 3, "objective": "binary:logistic", "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(matrix, labels, missing=np.nan), num_boost_round=8)
    described = {f.name: f.description for v in VIEWS for f in store.registry.view(v).features}
    trained = ClassifierBundle(
        booster=booster,
        feature_names=features,
        calibration_x=np.array([0.0, 0.5, 1.0]),
        calibration_y=np.array([0.0, 0.4, 1.0]),
        labels={name: described[name] for name in features},
    )
    client = connect(job_cfg)
    with mlflow.start_run(experiment_id=experiment_id(client, job_cfg)):
        logged = log_bundle(trained, name="churn", input_example=rows.head(5))
    version = mlflow.register_model(logged.model_uri, "churn")
    client.set_registered_model_alias("churn", "champion", version.version)
    return trained


def delta_rows(job_cfg, day: dt.date) -> list[dict]:
    """The date's rows as delta-rs reads them (the independent reader), by customer."""
    table = DeltaTable(Warehouse.from_config(job_cfg).uri_for(CHURN_SCORES.name))
    rows = table.to_pyarrow_table(filters=[("score_date", "=", day)]).to_pylist()
    return sorted(rows, key=lambda r: r["customer_id"])


def exported(job_cfg) -> list[tuple]:
    """Every exported row as DuckDB reads the Hive-partitioned Parquet directory."""
    glob = str(job_cfg.path("exports") / "churn_scores" / "*" / "*.parquet")
    query = (
        "SELECT score_date, customer_id, score, decile, reason_1, reason_method "
        "FROM read_parquet(?, hive_partitioning = true, hive_types = {'score_date': DATE}) "
        "ORDER BY score_date, customer_id"
    )
    return duckdb.execute(query, [glob]).fetchall()


def as_exported(rows: list[dict]) -> list[tuple]:
    keys = ("score_date", "customer_id", "score", "decile", "reason_1", "reason_method")
    return [tuple(r[k] for k in keys) for r in rows]


def earlier_scores(spark, job_cfg) -> list[dict]:
    """Rows of another date, in the Delta table and the export, that scoring DAY must keep."""
    rows = [
        (EARLIER, f"C-old-{i}", i / 10, i + 1, "churn", "0", "x", None, None, "exact")
        for i in range(3)
    ]
    frame = spark.createDataFrame(rows, CHURN_SCORES.schema)
    table = Warehouse.from_config(job_cfg).create(CHURN_SCORES)
    table.write(frame, mode="replace_where", predicate=f"score_date = DATE'{EARLIER}'")
    score.export_parquet(frame, job_cfg.path("exports") / "churn_scores", score_date=EARLIER)
    return delta_rows(job_cfg, EARLIER)


@pytest.fixture(scope="module")
def scored(spark, job_cfg, bundle, store) -> dict:
    """Another date's rows, then the day scored twice."""
    results = {"earlier_rows": earlier_scores(spark, job_cfg)}
    results["first"] = score.run(spark, job_cfg, context=RunContext.start("score", DAY))
    results["rows_after_first"] = delta_rows(job_cfg, DAY)
    results["files_after_first"] = sorted(results["first"].export_dir.iterdir())
    results["again"] = score.run(spark, job_cfg, context=RunContext.start("score", DAY))
    return results


def test_scores_equal_in_process_prediction_on_the_offline_rows(
    job_cfg, bundle, store, generated, scored
):
    local = offline_features(store, generated, DAY)
    want = dict(zip(local["customer_id"], bundle.predict_proba(bundle.matrix(local)), strict=True))
    got = {r["customer_id"]: r["score"] for r in delta_rows(job_cfg, DAY)}
    assert len(want) > 100
    assert got == want  # the same customers, float for float
    assert scored["first"].model == score.ModelRef("churn", "1")


def test_deciles_rank_the_scores_and_the_top_decile_has_exact_reasons(job_cfg, scored):
    rows = delta_rows(job_cfg, DAY)
    scores = np.array([r["score"] for r in rows])
    higher = (scores[None, :] > scores[:, None]).sum(axis=1)
    assert [r["decile"] for r in rows] == (1 + (10 * higher) // len(rows)).tolist()
    exact_deciles = job_cfg.models.scoring.exact_reason_deciles
    assert {(r["decile"] <= exact_deciles, r["reason_method"]) for r in rows} == {
        (True, "exact"),
        (False, "approximate"),
    }
    assert {(r["model_name"], r["model_version"]) for r in rows} == {("churn", "1")}
    readable = {r["reason_1"] for r in rows} - {None}
    assert readable
    assert not any(name.startswith(("spend_", "txn_")) for name in readable)  # labels, not names


def test_rescoring_a_date_replaces_its_rows_and_nothing_else(job_cfg, scored):
    rows = delta_rows(job_cfg, DAY)
    assert rows == scored["rows_after_first"]
    assert len({r["customer_id"] for r in rows}) == len(rows)
    assert delta_rows(job_cfg, EARLIER) == scored["earlier_rows"]
    assert scored["again"].rows == len(rows)
    # The export: each date once, equal to the Delta rows; the first run's files are gone.
    assert exported(job_cfg) == as_exported(scored["earlier_rows"]) + as_exported(rows)
    export_dir = scored["again"].export_dir
    assert export_dir.name == f"score_date={DAY}"
    assert not set(export_dir.iterdir()) & set(scored["files_after_first"])
    leftovers = [p.name for p in export_dir.parent.iterdir() if p.name.startswith("_")]
    assert leftovers == []


def test_a_missing_alias_or_model_is_a_clear_error(job_cfg, bundle):
    with pytest.raises(ModelNotFoundError, match=r"models:/churn@nobody.*lakehouse train"):
        score.resolve_model(job_cfg, "churn", alias="nobody")
    with pytest.raises(ModelNotFoundError, match=r"models:/attrition@champion"):
        score.resolve_model(job_cfg, "attrition", alias="champion")


def test_the_command_prints_a_missing_model_in_one_line(job_cfg, test_environ, monkeypatch, capsys):
    empty = job_cfg.home.parent / "score-job-empty-home"
    for key, value in {**test_environ, "LAKEHOUSE_HOME": str(empty)}.items():
        monkeypatch.setenv(key, value)
    assert score.main(["--model", "churn", "--run-date", str(DAY)]) == EXIT_NO_MODEL
    printed = capsys.readouterr().err  # with MLflow's own log lines creating the empty store
    (message,) = [line for line in printed.splitlines() if line.startswith("error:")]
    assert message.startswith("error: models:/churn@champion: no such registered model")
    assert "lakehouse train --model churn" in message
    assert "Traceback" not in printed


def test_model_features_absent_from_the_store_or_not_numbers_are_refused(spark, job_cfg, bundle):
    customers = spark.createDataFrame([("C1",)], "customer_id string")
    unknown = dataclasses.replace(bundle, feature_names=(*bundle.feature_names, "mood_30d"))
    with pytest.raises(ModelInputError, match=r"\['mood_30d'\] are not stored"):
        score.feature_rows(spark, job_cfg, customers, unknown, run_date=DAY)
    text = dataclasses.replace(bundle, feature_names=(*bundle.feature_names, "home_location"))
    with pytest.raises(ModelInputError, match="'home_location' is string, expected a number"):
        score.feature_rows(spark, job_cfg, customers, text, run_date=DAY)


def test_published_scores_reach_redshift_once(job_cfg, scored, local_services):
    import psycopg

    own = job_cfg.model_copy(
        update={
            "redshift": job_cfg.redshift.model_copy(update={"schema_name": "score_job"}),
            "s3": job_cfg.s3.model_copy(update={"scores_bucket": "t-score-job"}),
        }
    )
    for _ in range(2):
        summary = score._publish(own, CHURN_SCORES, run_date=DAY, targets=("s3", "redshift"))
    assert "s3://t-score-job/" in summary
    rs = own.redshift
    with psycopg.connect(host=rs.host, port=rs.port, user=rs.user, dbname=rs.database) as conn:
        found = conn.execute(
            "SELECT customer_id, score FROM score_job.churn_scores WHERE score_date = %s "
            "ORDER BY customer_id",
            (DAY,),
        ).fetchall()
    assert found == [(r["customer_id"], r["score"]) for r in delta_rows(job_cfg, DAY)]
