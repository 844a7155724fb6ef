"""TPC-H through the CSV path: DuckDB generates, Spark loads, and DuckDB reading the Delta
tables through delta-rs (no Spark code) finds exactly DuckDB's own tables; bad lines are
quarantined by file and line number; a re-run changes nothing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from jobs import ingest_tpch
from lakehouse import Warehouse, load_config
from lakehouse.generate.tpch import TPCH_TABLES, connect, drop_dir
from lakehouse.quality import QualityGateError
from lakehouse.run import RunContext
from schemas.tpch import TPCH_TABLES as CONTRACTS
from schemas.tpch import source_schema

pytestmark = pytest.mark.integration

SF = 0.01
DAY = dt.date(2024, 5, 1)
DIRTY_DAY = dt.date(2024, 5, 2)
TOO_DIRTY_DAY = dt.date(2024, 5, 3)
GOOD = "1,1,1,1,{qty},901.00,{discount},0.02,{flag},O,1996-03-13,1996-02-12,1996-03-22,NONE,MAIL,ok"


def load(spark, cfg, day=DAY, **options):
    context = RunContext.start("ingest_tpch", day)
    return ingest_tpch.run(spark, cfg, scale_factor=SF, context=context, **options)


@pytest.fixture(scope="module")
def reference():
    """DuckDB's own TPC-H tables at the same scale factor: the oracle."""
    con = connect(scale_factor=SF)
    yield con
    con.close()


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory, test_environ):
    home = tmp_path_factory.mktemp("tpch-home")
    environ = {**test_environ, "LAKEHOUSE_HOME": str(home)}
    cfg = load_config("local", environ=environ)
    result = load(spark, cfg)
    return cfg, environ, result


def delta_arrow(cfg, table: str) -> pa.Table:
    return DeltaTable(Warehouse.from_config(cfg).uri_for(f"tpch.{table}")).to_pyarrow_table()


def test_all_8_tables_load_on_the_fast_path(lake):
    _, _, result = lake
    assert sorted(load.table for load in result.loads) == sorted(f"tpch.{t}" for t in TPCH_TABLES)
    assert {load.path for load in result.loads} == {"fast"}
    assert all(load.rows_in == load.rows_written for load in result.loads)


@pytest.mark.parametrize("table", TPCH_TABLES)
def test_each_table_equals_duckdbs_row_for_row(lake, reference, table):
    cfg, _, _ = lake
    got = delta_arrow(cfg, table)  # noqa: F841 (DuckDB scans it by name)
    columns = ", ".join(source_schema(CONTRACTS[table]).fieldNames())
    count = (
        f"SELECT count(*) FROM (SELECT {columns} FROM {{}} EXCEPT ALL SELECT {columns} FROM {{}})"
    )
    assert reference.sql(count.format(table, "got")).fetchone() == (0,)
    assert reference.sql(count.format("got", table)).fetchone() == (0,)


@pytest.mark.parametrize("table", TPCH_TABLES)
def test_row_counts_and_column_sums_equal_duckdbs(lake, reference, table):
    cfg, _, _ = lake
    got = delta_arrow(cfg, table)  # noqa: F841
    numeric = [
        f.name
        for f in source_schema(CONTRACTS[table]).fields
        if f.dataType.simpleString() in ("bigint", "int", "decimal(15,2)")
    ]
    totals = ", ".join(["count(*)", *(f"sum({c})" for c in numeric)])
    want = reference.sql(f"SELECT {totals} FROM {table}").fetchone()
    assert reference.sql(f"SELECT {totals} FROM got").fetchone() == want


def test_decimals_stay_exact_decimals_and_dates_stay_dates(lake):
    cfg, _, _ = lake
    schema = delta_arrow(cfg, "lineitem").schema
    assert schema.field("l_extendedprice").type == pa.decimal128(15, 2)
    assert schema.field("l_shipdate").type == pa.date32()
    assert schema.field("l_orderkey").type == pa.int64()
    table = Warehouse.from_config(cfg).table("tpch.lineitem")
    assert table.partition_columns == ["l_shipyear"]
    years = delta_arrow(cfg, "lineitem").column("l_shipyear").unique().to_pylist()
    assert sorted(years) == list(range(1992, 1999))


def test_lakehouse_tables_lists_them(lake):
    _, environ, _ = lake
    listed = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "tables", "--json"],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = {t["name"]: t["rows"] for t in json.loads(listed.stdout)}
    assert rows["tpch.lineitem"] == 60_175
    assert {f"tpch.{t}" for t in TPCH_TABLES} <= set(rows)


def test_a_rerun_reuses_the_drops_and_leaves_the_same_rows(spark, lake):
    cfg, _, first = lake
    again = load(spark, cfg)
    assert again.generated == ()
    counts = [(x.table, x.rows_written) for x in again.loads]
    assert counts == [(x.table, x.rows_written) for x in first.loads]
    warehouse = Warehouse.from_config(cfg)
    assert [(x.table, warehouse.table(x.table).count()) for x in again.loads] == counts


@pytest.fixture(scope="module")
def dirty_lake(lake, test_environ, tmp_path_factory):
    """A second warehouse whose lineitem drops are DuckDB's file plus bad lines."""
    cfg, _, _ = lake
    home = tmp_path_factory.mktemp("tpch-dirty")
    dirty = load_config("local", environ={**test_environ, "LAKEHOUSE_HOME": str(home)})
    return dirty, drop_dir(cfg.path("landing"), "lineitem", DAY) / "lineitem.csv"


