"""CSV drops -> bronze: every line of every file lands in bronze or quarantine, exactly the
generator's malformed lines are quarantined with their reason, re-runs and re-sent files never
duplicate."""

from __future__ import annotations

import datetime as dt
import shutil

import pyarrow.parquet as pq
import pytest

from jobs import ingest_csv
from lakehouse import Warehouse, load_config
from lakehouse.errors import SourceUnavailableError
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.run import RunContext

pytestmark = pytest.mark.integration

START = dt.date(2024, 4, 1)
SPEC = GeneratorSpec(customers=300, days=4, seed=21, start_date=START, defect_rate=0.03)
MALFORMED_KINDS = {"bad_quoting": "bad quoting", "wrong_column_count": "wrong column count"}


@pytest.fixture(scope="module")
def lake(tmp_path_factory, test_environ):
    home = tmp_path_factory.mktemp("ingest-home")
    data = generate(SPEC, landing=home / "landing", truth=home / "truth")
    cfg = load_config("local", environ={**test_environ, "LAKEHOUSE_HOME": str(home)})
    return cfg, data


def ingest(spark, cfg, day: dt.date):
    return ingest_csv.run(
        spark, cfg, source="transactions", context=RunContext.start("ingest_csv", day)
    )


def data_lines(cfg, day: dt.date) -> set[tuple[str, int]]:
    """(file, line number) of every non-blank data line, read with plain Python."""
    lines = set()
    for path in (cfg.path("landing") / "transactions" / day.isoformat()).glob("*.csv"):
        for number, text in enumerate(
            path.read_text(encoding="utf-8", errors="replace").split("\n"), 1
        ):
            if number > 1 and text.strip():
                lines.add((path.name, number))
    return lines


def test_every_line_lands_once_and_malformed_ones_match_the_truth(spark, lake):
    cfg, data = lake
    day = START + dt.timedelta(days=1)
    result = ingest(spark, cfg, day)
    warehouse = Warehouse.from_config(cfg)
    bronze = warehouse.table("bronze.transactions").to_spark(
        spark, filters=[("_run_date", "=", day)]
    )
    quarantine = warehouse.table("ops.quarantine").to_spark(
        spark, filters=[("table_name", "=", "bronze.transactions"), ("run_date", "=", day)]
    )
    in_bronze = {(r["_source_file"], r["_line_number"]) for r in bronze.collect()}
    refused = {(r["source_file"], r["line_number"]): r["reason"] for r in quarantine.collect()}
    assert not in_bronze & set(refused)
    assert in_bronze | set(refused) == data_lines(cfg, day)
    truth = pq.read_table(data.truth / "defects.parquet").to_pylist()
    expected = {
        (d["file"].rsplit("/", 1)[-1], d["line_no"]): MALFORMED_KINDS[d["defect_kind"]]
        for d in truth
        if d["defect_kind"] in MALFORMED_KINDS and d["file"].startswith(f"transactions/{day}")
    }
    assert expected, "the generator injected no malformed lines on this day"
    assert {k: v.split(":")[0] for k, v in refused.items()} == expected
    assert (result.rows, result.quarantined) == (len(in_bronze), len(refused))


def test_rerunning_a_day_leaves_the_same_rows(spark, lake):
    cfg, _ = lake
    first = ingest(spark, cfg, START)
    again = ingest(spark, cfg, START)
    assert (again.rows, again.quarantined) == (first.rows, first.quarantined)
    bronze = Warehouse.from_config(cfg).table("bronze.transactions")
    assert bronze.to_spark(spark, filters=[("_run_date", "=", START)]).count() == first.rows


