"""ingest_tpch: TPC-H lineitem CSV -> validated tpch.lineitem, against a plain CSV -> Parquet.

Both sides read the same CSV drop that DuckDB's tpch extension wrote (scale factor 1, 6,001,215
rows, 773 MB; ``--rows N`` below 5M picks a smaller scale factor, N / 6M, for a quick run):

- baseline: ``spark.read.schema(<contract schema>).csv(file).write.parquet(<fresh dir>)``;
- candidate: ``jobs.ingest_tpch.run(tables=["lineitem"], generate=False)`` as the CLI runs it:
  header check, the one-scan parse + malformed-line and suite checks, the write through the
  table layer partitioned by ship year, the commit, and the quality results;
- once more after the repetitions, the candidate with great-expectations confirming the flags
  on a 10,000-row sample (``--gx-sample-rows 10000``), to show what that costs.

Generating the data, checking the candidate's table (row count, fast path) and deleting outputs
are not timed. Repetitions alternate the order, each side's median is reported, and so is the
CPU time of the JVM plus this process (the machine's other load shows in wall time more than in
CPU time).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench._measure import bench_environ, cpu_seconds, settle, spark_session
from bench._record import BenchError, Outcome
from lakehouse import Config, Warehouse, build_spark, load_config

GOAL_RATIO = 1.3
SF1_ROWS = 6_001_215
FULL_SIZE_ROWS = 5_000_000  # `python -m bench`'s default --rows: run at scale factor 1
RUN_DATE = dt.date(2024, 5, 1)
WARM_UP_DATE = dt.date(2024, 4, 30)
WARM_UP_LINES = 100_000
GX_SAMPLE_ROWS = 10_000
WHAT = {
    "baseline": "spark.read.schema(S).option('header', True).csv(f).write.parquet(<fresh dir>)",
    "candidate": "jobs.ingest_tpch.run(tables=['lineitem'], generate=False): checks, "
    "Table.write(mode='overwrite') partitioned by l_shipyear, quality results",
    "candidate_gx_sample": "the candidate with gx_sample_rows=10000 (one run)",
}


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    home = Path(tempfile.mkdtemp(prefix="bench-ingest-tpch-"))
    try:
        cfg = load_config("local", environ=bench_environ(home))
        sf = 1.0 if rows >= FULL_SIZE_ROWS else max(0.001, round(rows / SF1_ROWS, 3))
        report(f"generating TPC-H sf {sf} with DuckDB (not timed)")
        from lakehouse.generate.tpch import write_tpch_drops

        (drop,) = write_tpch_drops(
            cfg.path("landing"), scale_factor=sf, run_date=RUN_DATE, tables=["lineitem"]
        )
        report(f"starting Spark ({cfg.spark.master}, driver memory {cfg.spark.driver_memory})")
        spark = build_spark("bench-ingest-tpch", cfg)
        try:
            return _measure(spark, cfg, home, drop, reps=reps, report=report)
        finally:
            spark.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _measure(spark, cfg: Config, home: Path, drop, *, reps: int, report) -> Outcome:
    from jobs import ingest_tpch
    from lakehouse.run import RunContext
    from schemas.tpch import LINEITEM, source_schema

    schema = source_schema(LINEITEM)
    warehouse = Path(cfg.warehouse_uri)

    loads = []  # the candidate's, checked once its clock has stopped

    def baseline(drop) -> Path:
        target = home / "parquet"
        reader = spark.read.schema(schema).option("header", True)
        reader.csv(str(drop.path)).write.parquet(str(target))
        return target

    def candidate(drop, *, gx_sample_rows: int | None = None) -> Path:
        day = dt.date.fromisoformat(drop.path.parent.name)  # the drop's run date
        context = RunContext.start("bench_ingest_tpch", day)
        (load,) = ingest_tpch.run(
            spark,
            cfg,
            scale_factor=drop.scale_factor,
            context=context,
            tables=["lineitem"],
            generate=False,
            gx_sample_rows=gx_sample_rows,
        ).loads
        loads.append(load)
        return warehouse

    def candidate_gx_sample(drop) -> Path:
        return candidate(drop, gx_sample_rows=GX_SAMPLE_ROWS)

    sides = {"baseline": baseline, "candidate": candidate}
    report(f"warming up (untimed run of each side on the first {WARM_UP_LINES:,} lines)")
    head = _head(cfg, drop)
    for side in (baseline, candidate_gx_sample):  # the GX import too
        shutil.rmtree(side(head))
    seconds: dict[str, list[float]] = {side: [] for side in WHAT}
    cpu: dict[str, list[float]] = {side: [] for side in WHAT}

    def timed(side: str, run_side, rep: int) -> None:
        step = f"rep {rep + 1}/{reps}" if rep < reps else "extra run"
        report(f"{step}: {side}")
        settle()
        cpu_start, started = cpu_seconds(), time.perf_counter()
        written = run_side(drop)
        seconds[side].append(time.perf_counter() - started)
        cpu[side].append(cpu_seconds() - cpu_start)
        report(f"{step}: {side} {seconds[side][-1]:.1f} s")
        if side != "baseline":
            _verify(cfg, loads[-1], drop.rows)
        shutil.rmtree(written)

    load_before = os.getloadavg()[0]
    for rep in range(reps):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for side in order:
            timed(side, sides[side], rep)
    timed("candidate_gx_sample", candidate_gx_sample, reps)
    load = {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)}
    return _outcome(spark, cfg, drop, seconds=seconds, cpu=cpu, load=load)


def _head(cfg: Config, drop):
    """The drop's first lines as a drop of its own: the warm-up's input (the first jobs of a JVM
    pay for class loading and code generation)."""
    from lakehouse.generate.tpch import drop_dir

    path = drop_dir(cfg.path("landing"), "lineitem", WARM_UP_DATE) / "lineitem.csv"
    path.parent.mkdir(parents=True)
    with drop.path.open("rb") as source, path.open("wb") as out:
        for _, line in zip(range(WARM_UP_LINES + 1), source, strict=False):
            out.write(line)
    return replace(drop, path=path, rows=WARM_UP_LINES)


def _verify(cfg: Config, load, rows: int) -> None:
    lineitem = Warehouse.from_config(cfg).table("tpch.lineitem")
    from_files = lineitem.to_arrow_dataset().count_rows()
    if (load.path, load.rows_written, from_files) != ("fast", rows, rows):
        raise BenchError(
            f"ingest_tpch: the load took the {load.path} path and wrote {load.rows_written:,} "
            f"rows ({from_files:,} read back), expected the fast path and {rows:,}; the "
            "figures are void"
        )


def _outcome(spark, cfg: Config, drop, *, seconds, cpu, load) -> Outcome:
    medians = {side: statistics.median(took) for side, took in seconds.items()}
    sides = {
        side: {
            "what": WHAT[side],
            "seconds": [round(s, 2) for s in took],
            "median_s": round(medians[side], 2),
            "rows_per_s": round(drop.rows / medians[side]),
            "cpu_seconds": [round(c, 1) for c in cpu[side]],
        }
        for side, took in seconds.items()
    }
    ratio = round(medians["candidate"] / medians["baseline"], 3)
    paired = [c / b for c, b in zip(seconds["candidate"], seconds["baseline"], strict=True)]
    cpu_ratio = statistics.median(cpu["candidate"]) / statistics.median(cpu["baseline"])
    with_gx = medians["candidate_gx_sample"] / medians["baseline"]
    details = {
        "scale_factor": drop.scale_factor,
        "rows": drop.rows,
        "csv_bytes": drop.path.stat().st_size,
        "repetitions": len(seconds["baseline"]),
        **sides,
        "ingest_ratio_vs_spark_parquet": ratio,
        "paired_ratios": [round(r, 3) for r in paired],
        "cpu_ratio": round(cpu_ratio, 3),
        "goal_ratio": GOAL_RATIO,
        "meets_goal": ratio <= GOAL_RATIO,
        "ratio_with_gx_sample_vs_spark_parquet": round(with_gx, 3),
        "load_average_1m": load,
        "spark": spark_session(spark, cfg),
    }
    figures = {
        "ingest_ratio_vs_spark_parquet": ratio,
        "ingest_rows_per_s": sides["candidate"]["rows_per_s"],
    }
    return Outcome(details=details, figures=figures)
