"""MLflow for the scikit-learn models (anomaly, segments, offers): one run each with params,
metrics, lineage and the model as a pyfunc, registered as a new version.

    record = log_and_register(cfg, name="segments", model=model, params=..., metrics=...,
                              lineage=..., input_example=rows.head(5), run_name="segments D")
    record.version, record.alias, record.reason
    ref, model = load_registered(cfg, "segments", alias="champion")

Registry rule: a new version becomes ``champion`` when the model has none yet, or when the
caller asks (``promote=True``); otherwise it is the ``challenger``. Unlike churn
(models/tracking.py), these models have no labelled holdout in the pipeline's own data that
two versions could be compared on (anomalies and segments are unsupervised; offers have a
few dozen opens per product), so promoting a later version is a decision, not a gate. The
decision and its reason are tags of the run and of the version.

Each model object has ``predict_frame(frame) -> pd.DataFrame``; the pyfunc wraps it, so any
MLflow consumer gets the same output as the batch scorer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lakehouse.config import Config
from lakehouse.errors import ModelNotFoundError
from models.scoring import ModelRef
from models.tracking import CHALLENGER, CHAMPION, connect, experiment_id

__all__ = [
    "FramePyfunc",
    "RegisteredModel",
    "load_registered",
    "load_version",
    "log_and_register",
    "registered_version",
]

PIP_REQUIREMENTS = ["scikit-learn", "numpy", "pandas"]

try:  # mlflow is heavy to import; the pyfunc class exists only where it is installed
    from mlflow.pyfunc import PythonModel as _PythonModel
except ImportError:  # pragma: no cover
    _PythonModel = object


class FramePyfunc(_PythonModel):
    """MLflow's view of a model object: ``predict`` is its ``predict_frame``."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.model.predict_frame(model_input)


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    alias: str  # CHAMPION or CHALLENGER
    reason: str
    run_id: str

    @property
    def ref(self) -> ModelRef:
        return ModelRef(self.name, self.version)


def log_and_register(
    cfg: Config,
    *,
    name: str,
    model: Any,
    params: Mapping[str, Any],
    metrics: Mapping[str, float],
    lineage: Mapping[str, Any],
    input_example: pd.DataFrame,
    run_name: str,
    promote: bool = False,
    documents: Mapping[str, Any] | None = None,
) -> RegisteredModel:
    """One MLflow run for ``model``; the model registered as a new version of ``name`` with
    the alias the registry rule gives. ``documents`` are logged as JSON artifacts
    (``{"segments.json": {...}}``); non-finite metrics are left out."""
    import mlflow
    from mlflow.models import infer_signature

    client = connect(cfg)
    output = model.predict_frame(input_example)
    with mlflow.start_run(experiment_id=experiment_id(client, cfg), run_name=run_name) as run:
        mlflow.log_params({k: _param(v) for k, v in params.items()})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.set_tags({f"lineage.{t}": str(v) for t, v in lineage.get("tables", {}).items()})
        mlflow.log_dict(dict(lineage), "lineage.json")
        for file_name, document in (documents or {}).items():
            mlflow.log_dict(document, file_name)
        logged = mlflow.pyfunc.log_model(
            name="model",
            python_model=FramePyfunc(model),
            signature=infer_signature(input_example, output),
            input_example=input_example,
            pip_requirements=PIP_REQUIREMENTS,
        )
        version = str(mlflow.register_model(logged.model_uri, name).version)
        alias, reason = _decide(client, name, version, promote=promote)
        client.set_registered_model_alias(name, alias, version)
        tags = {"gate.alias": alias, "gate.reason": reason}
        mlflow.set_tags({**tags, "registered_version": version})
        for key, value in tags.items():
            client.set_model_version_tag(name, version, key, value)
    return RegisteredModel(name, version, alias, reason, run.info.run_id)


def _decide(client, name: str, version: str, *, promote: bool) -> tuple[str, str]:
    # The new version is registered already, so the registered model exists.
    champion = client.get_registered_model(name).aliases.get(CHAMPION)
    if champion is None:
        return CHAMPION, f"v{version} is the first version: champion"
    if promote:
        return CHAMPION, f"v{version} promoted over v{champion} as asked (promote=True)"
    return CHALLENGER, (
        f"v{version} stays challenger: champion v{champion} is kept, {name} has no labelled "
        f"holdout to compare versions on; promote with promote=True or set the alias by hand"
    )


def registered_version(cfg: Config, name: str, *, alias: str = CHAMPION) -> ModelRef:
    """The version ``models:/<name>@<alias>`` points to; ModelNotFoundError if none."""
    from mlflow.exceptions import MlflowException

    try:
        version = connect(cfg).get_model_version_by_alias(name, alias)
    except MlflowException as err:
        # An unknown model is RESOURCE_DOES_NOT_EXIST; an unknown alias of a known model,
        # INVALID_PARAMETER_VALUE (MLflow 3, sqlite and REST stores alike).
        if err.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        raise ModelNotFoundError(
            f"models:/{name}@{alias}: no such registered model or alias in "
            f"{cfg.mlflow_tracking_uri}; train and register one first: lakehouse train --model "
            f"{name} --run-date D"
        ) from None
    return ModelRef(name, str(version.version))


def load_registered(cfg: Config, name: str, *, alias: str = CHAMPION) -> tuple[ModelRef, Any]:
    """The version ``models:/<name>@<alias>`` points to, and its model object."""
    ref = registered_version(cfg, name, alias=alias)
    return ref, load_version(ref)


def load_version(ref: ModelRef) -> Any:
    """The model object of registered version ``ref``."""
    import mlflow

    return mlflow.pyfunc.load_model(f"models:/{ref.name}/{ref.version}").unwrap_python_model().model


def _param(value: Any) -> Any:
    """MLflow params are strings of at most 6000 characters; keep lists readable."""
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)[:6000]
    return value
