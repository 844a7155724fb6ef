"""bronze -> silver.transactions on generator data: each injected defect is quarantined under
the rule that names it, duplicates collapse, late rows reach their event date, no account
number survives untokenized, re-runs change nothing, and a bad day stops the gate."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyspark.sql import functions as F

from jobs import build_silver_customers, build_silver_transactions, ingest_csv
from lakehouse import Warehouse, load_config
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.quality import QualityGateError
from lakehouse.reports import quality_results
from lakehouse.run import RunContext

from .oracles import drop_lines, known_customers

pytestmark = pytest.mark.integration

START = dt.date(2024, 6, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(3)]
SPEC = GeneratorSpec(customers=300, days=3, seed=8, start_date=START, defect_rate=0.02)
RULE_FOR_DEFECT = {
    "malformed_date": "txn_ts_valid",
    "non_numeric_amount": "amount_valid",
    "missing_key": "txn_id_present",
    "out_of_range": "amount_in_range",
    "unknown_currency": "currency_known",
}


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory, test_environ):
    home = tmp_path_factory.mktemp("silver-home")
    data = generate(SPEC, landing=home / "landing", truth=home / "truth")
    environ = {
        **test_environ,
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE__QUALITY__CONFIRM_WITH_GX": "true",
    }
    cfg = load_config("local", environ=environ)
    results = {}
    for day in DAYS:
        for source in ("customers", "transactions"):
            ingest_csv.run(spark, cfg, source=source, context=RunContext.start("ingest_csv", day))
        # The customer_known rule checks against the dimension as of this run date.
        build_silver_customers.run(
            spark, cfg, context=RunContext.start("build_silver_customers", day)
        )
        results[day] = build_silver_transactions.run(
            spark, cfg, context=RunContext.start("build_silver_transactions", day)
        )
    return cfg, data, results


def quarantined(spark, cfg) -> dict[tuple[str, int], set[str]]:
    rows = (
        Warehouse.from_config(cfg)
        .table("ops.quarantine")
        .to_spark(spark, filters=[("table_name", "=", "silver.transactions")])
    )
    found: dict[tuple[str, int], set[str]] = {}
    for r in rows.collect():
        found.setdefault((r["source_file"], r["line_number"]), set()).add(r["rule"])
    return found


def test_each_injected_defect_is_quarantined_under_its_rule(spark, built):
    cfg, data, _ = built
    truth = pq.read_table(data.truth / "defects.parquet").to_pylist()
    expected: dict[tuple[str, int], set[str]] = {}
    for d in truth:
        in_window = any(d["file"].startswith(f"transactions/{day}") for day in DAYS)
        if in_window and d["defect_kind"] in RULE_FOR_DEFECT:
            key = (d["file"].rsplit("/", 1)[-1], d["line_no"])
            expected.setdefault(key, set()).add(RULE_FOR_DEFECT[d["defect_kind"]])
    malformed = {
        (d["file"], d["line_no"])
        for d in truth
        if d["defect_kind"] in ("bad_quoting", "wrong_column_count")
    }
    orphans = 0
    for day in DAYS:
        known = known_customers(data, [d for d in DAYS if d <= day])
        for relative, number, line in drop_lines(data, "transactions", day):
            customer = line.split(",")[1]
            if (relative, number) not in malformed and customer and customer not in known:
                expected.setdefault((relative.rsplit("/", 1)[-1], number), set()).add(
                    "customer_known"
                )
                orphans += 1
    assert expected
    assert orphans
    assert quarantined(spark, cfg) == expected


def test_every_row_is_merged_quarantined_or_a_duplicate(spark, built):
    """Per day: rows in = quarantined + merged + the generator's duplicate lines."""
    _, data, results = built
    truth = pq.read_table(data.truth / "defects.parquet").to_pylist()
    for day, result in results.items():
        duplicates = sum(
            1
            for d in truth
            if d["defect_kind"] == "duplicate" and d["file"].startswith(f"transactions/{day}")
        )
        assert result.rows_in == result.quarantined_rows + result.rows_merged + duplicates, day


def test_silver_has_one_row_per_transaction_and_late_rows_reach_their_date(spark, built):
    cfg, data, _ = built
    silver = Warehouse.from_config(cfg).table("silver.transactions").to_spark(spark)
    assert silver.count() == silver.select("txn_id").distinct().count()
    late = [
        d["row_key"]
        for d in pq.read_table(data.truth / "defects.parquet").to_pylist()
        if d["defect_kind"] == "late_row"
        and any(d["file"].startswith(f"transactions/{x}") for x in DAYS)
    ]
    assert late
    placed = silver.where(F.col("txn_id").isin(late)).select(
        (F.col("txn_date") == F.to_date("txn_ts")).alias("ok")
    )
    assert placed.count() == len(set(late))
    assert placed.where(~F.col("ok")).count() == 0


def raw_account_ids(spark, warehouse) -> set[str]:
    """Every account number as received (bronze keeps the raw values by design)."""
    bronze = warehouse.table("bronze.transactions").to_spark(spark).select("account_id")
    return {r["account_id"] for r in bronze.distinct().collect() if r["account_id"]}


