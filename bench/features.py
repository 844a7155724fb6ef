"""features: every customer feature view in Spark (feature_store.transforms) against DuckDB SQL.

The input is ~10M generated transactions (46,000 customers x 90 days; ``--rows N`` below 5M
scales the customers down for a quick run) with their orders, as silver-shaped Parquet
(bench/generated_silver.py; transactions partitioned by ``txn_date``, orders by
``order_date``, order versions by ``_run_date``). It is generated once and cached under
``.lakehouse/bench/features/<spec>/``; later runs reuse it.

- spark: each view of ``feature_store.transforms.TRANSFORMS`` for as_of = the last generated
  date, ``customer_velocity`` over all 90 days (one row per transaction second, ~10M rows),
  each result written to Parquet (``df.write.parquet``);
- duckdb: ``bench.feature_sql.feature_tables`` over the same files, each result written to
  Parquet (``pyarrow.parquet.write_table``), DuckDB on as many threads as Spark has cores.

Both sides compute the same views one at a time; a repetition times all of them. Reading the
input is part of each view's time on both sides. Repetitions alternate which side goes first;
the median of each side is reported, with the CPU time of this process and the JVM. The first
repetition's outputs are read back and compared view by view (``bench.feature_sql.compare``):
``features_results_equal`` says whether they agree and ``differences`` shows the first ones.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from multiprocessing import get_context
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession

from bench._measure import bench_spark, cpu_seconds, settle, spark_session
from bench._record import REPO_ROOT, BenchError, Outcome
from bench.feature_sql import KEYS, SOURCES, feature_tables, find_differences
from lakehouse import Config
from lakehouse.generate import GeneratorSpec

GOAL_RATIO = 3.0
DAYS = 90
FULL_SIZE_CUSTOMERS = 46_000
FULL_SIZE_ROWS = 5_000_000  # `python -m bench`'s default --rows: run at full size
TXNS_PER_CUSTOMER_DAY = 2.58  # measured on the generator (10,661,387 at full size)
CHUNK_ROWS = 1_000_000
MIN_CUSTOMERS = 200
SEED = 20_240_101
CACHE_FORMAT = 1  # bump when the cached files' layout changes
CACHE_ROOT = REPO_ROOT / ".lakehouse" / "bench" / "features"
WARM_UP_DAYS = 7
SHOWN_DIFFERENCES = 5
WHAT = {
    "spark": "for each view of feature_store.transforms.TRANSFORMS: "
    "fn(spark.read.parquet(silver), as_of=D[, days=90]).write.parquet(<fresh dir>)",
    "duckdb": "for each view: bench.feature_sql.feature_tables(con, ..., as_of=D, "
    "velocity_days=90) over read_parquet(silver), pyarrow.parquet.write_table(<fresh file>)",
}


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    spec = _spec(rows)
    silver = _cached_silver(spec, report=report)
    with bench_spark("features", report=report) as (spark, cfg, home):
        return _measure(spark, cfg, home, spec, silver, reps=reps, report=report)


def _spec(rows: int) -> GeneratorSpec:
    if rows >= FULL_SIZE_ROWS:
        customers = FULL_SIZE_CUSTOMERS
    else:
        customers = max(MIN_CUSTOMERS, round(rows / (DAYS * TXNS_PER_CUSTOMER_DAY)))
    # Defects only touch the CSV drops, which are not used here.
    return GeneratorSpec(customers=customers, days=DAYS, seed=SEED, defect_rate=0.0)


# --- the input ------------------------------------------------------------------------------

# Each silver-shaped table's directory name and partition column (its contract's).
PARTITIONS = {"transactions": "txn_date", "orders": "order_date", "order_versions": "_run_date"}


def write_silver_parquet(spec: GeneratorSpec, root: Path) -> dict[str, int]:
    """Generate ``spec`` and write it as silver-shaped Parquet under ``root``: directories
    ``transactions`` (silver.transactions), ``orders`` (silver.orders) and ``order_versions``
    (bronze.shop_orders), each partitioned like its contract. Returns the rows per table.

    Timestamps are stored as UTC instants, as Spark's own writes hold them (naive ones would
    read back as TIMESTAMP_NTZ). The generator holds every day in memory (~7 GB at 10M rows);
    the transactions are shaped a slice at a time so no second full copy is added to that.
    """
    from bench.generated_silver import bronze_order_versions, silver_orders, silver_transactions
    from lakehouse.generate import generate

    scratch = root / "scratch"
    data = generate(spec, landing=scratch / "landing", truth=scratch / "truth")
    shutil.rmtree(scratch / "landing")  # the CSV drops: not used
    counts = {"transactions": data.transactions.num_rows}
    # The generator's rows come day by day, so a date's rows land in one or two files.
    for number, first in enumerate(range(0, counts["transactions"], CHUNK_ROWS)):
        chunk = replace(data, transactions=data.transactions.slice(first, CHUNK_ROWS))
        _write(silver_transactions(chunk), root, "transactions", number)
    for name, shape in (("orders", silver_orders), ("order_versions", bronze_order_versions)):
        table = shape(data)
        counts[name] = table.num_rows
        _write(table, root, name, 0)
    shutil.rmtree(scratch)
    return counts


def duckdb_relations(root: Path) -> dict[str, str]:
    """``feature_tables``' source arguments for the files ``write_silver_parquet`` wrote."""
    relations = {}
    for name, partition in PARTITIONS.items():
        glob = str(root / name / "**" / "*.parquet").replace("'", "''")
        relations[name] = (
            f"read_parquet('{glob}', hive_partitioning = true, "
            f"hive_types = {{'{partition}': DATE}})"
        )
    return relations


