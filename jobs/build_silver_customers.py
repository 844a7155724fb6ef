"""bronze.customers (one run date) -> quality gate -> silver.customers, an SCD2 dimension.

    lakehouse silver customers --run-date 2024-01-05
    spark-submit jobs/build_silver_customers.py --run-date 2024-01-05

Each day's extract holds the customers that changed. Rows are typed and gated like every
silver table (failing rows to ops.quarantine); PII is tokenized or masked per the contract
before anything is compared or stored; then every change becomes a version with valid_from /
valid_to / is_current. Late or repeated changes recompute the customer's history, so running
days out of order or twice gives the same dimension.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs._gate import gate_day
from lakehouse.config import Config
from lakehouse.delta import Warehouse
from lakehouse.pii import apply_pii
from lakehouse.quality import RuleResult, load_suite
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics
from lakehouse.scd2 import scd2_changes, scd2_op

ISO_UTC = "yyyy-MM-dd'T'HH:mm:ssX"
# Typed from text; their text is kept as *_raw (or in the original column) for quarantine.
TYPED_FROM_TEXT = ("birth_date", "birth_year", "signup_date", "updated_at")


@dataclass(frozen=True)
class DimensionResult:
    run_date: dt.date
    rows_in: int
    quarantined_rows: int
    versions_written: int
    versions_removed: int
    version: int
    rules: list[RuleResult]

    def run_metrics(self) -> RunMetrics:
        return RunMetrics(
            rows_in=self.rows_in,
            rows_out=self.versions_written,
            rows_quarantined=self.quarantined_rows,
            tables_written={"silver.customers": self.version},
        )


def type_customers(bronze: DataFrame) -> DataFrame:
    """Text -> types, keeping the text of converted columns for the gate."""
    birth_date = F.try_to_date("date_of_birth", "yyyy-MM-dd")
    return bronze.select(
        "customer_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "date_of_birth",
        birth_date.alias("birth_date"),
        F.year(birth_date).alias("birth_year"),
        "address",
        "city",
        "region",
        F.try_to_date("signup_date", "yyyy-MM-dd").alias("signup_date"),
        F.col("signup_date").alias("signup_date_raw"),
        "income_band",
        "credit_score_band",
        F.try_to_timestamp("updated_at", F.lit(ISO_UTC)).alias("updated_at"),
        F.col("updated_at").alias("updated_at_raw"),
        "_source_file",
        "_line_number",
        "_run_id",
        "_run_date",
    )


def changes_for_dimension(passed: DataFrame, pii: dict, *, key: bytes) -> DataFrame:
    """One change per (customer, instant), PII treated, in the dimension's column names."""
    from schemas.customers import TRACKED

    distinct = passed.dropDuplicates(["customer_id", "updated_at"])
    treated = apply_pii(distinct, pii, key=key)
    return treated.select("customer_id", *TRACKED, F.col("updated_at").alias("changed_at"))


def run(spark: SparkSession, cfg: Config, *, context: RunContext) -> DimensionResult:
    from schemas.customers import SILVER_CUSTOMERS, TRACKED

    suite = load_suite(cfg.conf_dir, SILVER_CUSTOMERS.name)
    warehouse = Warehouse.from_config(cfg)
    pii_key = cfg.pii_key()
    bronze = warehouse.table("bronze.customers").to_spark(
        spark, filters=[("_run_date", "=", context.run_date)]
    )
    outcome = gate_day(
        type_customers(bronze),
        suite,
        warehouse=warehouse,
        context=context,
        converted=TYPED_FROM_TEXT,
        pii=SILVER_CUSTOMERS.pii,
        pii_key=pii_key,
        confirm_with_gx=cfg.quality.confirm_with_gx,
    )
    dimension = warehouse.create(SILVER_CUSTOMERS)
    changes = changes_for_dimension(outcome.passed, dict(SILVER_CUSTOMERS.pii), key=pii_key)
    source = scd2_changes(
        dimension.to_spark(spark),
        changes,
        key="customer_id",
        tracked=TRACKED,
        changed_at="changed_at",
    )
    merged = dimension.merge(source, delete_if=scd2_op())
    outcome.release()
    return DimensionResult(
        context.run_date,
        outcome.rows,
        outcome.failed_rows,
        merged.rows_updated + merged.rows_inserted,
        merged.rows_deleted,
        merged.version,
        outcome.results,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(
        prog="build_silver_customers", description=__doc__.split("\n\n")[0]
    )
    return job_main(
        parser,
        argv,
        job="build_silver_customers",
        body=lambda spark, cfg, args, context: run(spark, cfg, context=context),
    )


if __name__ == "__main__":
    raise SystemExit(main())