def test_no_raw_account_number_reaches_silver(spark, built):
    cfg, _, _ = built
    warehouse = Warehouse.from_config(cfg)
    raw_ids = raw_account_ids(spark, warehouse)
    tokens = {
        r["account_id"]
        for r in warehouse.table("silver.transactions")
        .to_spark(spark)
        .select("account_id")
        .distinct()
        .collect()
    }
    assert all(t is None or t.startswith("tok_") for t in tokens)
    assert not raw_ids & tokens


def test_rerunning_a_day_changes_nothing(spark, built):
    cfg, _, results = built
    table = Warehouse.from_config(cfg).table("silver.transactions")
    before = sorted(tuple(r) for r in table.to_spark(spark).drop("_run_id").collect())
    again = build_silver_transactions.run(
        spark, cfg, context=RunContext.start("build_silver_transactions", DAYS[-1])
    )
    assert again.quarantined_rows == results[DAYS[-1]].quarantined_rows
    assert sorted(tuple(r) for r in table.to_spark(spark).drop("_run_id").collect()) == before


def test_rerunning_an_earlier_day_releases_transactions_whose_customer_arrived(spark, built):
    """The dimension has grown since day 2: its orphans whose customer is now known move from
    quarantine to silver; nothing else changes and nothing is lost."""
    cfg, _, results = built
    warehouse = Warehouse.from_config(cfg)
    table = warehouse.table("silver.transactions")
    before = {tuple(r) for r in table.to_spark(spark).drop("_run_id").collect()}
    again = build_silver_transactions.run(
        spark, cfg, context=RunContext.start("build_silver_transactions", DAYS[1])
    )
    after = {tuple(r) for r in table.to_spark(spark).drop("_run_id").collect()}
    released = results[DAYS[1]].quarantined_rows - again.quarantined_rows
    assert released > 0
    assert before <= after
    assert len(after - before) == released
    known = warehouse.table("silver.customers").to_spark(spark).select("customer_id")
    new_ids = {r[1] for r in after - before}
    assert new_ids <= {r["customer_id"] for r in known.collect()}


def test_a_day_above_the_failure_limit_writes_nothing_to_silver(
    spark, built, tmp_path, test_environ
):
    cfg, _, _ = built
    strict = tmp_path / "conf"
    shutil.copytree(Path(cfg.conf_dir), strict)
    suite = strict / "quality" / "silver.transactions.yaml"
    suite.write_text(suite.read_text().replace("max_failure_rate: 0.05", "max_failure_rate: 0.0"))
    strict_cfg = load_config(
        "local",
        environ={
            **test_environ,
            "LAKEHOUSE_HOME": str(cfg.home),
            "LAKEHOUSE_CONF_DIR": str(strict),
            "LAKEHOUSE__QUALITY__CONFIRM_WITH_GX": "true",
        },
    )
    table = Warehouse.from_config(cfg).table("silver.transactions")
    version = table.version
    with pytest.raises(QualityGateError, match="nothing was written downstream"):
        build_silver_transactions.run(
            spark, strict_cfg, context=RunContext.start("build_silver_transactions", DAYS[0])
        )
    assert table.version == version
    stopped = quality_results(cfg, table="silver.transactions", run_date=DAYS[0])
    assert stopped
    assert not any(r["gate_passed"] for r in stopped)
    assert {r["max_failure_rate"] for r in stopped} == {0.0}


def test_quality_results_count_what_the_quarantine_holds(spark, built):
    """Kept results, per rule and day, equal the quarantined rows; shown by `lakehouse quality`."""
    cfg, _, _results = built
    shown = quality_results(cfg, table="silver.transactions")
    assert {r["run_date"] for r in shown} == set(DAYS)
    held: dict[tuple[dt.date, str], int] = {}
    rows = Warehouse.from_config(cfg).table("ops.quarantine").to_spark(spark)
    for r in rows.where("table_name = 'silver.transactions'").collect():
        held[(r["run_date"], r["rule"])] = held.get((r["run_date"], r["rule"]), 0) + 1
    assert {(r["run_date"], r["rule"]): r["failed_rows"] for r in shown if r["failed_rows"]} == held
    assert all(r["confirmed_by_gx"] for r in shown)


def test_lakehouse_quality_shows_the_stopped_day(built, test_environ):
    cfg, _, _ = built
    shown = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "quality", "--table", "silver.transactions"],
        env={**test_environ, "LAKEHOUSE_HOME": str(cfg.home), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "customer_known" in shown
    assert "STOPPED" in shown
    assert "passed" in shown


def test_quarantined_rows_carry_tokens_not_account_numbers(spark, built):
    cfg, _, _ = built
    warehouse = Warehouse.from_config(cfg)
    raw_ids = raw_account_ids(spark, warehouse)
    records = [
        r["raw_record"]
        for r in warehouse.table("ops.quarantine")
        .to_spark(spark)
        .where("table_name = 'silver.transactions'")
        .collect()
    ]
    assert records
    assert not [rec for rec in records if any(f'"{raw}"' in rec for raw in raw_ids)]
    assert any('"account_id":"tok_' in rec for rec in records)
