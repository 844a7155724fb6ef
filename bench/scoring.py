"""scoring: distributed churn scoring (models.scoring) against mlflow.pyfunc.spark_udf and raw
in-process XGBoost, plus the reason codes' throughput on their own.

The model: 200 trees of depth 6 on 40 features (32 doubles with 5% NULLs, 8 counts), trained
once on synthetic rows with an isotonic calibration, as a ClassifierBundle. The rows: 2,000,000
synthetic customers (``--rows N`` below that scores N) in Parquet. Model and rows are built once
(not timed) and cached under ``.lakehouse/bench/scoring/<spec>/``.

Every side times read + score + a cheap sink, the same for all:
- ours: ``models.scoring.predict_scores(spark.read.parquet(rows))`` -> ``write.format("noop")``
  (mapInArrow, features cast to float in Spark, cfg.models.scoring.arrow_batch_size rows per
  Arrow batch);
- mlflow_udf_10k / _50k: the same bundle logged with ``log_bundle``, applied with
  ``mlflow.pyfunc.spark_udf(env_manager="local")`` at 10,000 (the session default) and 50,000
  rows per batch -> noop; the faster of the two is the reference;
- raw_xgboost: ``pyarrow.parquet.read_table`` -> float32 matrix -> ``bundle.predict_proba``
  (``inplace_predict``, nthread = the 2 cores) -> an Arrow table of (customer_id, score);
- the alternatives tried for ours: mapInPandas (``bundle.matrix`` on each pandas batch),
  mapInArrow without the float cast, and 10,000 / 200,000 rows per batch.
Repetitions rotate the sides' order; each side's median is reported with the CPU time of this
process tree (driver, JVM and Spark's Python workers). Before timing, ours and the MLflow UDF
are written out once and compared with the raw scores row for row.

Reason codes on their own: ``models.scoring.score_with_reasons`` over 20,000 rows all exact
(TreeSHAP) and 400,000 rows all approximate (Saabas), read -> noop, and how often the two
methods agree on the same rows; then ``score_churn`` end to end on 200,000 rows (exact in the
top decile, as the job runs).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bench._measure import bench_environ, settle, spark_session
from bench._record import REPO_ROOT, BenchError, Outcome
from lakehouse import build_spark, load_config

GOAL_RATIO_VS_MLFLOW = 1.5
GOAL_FRACTION_OF_RAW = 0.5
FULL_SIZE_ROWS = 2_000_000
DOUBLES, COUNTS = 32, 8
TREES, DEPTH, TRAIN_ROWS = 200, 6, 200_000
FILES = 8
SUBSETS = {"exact": 20_000, "approximate": 400_000, "end_to_end": 200_000}
SEED = 7
CACHE_FORMAT = 1
CACHE_ROOT = REPO_ROOT / ".lakehouse" / "bench" / "scoring"
SPARK_MASTER = "local[2]"
SCORE_DATE = dt.date(2024, 5, 1)  # any date: the literal does not change the work
FEATURES = tuple(f"f{i:02d}" for i in range(DOUBLES + COUNTS))


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    count = min(rows, FULL_SIZE_ROWS)
    root = _cached_input(count, report=report)
    home = Path(tempfile.mkdtemp(prefix="bench-scoring-"))
    try:
        cfg = load_config(
            "local", environ={"LAKEHOUSE__SPARK__MASTER": SPARK_MASTER, **bench_environ(home)}
        )
        report(f"starting Spark ({cfg.spark.master})")
        spark = build_spark("bench-scoring", cfg)
        try:
            return _measure(spark, cfg, home, root, rows=count, reps=reps, report=report)
        finally:
            spark.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


# --- the input -------------------------------------------------------------------------------


def _cached_input(rows: int, *, report: Callable[[str], None]) -> Path:
    root = CACHE_ROOT / f"v{CACHE_FORMAT}-r{rows}-t{TREES}-d{DEPTH}-s{SEED}"
    done = root / "done.json"
    if done.is_file():
        report(f"using the cached model and rows in {root}")
        return root
    shutil.rmtree(root, ignore_errors=True)
    report(f"training {TREES} trees of depth {DEPTH}, writing {rows:,} rows to {root} (not timed)")
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        summary = pool.submit(write_input, root, rows).result()
    summary["seconds"] = round(time.perf_counter() - started, 1)
    done.write_text(json.dumps(summary, indent=2) + "\n")
    return root


def synthetic_rows(rng: np.random.Generator, count: int, *, first_id: int) -> pa.Table:
    """Customers with 32 double features (5% NULL) and 8 counts."""
    columns = {"customer_id": pa.array([f"C{first_id + i:09d}" for i in range(count)])}
    for j in range(DOUBLES):
        values = rng.gamma(2.0, 1.0 + j, count) if j % 2 else rng.normal(j, 1.0 + j / 8, count)
        values[rng.random(count) < 0.05] = np.nan
        columns[FEATURES[j]] = pa.array(values, from_pandas=True)
    for j in range(DOUBLES, DOUBLES + COUNTS):
        columns[FEATURES[j]] = pa.array(rng.poisson(3 + j, count).astype(np.int64))
    return pa.table(columns)


def _label(matrix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = np.nan_to_num(matrix)
    weights = rng.normal(size=12)
    logit = (x[:, :12] - x[:, :12].mean(axis=0)) / (x[:, :12].std(axis=0) + 1e-9) @ weights / 3
    logit += 0.5 * np.sin(x[:, 12]) * (x[:, 13] > 14) + (x[:, DOUBLES] - DOUBLES - 3) / 6
    return (rng.random(len(x)) < 1 / (1 + np.exp(-logit))).astype(np.float32)


def write_input(root: Path, rows: int) -> dict:
    """The model (``bundle.bin``) and the rows (``rows/``, ``FILES`` Parquet files), plus the
    reason-code subsets (``subsets/<name>/``, two files each)."""
    import xgboost as xgb
    from sklearn.isotonic import IsotonicRegression

    from models.bundle import ClassifierBundle

    rng = np.random.default_rng(SEED)
    train = synthetic_rows(rng, TRAIN_ROWS, first_id=10**8).to_pandas()
    matrix = train[list(FEATURES)].to_numpy(dtype=np.float32, na_value=np.nan)
    labels = _label(matrix, rng)
    params = {"max_depth": DEPTH, "eta": 0.1, "objective": "binary:logistic", "nthread": 2}
    booster = xgb.train(params, xgb.DMatrix(matrix, labels, missing=np.nan), TREES)
    iso = IsotonicRegression(out_of_bounds="clip").fit(booster.inplace_predict(matrix), labels)
    bundle = ClassifierBundle(
        booster=booster,
        feature_names=FEATURES,
        calibration_x=np.asarray(iso.X_thresholds_, dtype=np.float64),
        calibration_y=np.asarray(iso.y_thresholds_, dtype=np.float64),
        labels={name: f"feature {name[1:]}" for name in FEATURES},
    )
    root.mkdir(parents=True)
    (root / "bundle.bin").write_bytes(bundle.to_bytes())
    # MLflow's input example and signature come from a few training rows.
    pq.write_table(
        pa.Table.from_pandas(train.head(5), preserve_index=False), root / "example.parquet"
    )
    per_file = -(-rows // FILES)
    for number in range(FILES):
        count = min(per_file, rows - number * per_file)
        table = synthetic_rows(rng, count, first_id=number * per_file)
        _write(table, root / "rows" / f"part-{number}.parquet")
    for name, count in SUBSETS.items():
        table = synthetic_rows(rng, count, first_id=10**9)
        for half in range(2):
            piece = table.slice(half * (count // 2), count // 2)
            _write(piece, root / "subsets" / name / f"part-{half}.parquet")
    return {
        "rows": rows,
        "trees": len(booster.get_dump()),
        "depth": DEPTH,
        "features": len(FEATURES),
    }


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, row_group_size=128 * 1024)


# --- the sides -------------------------------------------------------------------------------


class _ColumnsScorer:
    """The first design: one float column per feature, stacked into the matrix in Python."""

    def __init__(self, shipped) -> None:
        self.shipped = shipped

    def __call__(self, batches):
        from models import scoring

        bundle = scoring._worker_bundle(self.shipped)
        for batch in batches:
            matrix = np.empty((batch.num_rows, batch.num_columns - 1), dtype=np.float32)
            for j in range(1, batch.num_columns):
                matrix[:, j - 1] = batch.column(j).to_numpy(zero_copy_only=False)
            score = pa.array(bundle.predict_proba(matrix))
            yield pa.RecordBatch.from_arrays(
                [batch.column(0), score], names=["customer_id", "score"]
            )


class _PandasScorer:
    """The mapInPandas alternative: the same worker cache, ``bundle.matrix`` on each batch."""

    def __init__(self, shipped) -> None:
        self.shipped = shipped

    def __call__(self, frames):
        from models import scoring

        bundle = scoring._worker_bundle(self.shipped)
        for frame in frames:
            score = bundle.predict_proba(bundle.matrix(frame))
            yield pd.DataFrame({"customer_id": frame["customer_id"], "score": score})


def _sides(spark, cfg, rows: Path, bundle, udf) -> dict[str, Callable[[], None]]:
    from pyspark.sql import functions as F

    from models import scoring
    from models.scoring import ModelRef, arrow_batch_size, predict_scores

    path = str(rows)
    model = ModelRef("bench", "1")
    shipped = scoring._ship(bundle, model)
    ours_batch = cfg.models.scoring.arrow_batch_size

    def noop(frame, batch: int) -> None:
        with arrow_batch_size(spark, batch):
            frame.write.format("noop").mode("overwrite").save()

    def ours(batch: int = ours_batch) -> None:
        noop(predict_scores(spark.read.parquet(path), bundle, model=model), batch)

    def ours_pandas() -> None:
        rows = spark.read.parquet(path).select("customer_id", *FEATURES)
        noop(
            rows.mapInPandas(_PandasScorer(shipped), "customer_id string, score double"), ours_batch
        )

    def ours_columns() -> None:
        casts = [F.col(n).cast("float") for n in FEATURES]
        rows = spark.read.parquet(path).select("customer_id", *casts)
        noop(
            rows.mapInArrow(_ColumnsScorer(shipped), "customer_id string, score double"), ours_batch
        )

    def mlflow(batch: int) -> None:
        rows = spark.read.parquet(path)
        noop(rows.select("customer_id", udf(*FEATURES).alias("score")), batch)

    return {
        "ours": ours,
        "mlflow_udf_10k": lambda: mlflow(10_000),
        "mlflow_udf_50k": lambda: mlflow(50_000),
        "raw_xgboost": lambda: _raw_scores(rows, bundle),
        "ours_mapinpandas": ours_pandas,
        "ours_float_columns": ours_columns,
        "ours_batch_10k": lambda: ours(10_000),
        "ours_batch_200k": lambda: ours(200_000),
    }


WHAT = {
    "ours": "models.scoring.predict_scores (mapInArrow, the features as one array<float> "
    "column, models.scoring.arrow_batch_size rows per batch) -> noop",
    "mlflow_udf_10k": "mlflow.pyfunc.spark_udf(env_manager='local'), 10,000 rows per batch -> noop",
    "mlflow_udf_50k": "mlflow.pyfunc.spark_udf(env_manager='local'), 50,000 rows per batch -> noop",
    "raw_xgboost": "pyarrow.parquet.read_table -> float32 matrix -> bundle.predict_proba "
    "(inplace_predict, nthread 2) -> Arrow table",
    "ours_mapinpandas": "mapInPandas, bundle.matrix on each pandas batch",
    "ours_float_columns": "mapInArrow with one float column per feature, stacked in Python",
    "ours_batch_10k": "ours at 10,000 rows per Arrow batch",
    "ours_batch_200k": "ours at 200,000 rows per Arrow batch",
}


def _raw_scores(rows: Path, bundle) -> pa.Table:
    table = pq.read_table(rows, columns=["customer_id", *FEATURES])
    matrix = np.empty((table.num_rows, len(FEATURES)), dtype=np.float32)
    for j, name in enumerate(FEATURES):
        matrix[:, j] = table[name].to_numpy()
    return pa.table({"customer_id": table["customer_id"], "score": bundle.predict_proba(matrix)})


def _mlflow_udf(spark, home: Path, root: Path, bundle):
    import mlflow

    from models.bundle import log_bundle

    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    example = pq.read_table(root / "example.parquet").to_pandas()
    with mlflow.start_run():
        info = log_bundle(bundle, name="churn", input_example=example)
    return mlflow.pyfunc.spark_udf(spark, info.model_uri, env_manager="local", result_type="double")


def cpu_by_process() -> dict[str, float]:
    """CPU seconds so far of this process and all its live descendants, by kind: the driver
    (this process: raw XGBoost's threads), the JVM, Spark's Python daemon and workers. Each
    counts the children it has reaped, so a worker that exits is still billed."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, used, kinds = {}, {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()[:300]
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        used[pid] = sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime
        kinds[pid] = "jvm" if b"java" in command else "python_workers"
    kinds[os.getpid()] = "driver"
    tree, grew = {os.getpid()}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        grew = bool(found)
        tree |= found
    totals = {"driver": 0.0, "jvm": 0.0, "python_workers": 0.0}
    for pid in tree:
        totals[kinds[pid]] += used.get(pid, 0.0)
    return totals


# --- measuring -------------------------------------------------------------------------------


def _measure(spark, cfg, home: Path, root: Path, *, rows: int, reps: int, report) -> Outcome:
    from models.bundle import ClassifierBundle

    bundle = ClassifierBundle.from_bytes((root / "bundle.bin").read_bytes())
    bundle.booster.set_param({"nthread": os.cpu_count()})
    report("logging the bundle to MLflow and building its spark_udf (not timed)")
    udf = _mlflow_udf(spark, home, root, bundle)
    report("warming up: each side once on the 200,000-row subset (not timed)")
    for warm_up in _sides(spark, cfg, root / "subsets" / "end_to_end", bundle, udf).values():
        warm_up()
    sides = _sides(spark, cfg, root / "rows", bundle, udf)
    report("checking ours and the MLflow UDF against the raw scores (not timed)")
    verdict = _verify(spark, home, root, bundle, udf)
    if not verdict["results_equal"]:
        raise BenchError(f"scoring: results differ from raw XGBoost: {verdict}")
    seconds = {side: [] for side in sides}
    cpu = {side: [] for side in sides}
    load_before = os.getloadavg()[0]
    names = list(sides)
    for rep in range(reps):
        order = names[rep % len(names) :] + names[: rep % len(names)]
        for side in order:
            settle()
            cpu_start, started = cpu_by_process(), time.perf_counter()
            sides[side]()
            seconds[side].append(time.perf_counter() - started)
            cpu_end = cpu_by_process()
            cpu[side].append({kind: cpu_end[kind] - cpu_start[kind] for kind in cpu_end})
            report(f"rep {rep + 1}/{reps}: {side} {seconds[side][-1]:.1f} s")
    reasons = _reasons(spark, cfg, root, bundle, reps=reps, report=report)
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    return _outcome(spark, cfg, rows, seconds, cpu, verdict, reasons, load)


def _verify(spark, home: Path, root: Path, bundle, udf) -> dict:
    from models.scoring import ModelRef, predict_scores

    raw = _raw_scores(root / "rows", bundle).to_pandas().set_index("customer_id")["score"]
    rows = spark.read.parquet(str(root / "rows"))
    outputs = {
        "ours": predict_scores(rows, bundle, model=ModelRef("bench", "1")),
        "mlflow_udf": rows.select("customer_id", udf(*FEATURES).alias("score")),
    }
    found = {}
    for side, frame in outputs.items():
        frame.write.parquet(str(home / f"verify-{side}"))
        got = pq.read_table(home / f"verify-{side}").to_pandas().set_index("customer_id")["score"]
        got = got.reindex(raw.index)
        found[side] = {
            "rows": int(got.notna().sum()),
            "max_abs_difference": float((got - raw).abs().max()),
            "rows_not_identical": int((got != raw).sum()),
        }
        shutil.rmtree(home / f"verify-{side}")
    equal = all(f["rows"] == len(raw) and f["max_abs_difference"] <= 1e-12 for f in found.values())
    return {"results_equal": equal, "raw_rows": len(raw), **found}


def _reasons(spark, cfg, root: Path, bundle, *, reps: int, report) -> dict:
    from models.scoring import ModelRef, arrow_batch_size, score_churn, score_with_reasons

    model = ModelRef("bench", "1")

    def subset(name: str):
        return spark.read.parquet(str(root / "subsets" / name))

    def reasons_only(name: str, *, exact_deciles: int) -> None:
        thresholds = _thresholds(_subset_scores(root, name, bundle))
        frame = score_with_reasons(
            subset(name), bundle, model=model, thresholds=thresholds, exact_deciles=exact_deciles
        )
        with arrow_batch_size(spark, cfg.models.scoring.arrow_batch_size):
            frame.write.format("noop").mode("overwrite").save()

    def end_to_end() -> None:
        frame = score_churn(
            subset("end_to_end"),
            bundle,
            model=model,
            score_date=SCORE_DATE,
            settings=cfg.models.scoring,
        )
        with arrow_batch_size(spark, cfg.models.scoring.arrow_batch_size):
            frame.write.format("noop").mode("overwrite").save()

    timings = {"exact": [], "approximate": []}
    cpu = {"exact": [], "approximate": []}
    for rep in range(reps):
        for method, deciles in (("exact", 10), ("approximate", 0)):
            cpu_start, started = sum(cpu_by_process().values()), time.perf_counter()
            reasons_only(method, exact_deciles=deciles)
            timings[method].append(time.perf_counter() - started)
            cpu[method].append(sum(cpu_by_process().values()) - cpu_start)
            report(f"reasons rep {rep + 1}/{reps}: {method} {timings[method][-1]:.1f} s")
    started = time.perf_counter()
    end_to_end()
    whole = time.perf_counter() - started
    report(f"score_churn end to end on {SUBSETS['end_to_end']:,} rows: {whole:.1f} s")
    return {
        "spark": {
            method: {
                "rows": SUBSETS[method],
                "seconds": [round(s, 2) for s in took],
                "rows_per_s": round(SUBSETS[method] / statistics.median(took)),
                "cpu_seconds": [round(c, 1) for c in cpu[method]],
                "rows_per_cpu_s": round(SUBSETS[method] / statistics.median(cpu[method])),
            }
            for method, took in timings.items()
        },
        "score_churn_end_to_end": {
            "rows": SUBSETS["end_to_end"],
            "exact_reason_deciles": cfg.models.scoring.exact_reason_deciles,
            "seconds": round(whole, 2),
            "rows_per_s": round(SUBSETS["end_to_end"] / whole),
        },
        "in_process": _in_process_reasons(root, bundle),
    }


AGREEMENT_ROWS = 5_000


def _in_process_reasons(root: Path, bundle) -> dict:
    """Both methods on the same rows in this process (nthread 2): throughput, and how often
    the approximate top-3 equals the exact one."""
    from models.scoring import top_reasons

    table = pq.read_table(root / "subsets" / "exact").slice(0, AGREEMENT_ROWS)
    matrix = _matrix(table)
    names = np.array([bundle.labels[n] for n in bundle.feature_names], dtype=object)
    found, rates, per_cpu = {}, {}, {}
    for method in ("exact", "approximate"):
        cpu_start, started = os.times(), time.perf_counter()
        contributions = bundle.contributions(matrix, approximate=method == "approximate")
        rates[method] = round(len(matrix) / (time.perf_counter() - started))
        used = sum(os.times()[:2]) - sum(cpu_start[:2])
        per_cpu[method] = round(len(matrix) / used)
        found[method] = np.stack(top_reasons(contributions, names, k=3), axis=1)
    exact, approximate = found["exact"], found["approximate"]
    same_sets = [set(e) == set(a) for e, a in zip(exact, approximate, strict=True)]
    return {
        "rows": len(matrix),
        "rows_per_s": rates,
        "rows_per_cpu_s": per_cpu,
        "same_reason_1": round(float(np.mean(exact[:, 0] == approximate[:, 0])), 4),
        "same_top_3_in_order": round(float(np.mean((exact == approximate).all(axis=1))), 4),
        "same_top_3_as_a_set": round(float(np.mean(same_sets)), 4),
    }


def _matrix(table: pa.Table) -> np.ndarray:
    matrix = np.empty((table.num_rows, len(FEATURES)), dtype=np.float32)
    for j, name in enumerate(FEATURES):
        matrix[:, j] = table[name].to_numpy()
    return matrix


def _subset_scores(root: Path, name: str, bundle) -> np.ndarray:
    return bundle.predict_proba(_matrix(pq.read_table(root / "subsets" / name)))


def _thresholds(scores: np.ndarray) -> tuple[float, ...]:
    descending = np.sort(scores)[::-1]
    return tuple(float(descending[-(-k * len(scores) // 10) - 1]) for k in range(1, 10))


def _outcome(spark, cfg, rows: int, seconds, cpu, verdict, reasons, load) -> Outcome:
    medians = {side: statistics.median(took) for side, took in seconds.items()}
    rates = {side: rows / took for side, took in medians.items()}
    sides = {
        side: {
            "what": WHAT[side],
            "seconds": [round(s, 2) for s in seconds[side]],
            "median_s": round(medians[side], 2),
            "fastest_s": round(min(seconds[side]), 2),
            "rows_per_s": round(rates[side]),
            "cpu_seconds": [round(sum(c.values()), 1) for c in cpu[side]],
            "median_cpu_seconds_by_process": {
                kind: round(statistics.median(c[kind] for c in cpu[side]), 1)
                for kind in cpu[side][0]
            },
        }
        for side in seconds
    }
    mlflow_side = max(("mlflow_udf_10k", "mlflow_udf_50k"), key=rates.get)
    ratio = round(rates["ours"] / rates[mlflow_side], 3)
    fraction = round(rates["ours"] / rates["raw_xgboost"], 3)
    cpu_median = {
        side: statistics.median(sum(c.values()) for c in took) for side, took in cpu.items()
    }
    details = {
        "rows": rows,
        "model": {"trees": TREES, "depth": DEPTH, "features": len(FEATURES)},
        "repetitions": len(seconds["ours"]),
        "sides": sides,
        "mlflow_reference": mlflow_side,
        "scoring_ratio_vs_mlflow_udf": ratio,
        "scoring_fraction_of_raw_xgboost": fraction,
        # Within a repetition the sides ran minutes apart at most: load drifts less.
        "paired_ratios_vs_mlflow_udf": _paired(seconds[mlflow_side], seconds["ours"]),
        "paired_fractions_of_raw_xgboost": _paired(seconds["raw_xgboost"], seconds["ours"]),
        "cpu_ratio_vs_mlflow_udf": round(cpu_median[mlflow_side] / cpu_median["ours"], 3),
        "cpu_fraction_of_raw_xgboost": round(cpu_median["raw_xgboost"] / cpu_median["ours"], 3),
        "goals": {
            "ratio_vs_mlflow_udf": GOAL_RATIO_VS_MLFLOW,
            "fraction_of_raw": GOAL_FRACTION_OF_RAW,
        },
        "meets_goals": ratio >= GOAL_RATIO_VS_MLFLOW and fraction >= GOAL_FRACTION_OF_RAW,
        "verification": verdict,
        "reason_codes": reasons,
        "load_average_1m": load,
        "spark_session": spark_session(
            spark, cfg, scoring_arrow_batch_size=cfg.models.scoring.arrow_batch_size
        ),
    }
    figures = {
        "scoring_ratio_vs_mlflow_udf": ratio,
        "scoring_fraction_of_raw_xgboost": fraction,
        "scoring_rows": rows,
        "scoring_rows_per_s": round(rates["ours"]),
        "scoring_mlflow_udf_rows_per_s": round(rates[mlflow_side]),
        "scoring_raw_xgboost_rows_per_s": round(rates["raw_xgboost"]),
        "scoring_reasons_exact_rows_per_s": reasons["spark"]["exact"]["rows_per_s"],
        "scoring_reasons_approximate_rows_per_s": reasons["spark"]["approximate"]["rows_per_s"],
        "scoring_results_equal": int(verdict["results_equal"]),
    }
    return Outcome(details=details, figures=figures)


def _paired(reference: list[float], ours: list[float]) -> list[float]:
    return [round(r / o, 3) for r, o in zip(reference, ours, strict=True)]
