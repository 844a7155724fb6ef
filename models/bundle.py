"""A trained classifier as one portable object: the XGBoost booster, its feature order and
readable names, and the isotonic calibration of its probabilities.

Training builds a ``ClassifierBundle`` and logs it to MLflow as a pyfunc model
(``log_bundle``), so ``mlflow.pyfunc.spark_udf`` and any MLflow consumer can use it. The
batch and streaming scorers do not go through pyfunc: they ship ``to_bytes()`` to the
executors once and rebuild the bundle there (``from_bytes``), then call ``predict_proba``
and ``contributions`` on Arrow batches.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BundlePyfunc", "ClassifierBundle", "load_bundle", "log_bundle"]

_BOOSTER_FILE = "booster.ubj"
_META_FILE = "bundle.json"


@dataclass(frozen=True, eq=False)
class ClassifierBundle:
    """``booster`` scores ``feature_names`` in this order (missing values as NaN);
    ``calibration_x``/``calibration_y`` map its raw probability to a calibrated one by linear
    interpolation (an isotonic fit's thresholds); ``labels`` are readable feature names for
    reason codes."""

    booster: Any  # xgboost.Booster; typed loosely so importing this module stays cheap
    feature_names: tuple[str, ...]
    calibration_x: np.ndarray
    calibration_y: np.ndarray
    labels: dict[str, str]

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """The feature columns of ``frame`` in the booster's order, float32, NULL as NaN."""
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise KeyError(f"feature columns missing from the input: {missing}")
        return frame[list(self.feature_names)].to_numpy(dtype=np.float32, na_value=np.nan)

    def raw_proba(self, features: np.ndarray) -> np.ndarray:
        return self.booster.inplace_predict(features, validate_features=False)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(raw, self.calibration_x, self.calibration_y)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of the positive class for a matrix from ``matrix``."""
        return self.calibrate(self.raw_proba(features))

    def contributions(self, features: np.ndarray, *, approximate: bool) -> np.ndarray:
        """Per-row contribution of each feature to the margin (log-odds), bias column dropped:
        exact TreeSHAP, or XGBoost's much faster approximation (Saabas)."""
        import xgboost as xgb

        dmatrix = xgb.DMatrix(features, feature_names=list(self.feature_names), missing=np.nan)
        both = self.booster.predict(dmatrix, pred_contribs=True, approx_contribs=approximate)
        return both[:, :-1]

    def to_bytes(self) -> bytes:
        meta = {
            "feature_names": list(self.feature_names),
            "calibration_x": self.calibration_x.tolist(),
            "calibration_y": self.calibration_y.tolist(),
            "labels": self.labels,
        }
        header = json.dumps(meta).encode()
        return len(header).to_bytes(8, "big") + header + bytes(self.booster.save_raw("ubj"))

    @classmethod
    def from_bytes(cls, data: bytes) -> ClassifierBundle:
        import xgboost as xgb

        size = int.from_bytes(data[:8], "big")
        meta = json.loads(data[8 : 8 + size])
        booster = xgb.Booster()
        booster.load_model(bytearray(data[8 + size :]))
        return cls._from_meta(booster, meta)

    def save(self, directory: Path) -> dict[str, str]:
        """Write the bundle's files into ``directory``; returns MLflow's ``artifacts`` map."""
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / _BOOSTER_FILE))
        meta = {
            "feature_names": list(self.feature_names),
            "calibration_x": self.calibration_x.tolist(),
            "calibration_y": self.calibration_y.tolist(),
            "labels": self.labels,
        }
        (directory / _META_FILE).write_text(json.dumps(meta, indent=1))
        return {"booster": str(directory / _BOOSTER_FILE), "meta": str(directory / _META_FILE)}

    @classmethod
    def load(cls, artifacts: dict[str, str]) -> ClassifierBundle:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(artifacts["booster"])
        return cls._from_meta(booster, json.loads(Path(artifacts["meta"]).read_text()))

    @classmethod
    def _from_meta(cls, booster: Any, meta: dict[str, Any]) -> ClassifierBundle:
        return cls(
            booster=booster,
            feature_names=tuple(meta["feature_names"]),
            calibration_x=np.asarray(meta["calibration_x"], dtype=np.float64),
            calibration_y=np.asarray(meta["calibration_y"], dtype=np.float64),
            labels=dict(meta["labels"]),
        )


try:  # mlflow is heavy to import; the pyfunc class exists only where it is installed
    from mlflow.pyfunc import PythonModel as _PythonModel
except ImportError:  # pragma: no cover
    _PythonModel = object


class BundlePyfunc(_PythonModel):
    """MLflow's view of a bundle: ``predict`` returns the calibrated probabilities."""

    def load_context(self, context) -> None:
        self.bundle = ClassifierBundle.load(context.artifacts)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        return self.bundle.predict_proba(self.bundle.matrix(model_input))


def log_bundle(bundle: ClassifierBundle, *, name: str, input_example: pd.DataFrame):
    """Log ``bundle`` as a pyfunc model in the active run; returns MLflow's ModelInfo."""
    import mlflow
    from mlflow.models import infer_signature

    example = input_example[list(bundle.feature_names)]
    signature = infer_signature(example, bundle.predict_proba(bundle.matrix(example)))
    with tempfile.TemporaryDirectory() as scratch:
        artifacts = bundle.save(Path(scratch))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=BundlePyfunc(),
            artifacts=artifacts,
            signature=signature,
            input_example=example,
            pip_requirements=["xgboost-cpu", "numpy", "pandas"],
        )


def load_bundle(model_uri: str) -> ClassifierBundle:
    """The bundle behind a logged or registered model URI (e.g. ``models:/churn@champion``)."""
    import mlflow

    model = mlflow.pyfunc.load_model(model_uri)
    return model.unwrap_python_model().bundle