def test_a_resent_file_is_quarantined_not_loaded_twice(spark, lake):
    cfg, _ = lake
    ingest(spark, cfg, START)
    late_drop = cfg.path("landing") / "transactions" / (START + dt.timedelta(days=3)).isoformat()
    original = next((cfg.path("landing") / "transactions" / START.isoformat()).glob("*.csv"))
    shutil.copy(original, late_drop / "transactions_resent.csv")
    try:
        result = ingest(spark, cfg, START + dt.timedelta(days=3))
    finally:
        (late_drop / "transactions_resent.csv").unlink()
    assert result.resent_files == 1
    quarantine = Warehouse.from_config(cfg).table("ops.quarantine").to_spark(spark)
    resent = quarantine.where("rule = 'resent_file'").collect()
    assert [r["source_file"] for r in resent] == ["transactions_resent.csv"]
    assert original.name in resent[0]["reason"]
    bronze = Warehouse.from_config(cfg).table("bronze.transactions").to_spark(spark)
    assert bronze.where("_source_file = 'transactions_resent.csv'").count() == 0


def test_bad_encoding_is_quarantined_with_its_reason(spark, lake, tmp_path, test_environ):
    cfg = load_config("local", environ={**test_environ, "LAKEHOUSE_HOME": str(tmp_path)})
    drop = cfg.path("landing") / "transactions" / START.isoformat()
    drop.mkdir(parents=True)
    header = ",".join(ingest_csv.bronze_contracts()["transactions"].column_names[:11])
    good = "T1,C1,A1,2024-04-01T10:00:00Z,-1.00,EUR,LIDL 1,groceries,card,Paris,"
    latin1 = "T2,C1,A1,2024-04-01T11:00:00Z,-2.00,EUR,Caf\xe9 Rouge,dining,card,Paris,"
    (drop / "t.csv").write_bytes(f"{header}\n{good}\n".encode() + latin1.encode("latin-1") + b"\n")
    result = ingest(spark, cfg, START)
    assert (result.rows, result.quarantined) == (1, 1)
    (row,) = Warehouse.from_config(cfg).table("ops.quarantine").to_spark(spark).collect()
    assert (row["line_number"], row["reason"]) == (3, "bad encoding: not UTF-8")


def test_a_missing_drop_is_a_clear_error(spark, lake):
    cfg, _ = lake
    with pytest.raises(SourceUnavailableError, match="was the drop delivered"):
        ingest(spark, cfg, dt.date(2031, 1, 1))


def test_the_job_runs_under_spark_submit_from_the_cluster_bundle(lake, test_environ, tmp_path):
    """The job launched the way a cluster launches it: spark-submit with the project's
    packages from the bundle's zip (--py-files) and conf/ unpacked from its archive, from a
    directory outside the repository."""
    import os
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    cfg, _ = lake
    repo = Path(ingest_csv.__file__).resolve().parent.parent
    bundle = tmp_path / "dist"
    script = repo / "scripts" / "cluster_bundle.py"
    subprocess.run(
        [sys.executable, str(script), "--out", str(bundle), "--no-wheel"],
        check=True,
        capture_output=True,
    )
    zipfile.ZipFile(bundle / "conf.zip").extractall(tmp_path / "conf")
    bin_dir = str(Path(sys.executable).parent)
    src = str(bundle / "lakehouse-src.zip")
    env = {
        **test_environ,
        "LAKEHOUSE_HOME": str(cfg.home),
        "LAKEHOUSE_CONF_DIR": str(tmp_path / "conf"),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": src,  # what --py-files puts first on the driver's path
    }
    imported = subprocess.run(
        [
            sys.executable,
            "-c",
            "import jobs.ingest_csv as j, lakehouse as l; print(j.__file__, l.__file__)",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.split() == [f"{src}/jobs/ingest_csv.py", f"{src}/lakehouse/__init__.py"]
    job = tmp_path / "ingest_csv.py"
    with zipfile.ZipFile(src) as packages:
        job.write_bytes(packages.read("jobs/ingest_csv.py"))  # the entry point, from the zip
    done = subprocess.run(
        [
            f"{bin_dir}/spark-submit",
            "--master",
            "local[2]",
            "--py-files",
            src,
            str(job),
            "--source",
            "transactions",
            "--run-date",
            (START + dt.timedelta(days=2)).isoformat(),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "IngestResult(source='transactions'" in done.stdout
