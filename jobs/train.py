"""Feature store + silver labels -> a model in the MLflow registry, gated champion or
challenger.

    lakehouse train --model churn|anomaly|segments|offers --run-date 2024-03-31 [--promote]
    spark-submit jobs/train.py --model churn --run-date 2024-03-31

The run date is the last day of data the model may learn from: snapshots go up to
run date - models.churn.horizon_days (their labels need the days after them). Features must
be materialized for every snapshot date (lakehouse features materialize --from-date A
--run-date D). Logs the run (params, test-window metrics, plots, lineage, the model) to
cfg.mlflow's tracking server and registers a new version of the model: it becomes the
champion only if it beats the current champion on the same holdout rows by the configured
margin, else the challenger. Prints what happened and why.

The other models (no labelled holdout to compare versions on; see models/model_runs.py): the
first version is champion, later ones challenger unless --promote. anomaly: an
IsolationForest on the models.anomaly.train_days of transactions up to the run date;
segments: KMeans over the customers active at the run date; offers: per-product propensity
over snapshot dates before it (models/anomaly_training.py, segmentation.py,
offer_training.py).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lakehouse.config import Config
from lakehouse.delta import Warehouse
from lakehouse.errors import ConfigError
from lakehouse.run import RunContext
from models.training_set import CHURN_VIEWS

MODELS = ("churn", "anomaly", "segments", "offers")


@dataclass(frozen=True)
class TrainResult:
    model: str
    version: str
    alias: str
    reason: str
    run_id: str
    metrics: dict[str, float]
    rows: dict[str, int]
    windows: dict[str, str]
    seconds: dict[str, float]

    def __str__(self) -> str:
        m = self.metrics
        return (
            f"{self.model} v{self.version} is now {self.alias}: {self.reason}. "
            f"Test window {self.windows['test']} ({self.rows['test']:,} customers, churn rate "
            f"{m['positive_rate']:.1%}): ROC-AUC {m['roc_auc']:.4f}, PR-AUC {m['pr_auc']:.4f}, "
            f"log loss {m['log_loss']:.4f}, calibration error {m['calibration_error']:.4f}, "
            f"top-decile lift {m['lift_top_decile']:.2f}. Trained on {self.rows['train']:,} "
            f"rows ({self.windows['train']}), stopped and calibrated on "
            f"{self.rows['validation']:,} ({self.windows['validation']}); set built in "
            f"{self.seconds['training_set']:.1f} s, fitted in {self.seconds['fit']:.1f} s, "
            f"logged in {self.seconds['tracking']:.1f} s. MLflow run {self.run_id}."
        )


@dataclass(frozen=True)
class RegisteredResult:
    """What training one of the models without a labelled holdout did."""

    registered: object  # models.model_runs.RegisteredModel
    seconds: float

    def __str__(self) -> str:
        r = self.registered
        return (
            f"{r.name} v{r.version} is now {r.alias}: {r.reason}. Trained in "
            f"{self.seconds:.1f} s. MLflow run {r.run_id}."
        )


def train_other(
    spark: SparkSession,
    cfg: Config,
    *,
    context: RunContext,
    model_name: str,
    promote: bool = False,
    warehouse: Warehouse | None = None,
) -> RegisteredResult:
    import time

    from feature_store import FeatureStore

    # Imported here: each pulls in scikit-learn and MLflow.
    if model_name == "anomaly":
        from models.anomaly_training import train_anomaly as train
    elif model_name == "segments":
        from models.segmentation import train_segments as train
    else:
        from models.offer_training import train_offers as train
    store = FeatureStore(spark, cfg, warehouse=warehouse or Warehouse.from_config(cfg))
    started = time.perf_counter()
    trained = train(store, cfg, run_date=context.run_date, promote=promote)
    return RegisteredResult(trained.registered, time.perf_counter() - started)


def run(
    spark: SparkSession,
    cfg: Config,
    *,
    context: RunContext,
    model_name: str = "churn",
    views: Sequence[str] = CHURN_VIEWS,
    warehouse: Warehouse | None = None,
    params=None,
) -> TrainResult:
    import time

    from feature_store import FeatureStore
    from models.churn import fit_churn, readable_labels
    from models.tracking import connect, log_and_register
    from models.training_set import SPLITS, load_training_frame

    if model_name != "churn":
        raise ConfigError(f"run() trains churn, not {model_name!r}: see train_other")
    settings = cfg.models.churn
    store = FeatureStore(spark, cfg, warehouse=warehouse or Warehouse.from_config(cfg))
    started = time.perf_counter()
    training = load_training_frame(store, last_day=context.run_date, settings=settings, views=views)
    built = time.perf_counter()
    labels = readable_labels(store.registry, training.features)
    model = fit_churn(training.rows, features=training.features, labels=labels, params=params)
    fitted = time.perf_counter()
    lineage = {
        "run_date": context.run_date.isoformat(),
        "tables": training.tables,
        "warehouse": store.warehouse.root,
        "views": list(training.views),
        "features": list(training.features),
        "windows": training.plan.describe(),
        "snapshot_dates": [d.isoformat() for d in training.plan.dates],
        "params": {f"churn.{k}": v for k, v in settings.model_dump().items()},
    }
    record = log_and_register(
        connect(cfg),
        cfg,
        name=model_name,
        model=model,
        holdout=training.split("test"),
        lineage=lineage,
        run_name=f"{model_name} {context.run_date}",
        margin=settings.champion_margin,
    )
    done = time.perf_counter()
    return TrainResult(
        model=model_name,
        version=record.version,
        alias=record.decision.alias,
        reason=record.decision.reason,
        run_id=record.run_id,
        metrics=model.test_metrics,
        rows={s: len(training.split(s)) for s in SPLITS},
        windows=training.plan.describe(),
        seconds={
            "training_set": built - started,
            "fit": fitted - built,
            "tracking": done - fitted,
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(prog="train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", required=True, choices=MODELS, help=f"which model to train: {', '.join(MODELS)}"
    )
    parser.add_argument(
        "--promote",
        action="store_true",
        help="anomaly, segments, offers: make the new version champion (churn's gate compares "
        "versions on its holdout instead)",
    )
    return job_main(parser, argv, job="train", body=_body)


def _body(spark, cfg: Config, args: argparse.Namespace, context: RunContext):
    if args.model == "churn":
        if args.promote:
            raise ConfigError("--promote: churn's champion is chosen by its holdout gate")
        return run(spark, cfg, context=context, model_name="churn")
    return train_other(spark, cfg, context=context, model_name=args.model, promote=args.promote)


if __name__ == "__main__":
    raise SystemExit(main())
