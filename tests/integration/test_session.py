"""The session factory applies the config: UTC, adaptive execution, JDBC jars, test sizing."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_session_runs_in_utc_with_adaptive_execution(spark):
    conf = spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert conf.get("spark.sql.adaptive.enabled") == "true"
    assert conf.get("spark.sql.parquet.outputTimestampType") == "TIMESTAMP_MICROS"
    assert (
        spark.sql("SELECT CAST(TIMESTAMP'2024-01-01 00:00:00' AS BIGINT) AS s").first()["s"]
        == 1704067200
    )


def test_session_uses_the_test_overrides(spark):
    assert spark.sparkContext.master == "local[2]"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.sparkContext.getConf().get("spark.ui.enabled") == "false"


def test_jdbc_driver_jars_present_are_on_the_classpath(spark, cfg):
    jars = spark.sparkContext.getConf().get("spark.jars", "")
    for jar in cfg.spark.jars:
        assert (jar in jars) == Path(jar).is_file()


def test_python_workers_run_the_project_interpreter(spark):
    import pandas as pd

    def plus_one(batches):
        for batch in batches:
            yield pd.DataFrame({"id": batch["id"] + 1})

    got = spark.range(3).mapInPandas(plus_one, "id long").collect()
    assert sorted(r["id"] for r in got) == [1, 2, 3]


def test_python_workers_import_pyspark_from_site_packages_not_the_zip(spark):
    # Spark puts $SPARK_HOME/python/lib/pyspark.zip first on its Python processes' path; the
    # lean home (lakehouse/_spark_home.py) leaves it out so they use the compiled package.
    import pandas as pd

    def pyspark_file(batches):
        import pyspark

        for _ in batches:
            yield pd.DataFrame({"file": [pyspark.__file__]})

    (row,) = spark.range(1).repartition(1).mapInPandas(pyspark_file, "file string").collect()
    assert ".zip" not in row["file"]
    assert Path(row["file"]).is_file()


def test_python_workers_are_forked_from_the_daemon_that_preloads_their_imports(spark):
    # lakehouse/spark_worker.py imports pandas, pyarrow, scikit-learn and the streaming tasks'
    # modules once; a worker forked from it has them before its first task.
    import pandas as pd

    def daemon(batches):
        import sys

        main = sys.modules["__main__"]
        for _ in batches:
            yield pd.DataFrame({"main": [getattr(main, "__file__", "")]})

    (row,) = spark.range(1).repartition(1).mapInPandas(daemon, "main string").collect()
    assert row["main"].endswith("lakehouse/spark_worker.py")
