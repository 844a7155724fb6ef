"""What every benchmark measures with: its own state directory, a settled disk between
repetitions, the CPU time of this process and its JVM, and the Spark session it ran on."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from lakehouse import Config

__all__ = ["bench_environ", "bench_spark", "cpu_seconds", "settle", "spark_session"]

# Benchmarks compare on 2 cores unless the caller's LAKEHOUSE__SPARK__MASTER says otherwise.
SPARK_MASTER = "local[2]"


def bench_environ(home: Path) -> dict[str, str]:
    """The environment a benchmark loads its config from: the caller's LAKEHOUSE__*
    overrides (e.g. SPARK__MASTER) apply; the state dir is the benchmark's."""
    overrides = {k: v for k, v in os.environ.items() if k.startswith("LAKEHOUSE__")}
    quiet = {"LAKEHOUSE__SPARK__UI_ENABLED": "false", "LAKEHOUSE__SPARK__LOG_LEVEL": "ERROR"}
    return {**quiet, **overrides, "LAKEHOUSE_HOME": str(home)}


@contextmanager
def bench_spark(
    name: str, *, report: Callable[[str], None]
) -> Iterator[tuple[SparkSession, Config, Path]]:
    """A private state directory, the config over it and a Spark session, all gone after."""
    from lakehouse import build_spark, load_config

    home = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    try:
        environ = {"LAKEHOUSE__SPARK__MASTER": SPARK_MASTER, **bench_environ(home)}
        cfg = load_config("local", environ=environ)
        report(f"starting Spark ({cfg.spark.master}, driver memory {cfg.spark.driver_memory})")
        spark = build_spark(f"bench-{name}", cfg)
        try:
            yield spark, cfg, home
        finally:
            spark.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)


def settle() -> None:
    # Flush the previous repetition's dirty pages so their writeback is not billed to this one.
    os.sync()


def cpu_seconds() -> float:
    """CPU time of this process and its children still running (the JVM)."""
    own = os.times()
    total = own.user + own.system
    ticks = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():  # ppid
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def spark_session(spark: SparkSession, cfg: Config, **settings: Any) -> dict[str, Any]:
    """The session a benchmark ran on, plus the settings that benchmark depends on."""
    return {
        "master": cfg.spark.master,
        "default_parallelism": spark.sparkContext.defaultParallelism,
        "driver_memory": cfg.spark.driver_memory,
        **settings,
    }
