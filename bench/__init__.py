"""Benchmarks of the lakehouse library, run by ``make bench`` (``python -m bench``).

Each benchmark is a module ``bench/<name>.py`` with ``run(*, rows, reps, report) -> Outcome``.
This file only names them, so ``--help`` answers without starting Spark.
"""

from __future__ import annotations

BENCHMARKS: dict[str, str] = {
    "delta_write": (
        "Write a transactions-like DataFrame (partitioned by txn_date) through Table.write "
        "(Spark stages Parquet, delta-rs commits) and compare it with a plain partitioned "
        "Spark Parquet write. Key figure: delta_write_ratio_vs_parquet, goal <= 1.3."
    ),
    "ingest_tpch": (
        "Load TPC-H SF1 lineitem (6M rows) from its CSV drop into the validated tpch.lineitem "
        "(jobs/ingest_tpch.py: one scan with the suite's checks, Table.write) and compare it "
        "with a plain spark.read.csv(schema) -> df.write.parquet of the same file. Key figure: "
        "ingest_ratio_vs_spark_parquet, goal <= 1.3."
    ),
    "features": (
        "Compute every customer feature view (feature_store.transforms, as of the last of 90 "
        "generated days, velocity over all 90) from ~10M silver-shaped transactions and write "
        "each to Parquet, against the independent DuckDB SQL of the same spec "
        "(bench/feature_sql.py); the outputs must agree. Key figure: features_ratio_vs_duckdb "
        "(Spark time / DuckDB time), goal <= 3."
    ),
    "scoring": (
        "Score 2M synthetic customers with a 200-tree, depth-6 XGBoost bundle on 40 features "
        "(models.scoring.predict_scores: mapInArrow, the bundle rebuilt once per worker), "
        "read -> score -> noop, against mlflow.pyfunc.spark_udf(env_manager='local') and raw "
        "in-process inplace_predict on 2 threads; scores must be identical. Key figures: "
        "scoring_ratio_vs_mlflow_udf (goal >= 1.5) and scoring_fraction_of_raw_xgboost "
        "(goal >= 0.5); reason codes' rows/s exact (TreeSHAP) and approximate on their own."
    ),
    "churn_quality": (
        "Train the churn model the way `lakehouse train` does (feature store snapshots, time "
        "split, XGBoost, calibration; no MLflow) on 12,000 generated customers x 180 days, and "
        "compare its holdout ROC-AUC with an oracle's on the same rows: the activity fade "
        "the generator's hidden churn dates imply by each snapshot date. Key figure: "
        "churn_auc_fraction_of_oracle, goal >= 0.95."
    ),
    "model_quality": (
        "Train the anomaly, segmentation and next-best-offer models on 5,000 generated "
        "customers x 150 days (feature store, silver accounts; no MLflow) and compare them "
        "with the generator's truth: anomaly precision and recall at the alert threshold on "
        "14 later days vs the injected fraud, segmentation adjusted Rand index vs the latent "
        "segments, offer uptake of the model's top offers vs the rule-only baseline's "
        "(eligibility + popularity) on the generator's random offers, customers cross-fitted. "
        "Key figures: anomaly_precision, anomaly_recall, segmentation_ari, "
        "offer_uptake_lift_top1/_top3, with an oracle's lift and the share of the oracle's "
        "hidden-affinity gain the model recovers for scale (reported, no goal)."
    ),
    "streaming": (
        "Both streaming apps from a private broker to committed Delta tables: the ingest app "
        "(streaming/ingest_transactions.py) and the scoring app (streaming/score_transactions.py"
        ", with online features and an anomaly champion built from generator data). Per app: "
        "a warm-up run, 300,000 events read with availableNow (capacity), then offered loads "
        "of 5,000 and 20,000 events/s for 20 s each with p50/p99 latency from the producer's "
        "send to the Delta commit holding the event (the log's commit times). Key figures: "
        "stream_ingest_events_per_s (goal >= 60,000), stream_score_events_per_s (goal >= "
        "20,000), stream_p99_latency_s, the worse app's p99 at 20,000/s (goal <= 2)."
    ),
}
