"""MLflow for trained models: where runs and models go (from config), what a training run
records, and the champion gate of the model registry.

    client = connect(cfg)
    record = log_and_register(client, cfg, name="churn", model=churn_model, holdout=test_rows,
                              lineage=lineage, run_name="churn 2024-03-31")
    record.version, record.decision.alias, record.decision.reason

A new version becomes ``champion`` only if its ROC-AUC on this run's holdout beats the
current champion's ROC-AUC on the same rows (re-scored with the champion's bundle) by at
least ``models.churn.champion_margin``; otherwise it is the ``challenger``. The first version
of a model is champion. The decision and its reason are tags of the run and of the version.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lakehouse.config import Config
from lakehouse.delta import Warehouse
from models.bundle import ClassifierBundle, load_bundle, log_bundle
from models.metrics import roc_auc
from models.training_set import LABEL

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "GateDecision",
    "TrainingRecord",
    "connect",
    "decide",
    "log_and_register",
    "table_versions",
]

CHAMPION, CHALLENGER = "champion", "challenger"
CONTRIBUTION_SAMPLE = 1000  # test rows explained exactly (TreeSHAP) for the summary plot
INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class GateDecision:
    alias: str  # CHAMPION or CHALLENGER
    reason: str
    roc_auc: float  # the new version's, on the holdout
    champion_version: str | None = None
    champion_roc_auc: float | None = None  # the old champion's, on the same holdout rows


@dataclass(frozen=True)
class TrainingRecord:
    run_id: str
    experiment_id: str
    version: str
    decision: GateDecision


def connect(cfg: Config):
    """An MlflowClient on the configured tracking and registry URIs (also set as the
    process's defaults, which ``mlflow.start_run`` and model loading use)."""
    import mlflow

    local_db = cfg.mlflow_tracking_uri.removeprefix("sqlite:///")
    if local_db != cfg.mlflow_tracking_uri:  # sqlite creates the file, not its directory
        Path(local_db).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(cfg.mlflow_tracking_uri)
    mlflow.set_registry_uri(cfg.mlflow.registry_uri or cfg.mlflow_tracking_uri)
    return mlflow.MlflowClient()


def experiment_id(client, cfg: Config) -> str:
    """The configured experiment; created if missing, its artifacts under the configured
    artifact root in a folder of its own."""
    from mlflow.exceptions import MlflowException

    name = cfg.mlflow.experiment
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        location = f"{cfg.mlflow_artifact_root.rstrip('/')}/{name}"
        return client.create_experiment(name, artifact_location=location)
    except MlflowException as err:  # another job created it meanwhile
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


def decide(
    auc: float,
    *,
    champion_version: str | None,
    champion_auc: float | None,
    margin: float,
    version: str,
) -> GateDecision:
    """The gate itself: champion if there is none yet or ``auc`` beats it by ``margin``."""
    if champion_version is None:
        return GateDecision(CHAMPION, f"v{version} is the first version: champion", auc)
    if champion_auc is None or not np.isfinite(champion_auc):
        reason = (
            f"v{version} not compared: champion v{champion_version} cannot score this holdout "
            f"(it needs other features); stays challenger, promote it by hand if wanted"
        )
        return GateDecision(CHALLENGER, reason, auc, champion_version, champion_auc)
    compared = (
        f"holdout ROC-AUC {auc:.4f} vs champion v{champion_version} {champion_auc:.4f} on the "
        f"same rows (margin {margin:g})"
    )
    if auc >= champion_auc + margin:
        return GateDecision(
            CHAMPION, f"v{version} beats: {compared}", auc, champion_version, champion_auc
        )
    return GateDecision(
        CHALLENGER,
        f"v{version} does not beat the champion by the margin: {compared}",
        auc,
        champion_version,
        champion_auc,
    )


def table_versions(warehouse: Warehouse, names) -> dict[str, int]:
    """The current Delta version of each table (the lineage of what a run reads)."""
    return {name: warehouse.table(name).version for name in names}


def log_and_register(
    client,
    cfg: Config,
    *,
    name: str,
    model,  # models.churn.ChurnModel: bundle, params, metrics, test scores
    holdout: pd.DataFrame,
    lineage: Mapping[str, Any],
    run_name: str,
    margin: float,
) -> TrainingRecord:
    """One MLflow run: params, metrics, plots, lineage and the model; the model registered
    as a new version of ``name`` and given the alias the gate decides."""
    import mlflow

    experiment = experiment_id(client, cfg)
    with mlflow.start_run(experiment_id=experiment, run_name=run_name) as run:
        mlflow.log_params({**model.params, **lineage.get("params", {})})
        mlflow.set_tags({f"lineage.{t}": str(v) for t, v in lineage["tables"].items()})
        mlflow.log_metrics(_metrics(model))
        mlflow.log_dict(dict(lineage), "lineage.json")
        with tempfile.TemporaryDirectory() as scratch:
            _write_plots(model.bundle, holdout, model.test_scores, Path(scratch))
            mlflow.log_artifacts(scratch, artifact_path="plots")
        features = list(model.bundle.feature_names)
        logged = log_bundle(
            model.bundle, name="model", input_example=holdout[features].head(INPUT_EXAMPLE_ROWS)
        )
        version = str(mlflow.register_model(logged.model_uri, name).version)
        decision = _gate(client, name, version, holdout, model.test_metrics["roc_auc"], margin)
        client.set_registered_model_alias(name, decision.alias, version)
        tags = {
            "gate.alias": decision.alias,
            "gate.reason": decision.reason,
            "gate.champion_version": decision.champion_version or "",
        }
        mlflow.set_tags({**tags, "registered_version": version})
        if decision.champion_roc_auc is not None:
            mlflow.log_metric("champion_roc_auc_on_holdout", decision.champion_roc_auc)
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    return TrainingRecord(run.info.run_id, experiment, version, decision)


def _metrics(model) -> dict[str, float]:
    found = {f"test_{k}": v for k, v in model.test_metrics.items()}
    found |= {f"validation_{k}": v for k, v in model.validation_metrics.items()}
    found["train_seconds"] = model.train_seconds
    return {k: float(v) for k, v in found.items() if np.isfinite(v)}


def _gate(
    client, name: str, version: str, holdout: pd.DataFrame, auc: float, margin: float
) -> GateDecision:
    # The new version is registered already, so the registered model exists; its aliases
    # say whether there is a champion (asking for a missing alias raises a generic error).
    champion = client.get_registered_model(name).aliases.get(CHAMPION)
    champion_auc = None
    if champion is not None:
        champion_auc = _score_auc(load_bundle(f"models:/{name}@{CHAMPION}"), holdout)
    return decide(
        auc,
        champion_version=None if champion is None else str(champion),
        champion_auc=champion_auc,
        margin=margin,
        version=version,
    )


def _score_auc(bundle: ClassifierBundle, holdout: pd.DataFrame) -> float | None:
    """The bundle's ROC-AUC on ``holdout``; None when the rows lack one of its features."""
    if any(name not in holdout.columns for name in bundle.feature_names):
        return None
    scores = bundle.predict_proba(bundle.matrix(holdout))
    return roc_auc(holdout[LABEL].to_numpy(), scores)


def _write_plots(
    bundle: ClassifierBundle, holdout: pd.DataFrame, scores: np.ndarray, directory: Path
) -> None:
    from models import plots

    labels = holdout[LABEL].to_numpy()
    plots.roc_plot(labels, scores, directory / "roc.png")
    plots.pr_plot(labels, scores, directory / "precision_recall.png")
    plots.calibration_plot(labels, scores, directory / "calibration.png")
    gain = bundle.booster.get_score(importance_type="total_gain")
    plots.importance_plot(gain, bundle.labels, directory / "feature_importance.png")
    sample = holdout.sample(n=min(CONTRIBUTION_SAMPLE, len(holdout)), random_state=0)
    values = bundle.matrix(sample)
    contributions = bundle.contributions(values, approximate=False)
    plots.contribution_plot(
        contributions,
        values,
        bundle.feature_names,
        bundle.labels,
        directory / "contribution_summary.png",
    )
    strength = np.abs(contributions).mean(axis=0)
    summary = {
        bundle.labels.get(n, n): round(float(s), 6)
        for n, s in sorted(zip(bundle.feature_names, strength, strict=True), key=lambda p: -p[1])
    }
    (directory / "contribution_summary.json").write_text(json.dumps(summary, indent=1))
