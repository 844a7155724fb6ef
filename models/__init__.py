"""Models: training sets from the feature store, XGBoost and scikit-learn models tracked in
MLflow, the champion gate, and the bundle the scorers load."""

from models.bundle import ClassifierBundle, load_bundle, log_bundle

__all__ = ["ClassifierBundle", "load_bundle", "log_bundle"]
