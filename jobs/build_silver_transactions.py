"""bronze.transactions (one run date) -> quality gate -> silver.transactions.

    lakehouse silver transactions --run-date 2024-01-05
    spark-submit jobs/build_silver_transactions.py --run-date 2024-01-05

Types the text columns, runs the declared suite (conf/quality/silver.transactions.yaml; GX
confirms the per-row flags), quarantines failing rows with their reasons, and above the
suite's failure-rate limit stops without touching silver. Passing rows are deduplicated (the
latest version of a txn_id wins), get a canonical merchant, have account numbers tokenized, and
are merged into silver.transactions on txn_id, so late rows land in their event date's
partition and a re-run changes nothing.
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
from lakehouse.merchants import MerchantRules, load_merchant_rules, standardize_merchants
from lakehouse.pii import apply_pii
from lakehouse.quality import RuleResult, load_suite
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics

ISO_UTC = "yyyy-MM-dd'T'HH:mm:ssX"
TYPED_FROM_TEXT = ("txn_ts", "amount")


@dataclass(frozen=True)
class SilverResult:
    run_date: dt.date
    rows_in: int
    quarantined_rows: int
    rows_merged: int
    version: int
    rules: list[RuleResult]

    def run_metrics(self) -> RunMetrics:
        return RunMetrics(
            rows_in=self.rows_in,
            rows_out=self.rows_merged,
            rows_quarantined=self.quarantined_rows,
            tables_written={"silver.transactions": self.version},
        )


# -- transforms -------------------------------------------------------------------------------
def type_transactions(bronze: DataFrame, *, keep: Sequence[str] = ()) -> DataFrame:
    """Text -> types. What does not convert becomes NULL, with the text kept beside it as
    ``<column>_raw`` so the gate can tell 'missing' from 'not a valid value'. Columns in
    ``keep`` pass through at the end (the streaming ingest keeps the Kafka coordinates)."""
    return bronze.select(
        "txn_id",
        "customer_id",
        "account_id",
        F.try_to_timestamp("txn_ts", F.lit(ISO_UTC)).alias("txn_ts"),
        F.col("txn_ts").alias("txn_ts_raw"),
        F.col("amount").try_cast("decimal(18,2)").alias("amount"),
        F.col("amount").alias("amount_raw"),
        F.upper(F.trim("currency")).alias("currency"),
        "merchant_raw",
        "category",
        "mode",
        "location",
        "remarks",
        "_source_file",
        "_line_number",
        "_run_id",
        "_run_date",
        *keep,
    )


def latest_per_transaction(typed: DataFrame) -> DataFrame:
    """One row per txn_id: the latest event time wins; a later delivery wins a tie."""
    newest = Window.partitionBy("txn_id").orderBy(
        F.col("txn_ts").desc(), F.col("_run_date").desc(), F.col("_line_number").desc()
    )
    ranked = typed.withColumn("_rank", F.row_number().over(newest))
    return ranked.where(F.col("_rank") == 1).drop("_rank")


def to_silver(
    passed: DataFrame, contract: TableContract, *, merchants: MerchantRules, pii_key: bytes
) -> DataFrame:
    deduplicated = latest_per_transaction(passed)
    standardized = standardize_merchants(deduplicated, merchants)
    dated = standardized.withColumn("txn_date", F.to_date("txn_ts"))
    conformed = dated.select(*contract.column_names)
    return apply_pii(conformed, contract.pii, key=pii_key)


# -- run --------------------------------------------------------------------------------------
def run(spark: SparkSession, cfg: Config, *, context: RunContext) -> SilverResult:
    from schemas.transactions import SILVER_TRANSACTIONS

    conf_dir = cfg.conf_dir
    suite = load_suite(conf_dir, SILVER_TRANSACTIONS.name)
    warehouse = Warehouse.from_config(cfg)
    pii_key = cfg.pii_key()
    bronze = warehouse.table("bronze.transactions").to_spark(
        spark, filters=[("_run_date", "=", context.run_date)]
    )
    outcome = gate_day(
        type_transactions(bronze),
        suite,
        warehouse=warehouse,
        context=context,
        converted=TYPED_FROM_TEXT,
        pii=SILVER_TRANSACTIONS.pii,
        pii_key=pii_key,
        confirm_with_gx=cfg.quality.confirm_with_gx,
    )
    silver = to_silver(
        outcome.passed,
        SILVER_TRANSACTIONS,
        merchants=load_merchant_rules(conf_dir),
        pii_key=pii_key,
    ).withColumn("_run_id", F.lit(context.run_id))
    merged = warehouse.create(SILVER_TRANSACTIONS).merge(silver)
    outcome.release()
    return SilverResult(
        context.run_date,
        outcome.rows,
        outcome.failed_rows,
        merged.rows_updated + merged.rows_inserted,
        merged.version,
        outcome.results,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(
        prog="build_silver_transactions", description=__doc__.split("\n\n")[0]
    )
    return job_main(
        parser,
        argv,
        job="build_silver_transactions",
        body=lambda spark, cfg, args, context: run(spark, cfg, context=context),
    )


if __name__ == "__main__":
    raise SystemExit(main())