def spark_frames(spark: SparkSession, root: Path) -> dict[str, DataFrame]:
    """The same files as Spark DataFrames (partition columns discovered as dates)."""
    return {name: spark.read.parquet(str(root / name)) for name in PARTITIONS}


def _cached_silver(spec: GeneratorSpec, *, report: Callable[[str], None]) -> Path:
    """The root of the spec's silver-shaped Parquet, generated on the first run; ``done.json``
    is written last, so an interrupted run generates again."""
    root = CACHE_ROOT / f"v{CACHE_FORMAT}-c{spec.customers}-d{spec.days}-s{spec.seed}"
    done = root / "done.json"
    if done.is_file():
        report(f"using the cached input in {root}")
        return root
    shutil.rmtree(root, ignore_errors=True)
    report(f"generating {spec.customers:,} customers x {spec.days} days into {root} (not timed)")
    started = time.perf_counter()
    # In a fresh process: the generator's peak memory goes back to the system before Spark
    # starts.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        counts = pool.submit(write_silver_parquet, spec, root).result()
    took = time.perf_counter() - started
    summary = {"spec": asdict(spec), "rows": counts, "seconds": round(took, 1)}
    done.write_text(json.dumps(summary, default=str, indent=2) + "\n")
    report(f"generated {counts['transactions']:,} transactions in {took:.0f} s")
    return root


def _write(table: pa.Table, root: Path, name: str, number: int) -> None:
    ds.write_dataset(
        _utc(table),
        root / name,
        format="parquet",
        partitioning=[PARTITIONS[name]],
        partitioning_flavor="hive",
        basename_template=f"part-{number:03d}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        max_rows_per_group=1 << 20,
    )


def _utc(table: pa.Table) -> pa.Table:
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            utc = table[field.name].cast(pa.timestamp("us", tz="UTC"))
            table = table.set_column(index, field.with_type(utc.type), utc)
    return table


# --- measuring -------------------------------------------------------------------------------


def _measure(spark, cfg: Config, home: Path, spec: GeneratorSpec, silver, *, reps, report):
    import duckdb

    from feature_store.transforms import TRANSFORMS

    as_of = spec.end_date
    views = [v for v in TRANSFORMS if v in SOURCES]
    unmatched = {
        "only_in_spark": sorted(set(TRANSFORMS) - set(SOURCES)),
        "only_in_duckdb": sorted(set(SOURCES) - set(TRANSFORMS)),
    }
    if not views:
        raise BenchError(f"features: no view of TRANSFORMS {sorted(TRANSFORMS)} has a DuckDB twin")
    frames = spark_frames(spark, silver)
    con = duckdb.connect()
    con.execute(f"SET threads = {spark.sparkContext.defaultParallelism}")
    relations = duckdb_relations(silver)

    def spark_side(out: Path, *, day: dt.date, days: int) -> dict[str, float]:
        took = {}
        for view in views:
            fn, _lookback = TRANSFORMS[view]
            source = frames[SOURCES[view]]
            started = time.perf_counter()
            if view == "customer_velocity":
                result = fn(source, as_of=day, days=days)
            else:
                result = fn(source, as_of=day)
            result.write.parquet(str(out / view))
            took[view] = time.perf_counter() - started
        return took

    def duckdb_side(out: Path, *, day: dt.date, days: int) -> dict[str, float]:
        out.mkdir(parents=True)
        took = {}
        for view in views:
            started = time.perf_counter()
            (table,) = feature_tables(
                con, **relations, as_of=day, velocity_days=days, views=[view]
            ).values()
            pq.write_table(table, out / f"{view}.parquet")
            took[view] = time.perf_counter() - started
        return took

    sides = {"spark": spark_side, "duckdb": duckdb_side}
    warm_up_day = spec.start_date + dt.timedelta(days=WARM_UP_DAYS)
    report(f"warming up (untimed run of each side as of {warm_up_day})")
    for side, run_side in sides.items():
        run_side(home / "warm-up" / side, day=warm_up_day, days=1)
    shutil.rmtree(home / "warm-up")

    seconds = {side: [] for side in sides}
    cpu = {side: [] for side in sides}
    per_view = {side: {view: [] for view in views} for side in sides}
    load_before = os.getloadavg()[0]
    verdict = None
    for rep in range(reps):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for side in order:
            report(f"rep {rep + 1}/{reps}: {side}")
            out = home / f"{side}-{rep}"
            settle()
            cpu_start, started = cpu_seconds(), time.perf_counter()
            took = sides[side](out, day=as_of, days=spec.days)
            seconds[side].append(time.perf_counter() - started)
            cpu[side].append(cpu_seconds() - cpu_start)
            for view, s in took.items():
                per_view[side][view].append(s)
            report(f"rep {rep + 1}/{reps}: {side} {seconds[side][-1]:.1f} s")
        if rep == 0:
            report("comparing the two sides' outputs")
            verdict = _verify(home / "spark-0", home / "duckdb-0", views)
            for line in verdict["first_differences"]:
                report(f"DIFFERENCE {line}")
        for side in sides:
            shutil.rmtree(home / f"{side}-{rep}")
    con.close()
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    input_rows = json.loads((silver / "done.json").read_text())["rows"]
    return _outcome(
        spark,
        cfg,
        spec,
        input_rows=input_rows,
        seconds=seconds,
        cpu=cpu,
        per_view=per_view,
        verdict=verdict,
        unmatched=unmatched,
        load=load,
    )


