"""build_spark: the only place a SparkSession is created."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pyspark import SparkConf
from pyspark.sql import SparkSession

from lakehouse.config import Config

__all__ = ["build_spark"]


def build_spark(app_name: str, cfg: Config) -> SparkSession:
    """Return the session for ``app_name`` configured from ``cfg``.

    Under ``spark-submit`` the launcher's master, jars and memory win: this only fills in what
    was not set, so the same job code runs unchanged on a cluster.
    """
    launched = SparkConf()  # holds what spark-submit passed, empty in a plain python process
    builder = SparkSession.builder.appName(app_name)
    if not launched.contains("spark.master"):
        builder = builder.master(cfg.spark.master)
        builder = builder.config("spark.driver.memory", cfg.spark.driver_memory)
        if cfg.spark.master.startswith("local"):
            # Stay on loopback: the hostname may resolve to an address other machines reach.
            builder = builder.config("spark.driver.host", "127.0.0.1")
            builder = builder.config("spark.driver.bindAddress", "127.0.0.1")
        # Workers must run this interpreter (the venv's), or pandas UDFs cannot import pyarrow.
        # PySpark's SparkContext takes the worker command from this variable, not from conf.
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        if cfg.spark.master.startswith("local"):
            _use_lean_spark_home()
        if cfg.spark.preload_workers:
            # Only where this process starts Spark: under spark-submit the code may travel as
            # --py-files, which a worker adds to its path per task, too late for the daemon.
            builder = builder.config("spark.python.daemon.module", "lakehouse.spark_worker")
    jars = _present_jars(cfg.spark.jars, launched.get("spark.jars", ""))
    if jars:
        builder = builder.config("spark.jars", jars)
    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": " ".join(["-Duser.timezone=UTC", *cfg.spark.jvm_options]),
        "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.shuffle.partitions": str(cfg.spark.shuffle_partitions),
        "spark.ui.enabled": str(cfg.spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": cfg.spark.log_level,
        # delta-rs, DuckDB and Polars read microsecond timestamps; Spark's default INT96 is legacy.
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.maxRecordsPerBatch": str(cfg.spark.arrow_batch_size),
        # file:// paths without Hadoop's .crc side files (which no other reader of the tables
        # uses): a streaming query writes two small checkpoint files a micro-batch, and with
        # checksums they took ~120 ms of each scorer batch here instead of ~70.
        "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
        "spark.hadoop.fs.AbstractFileSystem.file.impl": "org.apache.hadoop.fs.local.RawLocalFs",
        **cfg.spark.extra,
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def _use_lean_spark_home() -> None:
    # Read by PySpark's launcher when it starts the JVM (see _spark_home.py); a session that
    # already runs keeps the home it started with.
    import pyspark
    from pyspark.find_spark_home import _find_spark_home

    from lakehouse._spark_home import lean_spark_home

    package = Path(pyspark.__file__).parent
    home = lean_spark_home(
        Path(_find_spark_home()),
        package=package,
        version=pyspark.__version__,
        under=Path(sys.prefix) / "share" / "lakehouse",
    )
    if home is not None:
        os.environ["SPARK_HOME"] = str(home)


def _present_jars(wanted: tuple[str, ...], already: str) -> str:
    # A missing driver jar only matters to the job that uses JDBC; that job reports it.
    present = [j for j in wanted if Path(j).is_file()]
    return ",".join(p for p in [already, *present] if p)
