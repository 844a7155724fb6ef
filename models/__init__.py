"""Models: training sets from the feature store, XGBoost and scikit-learn models tracked in
MLflow, the champion gate, and the bundle the scorers load."""

from models.bundle import ClassifierBundle, load_bundle, log_bundle
from models.scoring import ModelRef, predict_scores, score_churn

__all__ = [
    "ClassifierBundle",
    "ModelRef",
    "load_bundle",
    "log_bundle",
    "predict_scores",
    "score_churn",
]