def _verify(spark_out: Path, duckdb_out: Path, views: list[str]) -> dict:
    """Each view's two results compared: rows per side, differences found, the first few."""
    per_view, first = {}, []
    for view in views:
        got = pq.read_table(spark_out / view)
        expected = pq.read_table(duckdb_out / f"{view}.parquet")
        found = find_differences(expected, got, keys=KEYS[view], limit=SHOWN_DIFFERENCES)
        per_view[view] = {
            "rows_spark": got.num_rows,
            "rows_duckdb": expected.num_rows,
            "differences": found.total,
            "first_differences": list(found.shown),
        }
        first += [f"{view}: {line}" for line in found.shown]
    total = sum(v["differences"] for v in per_view.values())
    return {
        "results_equal": total == 0,
        "differences": total,
        "views": per_view,
        "first_differences": first,
    }


def _outcome(spark, cfg, spec, *, input_rows, seconds, cpu, per_view, verdict, unmatched, load):
    rows = input_rows["transactions"]
    medians = {side: statistics.median(took) for side, took in seconds.items()}
    sides = {
        side: {
            "what": WHAT[side],
            "seconds": [round(s, 2) for s in took],
            "median_s": round(medians[side], 2),
            "rows_per_s": round(rows / medians[side]),
            "cpu_seconds": [round(c, 1) for c in cpu[side]],
            "median_s_per_view": {
                view: round(statistics.median(s), 2) for view, s in per_view[side].items()
            },
        }
        for side, took in seconds.items()
    }
    ratio = round(medians["spark"] / medians["duckdb"], 3)
    paired = [s / d for s, d in zip(seconds["spark"], seconds["duckdb"], strict=True)]
    cpu_ratio = statistics.median(cpu["spark"]) / statistics.median(cpu["duckdb"])
    view_ratios = {
        view: round(
            statistics.median(per_view["spark"][view])
            / statistics.median(per_view["duckdb"][view]),
            2,
        )
        for view in per_view["spark"]
    }
    details = {
        "spec": {"customers": spec.customers, "days": spec.days, "seed": spec.seed},
        "as_of": spec.end_date.isoformat(),
        "input_rows": input_rows,
        "repetitions": len(seconds["spark"]),
        **sides,
        "features_ratio_vs_duckdb": ratio,
        "paired_ratios": [round(r, 3) for r in paired],
        "cpu_ratio": round(cpu_ratio, 3),
        "ratio_per_view": view_ratios,
        "goal_ratio": GOAL_RATIO,
        "meets_goal": ratio <= GOAL_RATIO,
        **verdict,
        "views_not_compared": unmatched,
        "load_average_1m": load,
        "spark_session": spark_session(spark, cfg, shuffle_partitions=cfg.spark.shuffle_partitions),
    }
    figures = {
        "features_ratio_vs_duckdb": ratio,
        "features_spark_s": sides["spark"]["median_s"],
        "features_duckdb_s": sides["duckdb"]["median_s"],
        "features_rows": rows,
        "features_spark_rows_per_s": sides["spark"]["rows_per_s"],
        "features_duckdb_rows_per_s": sides["duckdb"]["rows_per_s"],
        "features_results_equal": int(verdict["results_equal"]),
        "features_differences": verdict["differences"],
    }
    return Outcome(details=details, figures=figures)
