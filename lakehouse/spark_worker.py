"""The daemon Spark forks its Python workers from (``spark.python.daemon.module``), with the
libraries the workers of this project use imported once, before the forks.

PySpark's own daemon imports nothing of ours, so each new Python worker paid its imports in its
first task: scikit-learn alone ~1-1.5 s (scipy), pandas and pyarrow ~0.8 s, the streaming
tasks' modules ~1.5 s more. Spark starts workers on demand and hands tasks to whichever is idle,
so a worker that had served the Kafka source's read paid the scorer's imports the first time it
scored: a 1 s micro-batch took 4 s, and the scorer needed several batches to catch up with the
backlog it made. A forked worker inherits these modules already imported.

Forking after the imports is what ``multiprocessing``'s default start method does with the same
libraries (numpy's OpenBLAS and pyarrow's jemalloc register their fork handlers). A module that
cannot be imported here (a cluster without one of the extras) is skipped: the worker that needs
it reports the ImportError itself.

    spark.python.daemon.module = lakehouse.spark_worker   (SparkConfig.preload_workers)
"""

from __future__ import annotations

import contextlib
import importlib
import sys

__all__ = ["PRELOAD", "main"]

PRELOAD = (
    "pandas",
    "pyarrow.compute",
    "pyarrow.dataset",
    "pyarrow.parquet",
    "sklearn.ensemble",
    "xgboost",
    "confluent_kafka",
    "lakehouse.delta",
    "streaming._ingest_task",
    "streaming._score_task",
)


def main() -> None:
    # Spark reads the daemon's port from its stdout: nothing imported may print there.
    with contextlib.redirect_stdout(sys.stderr):
        for module in PRELOAD:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
    from pyspark.daemon import manager

    manager()


if __name__ == "__main__":
    main()
