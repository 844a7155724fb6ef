"""Registered model + feature store -> its gold scores table and a Parquet export, for one run
date.

    lakehouse score --model churn|anomaly|segments|offers --run-date 2024-03-31
                    [--alias champion] [--publish [s3] [redshift]]
    spark-submit jobs/score.py --model churn --run-date 2024-03-31

Scores every customer who holds an open account at the end of the run date and made a
transaction in the models.churn.active_days up to it (the training population), with their
features as of that date (the same point-in-time rule as training), using the model version
the alias points to in the MLflow registry (train and register one with `lakehouse train`).
Replaces the date's rows of gold.churn_scores and LAKEHOUSE_HOME/exports/churn_scores/
score_date=D/; running a date again leaves the same rows. --publish also sends them to S3 and
Redshift (as `lakehouse publish scores` does).

The other models (models/batch_scores.py) write the same way: anomaly scores every transaction
booked on the date -> gold.transaction_anomalies; segments and offers, the same population as
churn -> gold.customer_segments, gold.next_best_offers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.delta import Warehouse
from lakehouse.errors import (
    ModelInputError,
    SourceUnavailableError,
    TableNotFoundError,
)
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics
from models.batch_scores import OTHER_MODELS, score_date_rows
from models.bundle import ClassifierBundle
from models.scoring import ModelRef, arrow_batch_size, check_features, score_churn
from models.training_set import churn_population, read_accounts
from schemas.scores import CHURN_SCORES

# --model -> the table its scores go to
MODELS: dict[str, TableContract] = {"churn": CHURN_SCORES, **OTHER_MODELS}
PUBLISH_TARGETS = ("s3", "redshift")


@dataclass(frozen=True)
class ScoreResult:
    score_date: dt.date
    model: ModelRef
    rows: int
    delta_version: int
    export_dir: Path
    published: str | None = None
    table: str = CHURN_SCORES.name

    def __str__(self) -> str:
        done = (
            f"wrote {self.rows:,} rows for {self.score_date} with {self.model.name} "
            f"v{self.model.version}: {self.table} v{self.delta_version}, {self.export_dir}"
        )
        return done + (f"; published {self.published}" if self.published else "")

    def run_metrics(self) -> RunMetrics:
        return RunMetrics(rows_out=self.rows, tables_written={self.table: self.delta_version})


def resolve_model(cfg: Config, name: str, *, alias: str) -> tuple[ModelRef, ClassifierBundle]:
    """The version ``models:/<name>@<alias>`` points to in the registry, and its bundle."""
    from models.bundle import load_bundle
    from models.model_runs import registered_version

    ref = registered_version(cfg, name, alias=alias)
    return ref, load_bundle(f"models:/{name}/{ref.version}")


def _model_exists(cfg: Config, args: argparse.Namespace) -> None:
    """ModelNotFoundError unless the registry has the model and alias the run asks for."""
    from models.model_runs import registered_version

    registered_version(cfg, args.model, alias=args.alias)


def feature_rows(
    spark: SparkSession,
    cfg: Config,
    customers: DataFrame,
    bundle: ClassifierBundle,
    *,
    run_date,
    warehouse: Warehouse | None = None,
) -> DataFrame:
    """customer_id and the model's features as of the end of ``run_date``, point in time.
    The views' declared types are checked against the model before any Spark job."""
    from feature_store import FeatureStore, FeatureView
    from feature_store.core import SPARK_TYPES
    from models.training_set import check_materialized, observed_at

    store = FeatureStore(spark, cfg, warehouse=warehouse or Warehouse.from_config(cfg))
    declared = {
        feature.name: (view.name, SPARK_TYPES[feature.dtype])
        for view in store.registry.views.values()
        if isinstance(view, FeatureView)
        for feature in view.features
    }
    unknown = [n for n in bundle.feature_names if n not in declared]
    if unknown:
        raise ModelInputError(
            f"model features {unknown} are not stored in the feature store; retrain the model "
            "on the registered views (lakehouse features list)"
        )
    fields = [T.StructField(n, declared[n][1]) for n in bundle.feature_names]
    check_features(T.StructType([T.StructField("customer_id", T.StringType()), *fields]), bundle)
    owners = {n: declared[n][0] for n in bundle.feature_names}
    views = sorted({owners[n] for n in bundle.feature_names})
    # Unmaterialized dates would quietly give NULLs or older values: refuse instead.
    check_materialized(store.warehouse, store.registry, [run_date], views)
    # As training observes a snapshot: just after the date ends, so the date's values count.
    entities = customers.withColumn("event_ts", F.lit(observed_at(run_date)))
    features = store.get_historical_features(entities, views)
    return features.select("customer_id", *bundle.feature_names)


def export_parquet(scores: DataFrame, root: Path, *, score_date: dt.date) -> Path:
    """Write the date's rows to ``root/score_date=D/`` (Hive layout: the column is in the
    path), replacing that directory only. The files are staged next to it and swapped in."""
    target = root / f"score_date={score_date.isoformat()}"
    staging = root / f"_staging-{uuid.uuid4().hex}"
    scores.drop("score_date").write.parquet(str(staging))
    for extra in [*staging.glob("_SUCCESS"), *staging.glob(".*.crc")]:
        extra.unlink()
    retired = root / f"_retired-{uuid.uuid4().hex}"
    if target.exists():
        target.rename(retired)
    staging.rename(target)
    shutil.rmtree(retired, ignore_errors=True)
    return target


