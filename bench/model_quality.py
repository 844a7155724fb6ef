"""model_quality: the anomaly, segmentation and next-best-offer models against the
generator's hidden truth.

Data: ``GeneratorSpec(customers=5000, days=150, defect_rate=0)`` as silver-shaped tables
(bench/generated_silver.py) in a temporary warehouse; the features the models read
materialized by the feature store; each model's own code path (models/anomaly.py,
segmentation.py, offers.py), default settings, without MLflow.

- Anomaly: the forest learns from the ``train_days`` (35) up to D = end - 30 days and scores
  the 14 days after D with the threshold it chose on its training days; precision and recall
  of its alerts against the injected fraud (truth/fraud.parquet), overall and per kind of
  fraud. Also the same forest given every transaction feature the issue lists (24-hour
  count and spend, amount, distance from home, away flag besides), for comparison.
  Velocity is materialized for the whole span in one job of the view's own transform (the
  rows 49 daily runs write); the daily baselines every 3 days (their TTL), not daily.
- Segmentation: fitted on the customers active up to D; adjusted Rand index of its segments
  against the latent segments valid on D (truth/segments.parquet).
- Offers: snapshots every 30 days (4), labels = products opened within 30 days after each
  (silver.accounts). Customers are split in two halves; each half is ranked by models
  trained on the other half's opens only. The generator offered one random product to 30%
  of customers at random times, and its truth says who accepted: an offer that matches a
  policy's recommendation estimates that policy's uptake without bias. Uptake of offers
  matching the model's top 1 (and top 3) vs offers matching the rule-only baseline's
  (the same eligibility rules, products ranked by how often they were opened); the lift is
  their ratio, with a bootstrap 90% interval. Offers are matched to the snapshot they follow
  (offered within 30 days after it). Few offers match a policy's first choice (~150 of
  ~1,000), so the interval is wide; for scale, the same figure for an oracle that ranks by
  the generator's hidden affinity of the customer's latent segment for each product. Without
  outcome noise: the mean hidden affinity (log-odds of accepting) of each policy's first
  offer over every ranked customer, and the share of the oracle's gain over the baseline
  the model recovers (offer_affinity_gain_fraction_of_oracle).

Key figures: anomaly_precision, anomaly_recall, segmentation_ari, offer_uptake_lift_top1,
offer_uptake_lift_top3, offer_oracle_uptake_lift_top1, offer_affinity_gain_fraction_of_oracle.
Reported, not asserted (no goal). ``--rows`` and ``--reps`` do not apply.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from bench._measure import bench_spark
from bench._record import Outcome

__all__ = ["run"]

CUSTOMERS, DAYS, SEED = 5000, 150, 20_240_801
EVAL_DAYS = 14  # anomaly days scored after the training window
OFFER_SNAPSHOTS = 4
BASELINE_EVERY = 3  # days between the anomaly window's daily baselines (their TTL)


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    with bench_spark("model-quality", report=report) as (spark, cfg, home):
        return _measure(spark, cfg, home, report)


def _measure(spark, cfg, home: Path, report) -> Outcome:
    from bench import _model_quality_parts as parts
    from feature_store import FeatureStore
    from lakehouse.generate import GeneratorSpec

    started = time.perf_counter()
    spec = GeneratorSpec(customers=CUSTOMERS, days=DAYS, seed=SEED, defect_rate=0.0)
    report(f"generating {CUSTOMERS:,} customers x {DAYS} days into a fresh warehouse")
    warehouse = parts.silver_warehouse(spark, spec, home)
    truth = home / "truth"
    store = FeatureStore(spark, cfg, warehouse=warehouse)
    end = spec.end_date
    snapshots = sorted(end - dt.timedelta(days=30 * k) for k in range(1, OFFER_SNAPSHOTS + 1))
    run_date = snapshots[-1]  # D: anomaly training ends, segments are fitted
    first = run_date - dt.timedelta(days=cfg.models.anomaly.train_days - 1)
    last = run_date + dt.timedelta(days=EVAL_DAYS)
    seconds = {"generate_and_silver": time.perf_counter() - started}
    mark = time.perf_counter()
    parts.materialize(store, snapshots, first=first, last=last, every=BASELINE_EVERY, report=report)
    seconds["materialize"] = time.perf_counter() - mark
    mark = time.perf_counter()
    report(f"anomaly: training on {first}..{run_date}, scoring {EVAL_DAYS} days after")
    anomaly = parts.anomaly_quality(
        store, cfg, first=first, run_date=run_date, last=last, truth=truth
    )
    seconds["anomaly"] = time.perf_counter() - mark
    mark = time.perf_counter()
    report("segments and offers: customer snapshots")
    segments, offers = parts.customer_models_quality(store, cfg, snapshots, end=end, truth=truth)
    seconds["segments_and_offers"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    figures = {
        "anomaly_precision": round(anomaly["eval"]["precision"], 4),
        "anomaly_recall": round(anomaly["eval"]["recall"], 4),
        "segmentation_ari": round(segments["ari"], 4),
        "offer_uptake_lift_top1": round(offers["top1"]["lift"], 3),
        "offer_uptake_lift_top3": round(offers["top3"]["lift"], 3),
        "offer_oracle_uptake_lift_top1": round(offers["oracle_top1"]["lift"], 3),
        "offer_affinity_gain_fraction_of_oracle": round(_gain_fraction(offers), 3),
    }
    details = {
        "data": {"customers": CUSTOMERS, "days": DAYS, "seed": SEED, "end": end.isoformat()},
        "settings": {
            k: getattr(cfg.models, k).model_dump() for k in ("anomaly", "segmentation", "offers")
        },
        "anomaly": anomaly,
        "segmentation": segments,
        "offers": offers,
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        **figures,
    }
    return Outcome(details=parts.jsonable(details), figures=figures)


def _gain_fraction(offers: dict) -> float:
    """How much of the oracle's gain in hidden affinity over the baseline the model's first
    offers recover (0 = no better than the baseline, 1 = as good as the oracle)."""
    found = offers["top1_vs_latent_affinity"]
    base = found["baseline_mean_affinity"]
    return (found["model_mean_affinity"] - base) / (found["oracle_mean_affinity"] - base)