def deliver(clean, cfg, day: dt.date, extra: list[bytes], *, keep_rows: int | None = None):
    """DuckDB's file (its first ``keep_rows`` rows) with ``extra`` lines from line 2 on."""
    drop = drop_dir(cfg.path("landing"), "lineitem", day)
    drop.mkdir(parents=True)
    header, *rows = clean.read_bytes().rstrip(b"\n").split(b"\n")
    kept = rows if keep_rows is None else rows[:keep_rows]
    (drop / "lineitem.csv").write_bytes(b"\n".join([header, *extra, *kept]) + b"\n")


def test_bad_lines_are_quarantined_by_line_and_the_rest_loads(spark, dirty_lake, reference):
    cfg, clean = dirty_lake
    bad = [
        GOOD.format(qty="abc", discount="0.04", flag="N").encode(),
        b"1,1,1,1,17.00,901.00",
        b'1,1,1,1,"17.00,901.00,0.04,0.02,N,O,1996-03-13,1996-02-12,1996-03-22,NONE,MAIL,x',
        GOOD.format(qty="17.00", discount="0.04", flag="N").encode()[:-2] + b"\xff\xfe",
        GOOD.format(qty="17.00", discount="0.50", flag="N").encode(),
        GOOD.format(qty="17.00", discount="0.04", flag="X").encode(),
    ]
    deliver(clean, cfg, DIRTY_DAY, bad)
    # GX must agree with the flags on the first 100 rows: the failing ones among them.
    result = load(spark, cfg, DIRTY_DAY, tables=["lineitem"], generate=False, gx_sample_rows=100)
    (lineitem,) = result.loads
    assert (lineitem.path, lineitem.rows_in, lineitem.rows_written) == ("exact", 60_181, 60_175)
    quarantine = Warehouse.from_config(cfg).table("ops.quarantine").to_spark(spark)
    refused = {
        (r["line_number"], r["rule"], r["reason"].split(":")[0])
        for r in quarantine.where(f"run_date = DATE'{DIRTY_DAY}'").collect()
    }
    assert refused == {
        (2, "malformed_csv", "unconvertible value"),
        (3, "malformed_csv", "wrong column count"),
        (4, "malformed_csv", "bad quoting"),
        (5, "malformed_csv", "bad encoding"),
        (6, "discount_in_range", "l_discount outside [0.0, 0.1]"),
        (7, "returnflag_known", "l_returnflag not in ['A', 'N', 'R']"),
    }
    got = delta_arrow(cfg, "lineitem")  # noqa: F841
    assert (
        reference.sql(
            "SELECT * FROM lineitem EXCEPT ALL SELECT * EXCLUDE (l_shipyear) FROM got"
        ).fetchall()
        == []
    )


def test_above_the_failure_limit_nothing_is_written(spark, dirty_lake):
    cfg, clean = dirty_lake
    table = Warehouse.from_config(cfg).create(CONTRACTS["lineitem"])
    before = table.version
    failing = [GOOD.format(qty="17.00", discount="0.50", flag="N").encode()] * 30
    deliver(clean, cfg, TOO_DIRTY_DAY, failing, keep_rows=970)  # 3% fail, the limit is 1%
    with pytest.raises(QualityGateError, match=r"tpch.lineitem: 30 of 1000 rows \(3.0%\) failed"):
        load(spark, cfg, TOO_DIRTY_DAY, tables=["lineitem"], generate=False, gx_sample_rows=0)
    assert table.version == before
    quarantine = Warehouse.from_config(cfg).table("ops.quarantine").to_spark(spark)
    assert quarantine.where(f"run_date = DATE'{TOO_DIRTY_DAY}'").count() == 30


def test_an_aborted_fast_path_leaves_no_staging_files(spark, dirty_lake):
    cfg, _ = dirty_lake
    drop = drop_dir(cfg.path("landing"), "region", TOO_DIRTY_DAY)
    drop.mkdir(parents=True)
    (drop / "region.csv").write_text("r_regionkey,r_name,r_comment\n0,AFRICA,ok\nx,ASIA,bad\n")
    with pytest.raises(QualityGateError):  # 1 of 2 rows fails, the limit is 1%
        load(spark, cfg, TOO_DIRTY_DAY, tables=["region"], generate=False, gx_sample_rows=0)
    staging = Warehouse.from_config(cfg).table("tpch.region").uri + "/_staging"
    assert [p.name for p in Path(staging).glob("*")] == []


def test_the_cli_explains_ingest_tpch(test_environ):
    shown = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "ingest", "tpch", "--help"],
        env=test_environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "--sf" in shown.stdout
    assert "--gx-sample-rows" in shown.stdout


def test_great_expectations_confirms_the_flags_on_a_sample(spark, lake):
    cfg, _, _ = lake
    (region,) = load(spark, cfg, tables=["region"], gx_sample_rows=10).loads
    results = Warehouse.from_config(cfg).table("ops.quality_results").to_spark(spark)
    confirmed = results.where("table_name = 'tpch.region'").select("confirmed_by_gx").distinct()
    assert (region.path, [r[0] for r in confirmed.collect()]) == ("fast", [True])
