"""Models: training sets from the feature store, XGBoost and scikit-learn models tracked in
MLflow, the champion gate, and the bundle the scorers load."""

from models.bundle import ClassifierBundle, load_bundle, log_bundle
from models.churn import BoosterParams, ChurnModel, fit_churn
from models.metrics import binary_metrics
from models.scoring import ModelRef, predict_scores, score_churn
from models.tracking import GateDecision, log_and_register
from models.training_set import TrainingFrame, load_training_frame

__all__ = [
    "BoosterParams",
    "ChurnModel",
    "ClassifierBundle",
    "GateDecision",
    "ModelRef",
    "TrainingFrame",
    "binary_metrics",
    "fit_churn",
    "load_bundle",
    "load_training_frame",
    "log_and_register",
    "log_bundle",
    "predict_scores",
    "score_churn",
]