def run(
    spark: SparkSession,
    cfg: Config,
    *,
    context: RunContext,
    model_name: str = "churn",
    alias: str = "champion",
    publish: Sequence[str] = (),
    warehouse: Warehouse | None = None,
) -> ScoreResult:
    day = context.run_date
    warehouse = warehouse or Warehouse.from_config(cfg)
    if model_name in OTHER_MODELS:
        return _run_other(spark, cfg, warehouse, day, model_name, alias=alias, publish=publish)
    model, bundle = resolve_model(cfg, model_name, alias=alias)
    active_days = cfg.models.churn.active_days
    # Who churn is predicted for: the rule that picked the training rows.
    population = churn_population(
        _transactions(spark, warehouse, run_date=day, active_days=active_days),
        read_accounts(warehouse, spark),
        [day],
        active_days=active_days,
    )
    customers = population.select("customer_id")
    rows = feature_rows(spark, cfg, customers, bundle, run_date=day, warehouse=warehouse)
    # Scoring reads its rows twice (deciles first): the point-in-time join runs once.
    rows = rows.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with arrow_batch_size(spark, cfg.models.scoring.arrow_batch_size):
            scores = score_churn(
                rows, bundle, model=model, score_date=day, settings=cfg.models.scoring
            )
            table = warehouse.create(CHURN_SCORES)
            written = table.write(
                scores, mode="replace_where", predicate=f"score_date = DATE'{day.isoformat()}'"
            )
    finally:
        rows.unpersist()
    # The export is read back from what was committed, not scored a second time.
    return _finish(spark, cfg, CHURN_SCORES, table, written, model, day, publish=publish)


def _run_other(
    spark, cfg: Config, warehouse: Warehouse, day: dt.date, name: str, *, alias, publish
) -> ScoreResult:
    from feature_store import FeatureStore

    store = FeatureStore(spark, cfg, warehouse=warehouse)
    model, rows = score_date_rows(store, cfg, model=name, alias=alias, run_date=day)
    contract = OTHER_MODELS[name]
    table = warehouse.create(contract)
    written = table.write(
        rows, mode="replace_where", predicate=f"score_date = DATE'{day.isoformat()}'"
    )
    return _finish(spark, cfg, contract, table, written, model, day, publish=publish)


def _finish(
    spark, cfg: Config, contract: TableContract, table, written, model, day: dt.date, *, publish
) -> ScoreResult:
    """The Parquet export and the publishing, from the committed rows (not scored again)."""
    committed = table.to_spark(spark, filters=[("score_date", "=", day)])
    export_root = cfg.path("exports") / contract.name.split(".", 1)[1]
    exported = export_parquet(committed, export_root, score_date=day)
    published = _publish(cfg, contract, run_date=day, targets=publish) if publish else None
    return ScoreResult(
        day, model, written.rows_written, written.version, exported, published, contract.name
    )


def _transactions(
    spark: SparkSession, warehouse: Warehouse, *, run_date: dt.date, active_days: int
) -> DataFrame:
    since = run_date - dt.timedelta(days=active_days)
    try:
        table = warehouse.table("silver.transactions")
    except TableNotFoundError:
        raise SourceUnavailableError(
            "silver.transactions does not exist yet: run the daily batch first "
            "(lakehouse batch --run-date D)"
        ) from None
    window = [("txn_date", ">", since), ("txn_date", "<=", run_date)]
    return table.to_spark(spark, filters=window, columns=["customer_id", "txn_date"])


def _publish(
    cfg: Config, contract: TableContract, *, run_date: dt.date, targets: Sequence[str]
) -> str:
    """Integration point with lakehouse/publish: the committed rows to S3 and/or Redshift."""
    from lakehouse.publish import publish_run_date
    from lakehouse.publish.command import read_run_date

    rows = read_run_date(cfg, contract, run_date)
    done = publish_run_date(rows, contract, cfg=cfg, run_date=run_date, targets=tuple(targets))
    return done.summary()


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(prog="score", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, choices=sorted(MODELS), help="registered model")
    parser.add_argument(
        "--alias", default="champion", help="registry alias to score with (default: champion)"
    )
    parser.add_argument(
        "--publish",
        nargs="*",
        choices=PUBLISH_TARGETS,
        metavar="TARGET",
        help="also publish the date's scores: s3, redshift (no target given: both)",
    )
    return job_main(
        parser,
        argv,
        job="score",
        # Before Spark starts: no model to score with is known in a second, not after a JVM.
        preflight=_model_exists,
        body=lambda spark, cfg, args, context: run(
            spark,
            cfg,
            context=context,
            model_name=args.model,
            alias=args.alias,
            publish=_targets(args.publish),
        ),
    )


def _targets(given: list[str] | None) -> tuple[str, ...]:
    if given is None:
        return ()
    return tuple(given) or PUBLISH_TARGETS


if __name__ == "__main__":
    raise SystemExit(main())
