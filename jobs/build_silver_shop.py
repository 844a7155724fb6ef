"""bronze.shop_<table> (one run date's pull) -> quality gate -> silver.<table>.

    lakehouse silver orders --run-date 2024-01-05
    spark-submit jobs/build_silver_shop.py --table orders --run-date 2024-01-05

For the tables pulled from the shop's MySQL (orders, order_items, products, accounts): the
pull is gated by conf/quality/silver.<table>.yaml (failing rows to ops.quarantine, results to
ops.quality_results), the latest version per key wins (by updated_at), PII columns get their
contract's treatment, and rows are merged on the key. A version older than the one silver
already holds is not applied, so re-running an earlier date never rolls a row back. Build
order within a date: products and orders before order_items (which reference both).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs._gate import gate_day
from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.delta import Warehouse
from lakehouse.errors import SourceUnavailableError, TableNotFoundError
from lakehouse.pii import apply_pii
from lakehouse.quality import RuleResult, load_suite
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics

# Derived columns by name, as SQL: Columns cannot be built before a session exists.
DERIVED = {"order_date": "to_date(order_ts)"}


@dataclass(frozen=True)
class ShopSilverResult:
    table: str
    run_date: dt.date
    rows_in: int
    quarantined_rows: int
    rows_merged: int
    stale_rows: int
    version: int | None
    rules: list[RuleResult]

    def run_metrics(self) -> RunMetrics:
        written = {} if self.version is None else {f"silver.{self.table}": self.version}
        return RunMetrics(
            rows_in=self.rows_in,
            rows_out=self.rows_merged,
            rows_quarantined=self.quarantined_rows,
            tables_written=written,
        )


# -- transforms -------------------------------------------------------------------------------
def as_gate_input(pulled: DataFrame, source_table: str) -> DataFrame:
    """JDBC already typed the pull; the gate's quarantine wants to know where a row came from."""
    return pulled.withColumns(
        {"_source_file": F.lit(f"mysql:{source_table}"), "_line_number": F.lit(None).cast("long")}
    )


def latest_per_key(rows: DataFrame, key: Sequence[str]) -> DataFrame:
    """One row per key: the newest updated_at wins."""
    newest = Window.partitionBy(*key).orderBy(F.col("updated_at").desc())
    ranked = rows.withColumn("_rank", F.row_number().over(newest))
    return ranked.where(F.col("_rank") == 1).drop("_rank")


def newer_than_stored(incoming: DataFrame, stored: DataFrame, key: Sequence[str]) -> DataFrame:
    """Incoming rows that are not older than the version silver holds for their key."""
    held = stored.select(*key, F.col("updated_at").alias("_held_updated_at"))
    joined = incoming.join(held, on=list(key), how="left")
    not_older = F.col("_held_updated_at").isNull() | (
        F.col("updated_at") >= F.col("_held_updated_at")
    )
    return joined.where(not_older).drop("_held_updated_at")


def to_silver(passed: DataFrame, contract: TableContract, *, pii_key: bytes) -> DataFrame:
    latest = latest_per_key(passed, contract.primary_key)
    derived = {c: F.expr(DERIVED[c]) for c in contract.column_names if c in DERIVED}
    conformed = latest.withColumns(derived).select(
        *(c for c in contract.column_names if c != "_run_id")
    )
    return apply_pii(conformed, contract.pii, key=pii_key)


# -- run --------------------------------------------------------------------------------------
def run(spark: SparkSession, cfg: Config, *, table: str, context: RunContext) -> ShopSilverResult:
    from schemas.shop import SHOP_TABLES, SILVER_SHOP

    if table not in SILVER_SHOP:
        raise SourceUnavailableError(f"unknown shop table {table!r}; known: {sorted(SILVER_SHOP)}")
    contract, pulled_contract = SILVER_SHOP[table], SHOP_TABLES[table]
    warehouse = Warehouse.from_config(cfg)
    pii_key = cfg.pii_key()
    try:
        pulled = warehouse.table(pulled_contract).to_spark(
            spark, filters=[("_run_date", "=", context.run_date)]
        )
    except TableNotFoundError:
        raise SourceUnavailableError(
            f"{pulled_contract.name} does not exist: pull it first "
            f"(lakehouse ingest mysql --table {table} --run-date {context.run_date})"
        ) from None
    outcome = gate_day(
        as_gate_input(pulled, table),
        load_suite(cfg.conf_dir, contract.name),
        warehouse=warehouse,
        context=context,
        converted=(),
        pii=contract.pii,
        pii_key=pii_key,
        confirm_with_gx=cfg.quality.confirm_with_gx,
    )
    target = warehouse.create(contract)
    candidates = to_silver(outcome.passed, contract, pii_key=pii_key).persist()
    try:
        fresh = newer_than_stored(candidates, target.to_spark(spark), contract.primary_key)
        merged = target.merge(fresh.withColumn("_run_id", F.lit(context.run_id)))
        stale = candidates.count() - (merged.rows_updated + merged.rows_inserted)
    finally:
        candidates.unpersist()
        outcome.release()
    return ShopSilverResult(
        contract.name,
        context.run_date,
        outcome.rows,
        outcome.failed_rows,
        merged.rows_updated + merged.rows_inserted,
        stale,
        merged.version,
        outcome.results,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(prog="build_silver_shop", description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", required=True, help="orders, order_items, products or accounts")
    return job_main(
        parser,
        argv,
        job="build_silver_shop",
        body=lambda spark, cfg, args, context: run(spark, cfg, table=args.table, context=context),
    )


if __name__ == "__main__":
    raise SystemExit(main())
