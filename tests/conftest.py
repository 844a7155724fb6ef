"""One Spark session per test process (local[2], UI off, few shuffle partitions).

`make test` runs two pytest-xdist workers, whole modules each (--dist loadfile): each worker
has its own Spark session, state directory and services on its own free ports.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pytest

import __main__

if not hasattr(__main__, "__file__"):
    # An xdist worker's __main__ has neither __spec__ nor __file__; pyspark.sql.connect then
    # takes the process for a doctest run and calls sys.exit(0) when grpc is missing (it is:
    # Spark Connect is not used), e.g. when great-expectations imports it.
    __main__.__file__ = "pytest-xdist-worker"

from lakehouse import Config, Warehouse, build_spark, load_config, services
from lakehouse.services._process import free_port

# Modules that take minutes, longest first. `make test` hands whole modules to the workers in
# collection order (--dist loadfile --no-loadscope-reorder): starting the longest first keeps
# them from running last on one worker while the other sits idle. Measured with --durations.
SLOWEST_FIRST = (
    "test_dags",
    "test_demo",
    "test_ingest_crash",
    "test_stream_ops",
    "test_daily_batch",
    "test_delta_crash",
    "test_pii_scan",
    "test_models_other",
    "test_silver_transactions",
    "test_silver_customers",
    "test_train_churn",
    "test_score_job",
    "test_cli",
    "test_ingest_csv",
    "test_stream_score",
    "test_feature_store",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))  # stable: others keep order


TEST_OVERRIDES = {
    "LAKEHOUSE__SPARK__MASTER": "local[2]",
    "LAKEHOUSE__SPARK__UI_ENABLED": "false",
    "LAKEHOUSE__SPARK__SHUFFLE_PARTITIONS": "2",
    "LAKEHOUSE__SPARK__DRIVER_MEMORY": "2g",
    "LAKEHOUSE__SPARK__LOG_LEVEL": "ERROR",
    # The row flags decide every gate; GX re-validation is proven by the modules that turn it
    # on (tests/unit/test_quality.py, test_silver_transactions.py) and costs seconds per gate.
    "LAKEHOUSE__QUALITY__CONFIRM_WITH_GX": "false",
}


@pytest.fixture(scope="session")
def test_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lakehouse-home")


@pytest.fixture(scope="session")
def services_dir() -> Path:
    # Not under pytest's 0700 temp root: PostgreSQL runs as the 'postgres' account when the
    # tests run as root, and must be able to enter its data directory.
    path = Path(tempfile.mkdtemp(prefix="lakehouse-test-services-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# A class-data sharing archive of the classes a Spark job loads, made once per machine and
# Spark version (~55 s), with C1-only JIT: every test JVM (the session, and each `lakehouse`
# process a test starts) then starts in about half the time. A stale or unreadable archive is
# ignored by the JVM, silently.
ARCHIVE_DIR = Path(__file__).resolve().parent.parent / ".cache" / "jvm"
ARCHIVE_WORKLOAD = """
import os, sys
from lakehouse import build_spark, load_config
import pandas as pd
from pyspark.sql import Window, functions as F
spark = build_spark("class-archive", load_config("local", environ=os.environ))
out = sys.argv[1]
df = spark.createDataFrame(pd.DataFrame({"k": [1, 2, 2], "v": [1.0, 2.0, 3.0]}))
df = df.withColumn("r", F.row_number().over(Window.partitionBy("k").orderBy("v")))
df.groupBy("k").agg(F.sum("v"), F.max("r")).write.mode("overwrite").parquet(out)
spark.read.parquet(out).join(df, on="k", how="left").toPandas()
print("jvm_pid", spark._jvm.java.lang.ProcessHandle.current().pid())
"""


def jvm_archive(environ: dict[str, str]) -> Path:
    """The archive for this pyspark and java, made under a lock if missing (xdist workers)."""
    import pyspark

    java = Path(shutil.which("java") or "java").resolve()
    path = ARCHIVE_DIR / f"spark-{pyspark.__version__}-{java.stat().st_mtime_ns}.jsa"
    ARCHIVE_DIR.mkdir(parents=True, exist_ok=True)
    with open(ARCHIVE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            _make_archive(path, environ)
    return path


def _make_archive(path: Path, environ: dict[str, str]) -> None:
    partial = path.with_suffix(f".{os.getpid()}.partial")
    with tempfile.TemporaryDirectory() as scratch:
        env = {**environ, "LAKEHOUSE_HOME": scratch}
        env["LAKEHOUSE__SPARK__JVM_OPTIONS"] = json.dumps([f"-XX:ArchiveClassesAtExit={partial}"])
        done = subprocess.run(
            [sys.executable, "-c", ARCHIVE_WORKLOAD, f"{scratch}/out"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    if done.returncode != 0:  # only slower without it; the tests themselves will tell why
        warnings.warn(f"no JVM class archive: {done.stderr[-2000:]}", stacklevel=1)
        return
    # The JVM's own warnings share stdout.
    jvm = next(int(ln.split()[1]) for ln in done.stdout.splitlines() if ln.startswith("jvm_pid "))
    deadline = time.monotonic() + 120  # the JVM writes the archive as it exits, after Python
    while _alive(jvm) and time.monotonic() < deadline:
        time.sleep(0.2)
    if partial.exists() and not _alive(jvm):
        partial.rename(path)
    else:  # a JVM still writing after 2 minutes: no archive this run, and no 180 MB left
        warnings.warn("no JVM class archive: the archiving JVM did not exit", stacklevel=1)
        partial.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"  # an orphan nobody reaps stays a zombie, its work done


@pytest.fixture(scope="session")
def test_environ(test_home: Path, services_dir: Path) -> dict[str, str]:
    """The environment a job or subprocess under test sees: private state dir, private ports,
    small Spark, fast JVM start-up."""
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "LAKEHOUSE_ENV": "local",
        "LAKEHOUSE_HOME": str(test_home),
        "LAKEHOUSE__PATHS__SERVICES": str(services_dir),
        "LAKEHOUSE__MYSQL__PORT": str(free_port()),
        "LAKEHOUSE__REDSHIFT__PORT": str(free_port()),
        "LAKEHOUSE__S3__ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        **TEST_OVERRIDES,
    }
    archive = jvm_archive(environ)
    environ["LAKEHOUSE__SPARK__JVM_OPTIONS"] = json.dumps(
        [f"-XX:SharedArchiveFile={archive}", "-XX:TieredStopAtLevel=1"]
    )
    return environ


@pytest.fixture(scope="session")
def cfg(test_environ: dict[str, str]) -> Config:
    return load_config("local", environ=test_environ)


@pytest.fixture(scope="session")
def spark(cfg: Config):
    session = build_spark("lakehouse-tests", cfg)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def local_services(cfg: Config):
    """MariaDB, PostgreSQL, the Kafka-protocol broker and S3, started once for the run."""
    statuses = services.up(cfg)
    yield {s.name: s for s in statuses}
    services.down(cfg)


@pytest.fixture
def empty_shop_db(cfg: Config, local_services) -> None:
    """The MariaDB source without tables from earlier tests (each loads its own data set)."""
    import pymysql

    from lakehouse.generate.mysql_sink import PRIMARY_KEYS

    m = cfg.mysql
    conn = pymysql.connect(host=m.host, port=m.port, user=m.user, password="", database=m.database)
    try:
        with conn.cursor() as cur:
            for table in PRIMARY_KEYS:
                cur.execute(f"DROP TABLE IF EXISTS `{table}`")  # names are the sink's constants
    finally:
        conn.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    """A fresh, empty warehouse per test."""
    return Warehouse(str(tmp_path / "warehouse"))
