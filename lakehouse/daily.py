"""The daily batch for one run date, in dependency order: what `lakehouse batch` and the demo
run in one Spark session, and what the Airflow DAG runs as separate tasks.

    ingest   CSV customers, transactions; MySQL products, orders, order_items, accounts
    silver   customers (SCD2) -> transactions, products -> orders -> order_items, accounts
    gold     daily_sales, customer_monthly, order_funnel, top_customers
    features every feature view (feature_store/), offline and online

Silver customers runs before the tables whose rules check customer_known against it, and
orders and products before order_items.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from lakehouse.config import Config
from lakehouse.errors import ConfigError
from lakehouse.run import RunContext
from lakehouse.runs import finish_run

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["CSV_SOURCES", "MYSQL_TABLES", "STAGES", "DailyResult", "Stage", "run_daily_batch"]

CSV_SOURCES = ("customers", "transactions")
MYSQL_TABLES = ("products", "orders", "order_items", "accounts")
Stage = Literal["ingest", "silver", "gold", "features"]
STAGES: tuple[Stage, ...] = ("ingest", "silver", "gold", "features")


@dataclass
class DailyResult:
    run_date: dt.date
    steps: dict[str, object] = field(default_factory=dict)

    def summary(self) -> str:
        steps = self.steps
        csv = [v for k, v in steps.items() if k.startswith("ingest csv")]
        pulls = [v for k, v in steps.items() if k.startswith("ingest mysql")]
        parts = []
        if csv:
            rows, malformed = sum(r.rows for r in csv), sum(r.quarantined for r in csv)
            parts.append(f"CSV {rows:,} rows ({malformed} malformed)")
        if pulls:
            parts.append(f"MySQL {sum(r.rows for r in pulls):,} changed rows")
        if "silver transactions" in steps:
            transactions = steps["silver transactions"]
            parts.append(
                f"silver: {transactions.rows_merged:,} transactions merged, "
                f"{transactions.quarantined_rows} quarantined"
            )
            if "silver orders" in steps:
                parts[-1] += f", {steps['silver orders'].rows_merged:,} orders"
        if "gold" in steps:
            parts.append(f"gold: {sum(steps['gold'].rows.values()):,} rows")
        if "features" in steps:
            features = steps["features"]
            parts.append(
                f"features: {sum(features.rows.values()):,} rows in {len(features.rows)} views"
            )
        return "; ".join(parts)


def run_daily_batch(
    spark: SparkSession,
    cfg: Config,
    run_date: dt.date,
    *,
    mysql: bool = True,
    stages: Collection[Stage] = STAGES,
    progress: Callable[[str], None] | None = None,
) -> DailyResult:
    """Every job of ``run_date`` in order; a failing job raises and stops the day there (each
    job is idempotent, so running the day again resumes it). ``mysql=False`` skips the MySQL
    pulls and the silver and gold tables built from them; ``stages`` runs only those stages
    (in their order), e.g. one Airflow task per stage."""
    from jobs import (
        build_gold,
        build_silver_customers,
        build_silver_shop,
        build_silver_transactions,
        ingest_csv,
        ingest_mysql,
        materialize_features,
    )

    result = DailyResult(run_date)

    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ConfigError(f"unknown stage(s) {sorted(unknown)}: choose from {', '.join(STAGES)}")

    def step(name: str, job: str, fn: Callable[[RunContext], object]) -> None:
        if _stage_of(name) not in stages:
            return
        if progress:
            progress(name)
        context = RunContext.start(job, run_date)
        try:
            result.steps[name] = fn(context)
        except BaseException as err:
            error = f"{type(err).__name__}: {err}"
            finish_run(cfg, context, spark=spark, status="failed", error=error)
            raise
        finish_run(cfg, context, spark=spark, status="succeeded", result=result.steps[name])

    for source in CSV_SOURCES:
        step(
            f"ingest csv {source}",
            "ingest_csv",
            lambda c, s=source: ingest_csv.run(spark, cfg, source=s, context=c),
        )
    tables = MYSQL_TABLES if mysql else ()
    for table in tables:
        step(
            f"ingest mysql {table}",
            "ingest_mysql",
            lambda c, t=table: ingest_mysql.run(spark, cfg, table=t, context=c),
        )
    step(
        "silver customers",
        "build_silver_customers",
        lambda c: build_silver_customers.run(spark, cfg, context=c),
    )
    step(
        "silver transactions",
        "build_silver_transactions",
        lambda c: build_silver_transactions.run(spark, cfg, context=c),
    )
    for table in tables:
        step(
            f"silver {table}",
            "build_silver_shop",
            lambda c, t=table: build_silver_shop.run(spark, cfg, table=t, context=c),
        )
    gold = () if mysql else ("customer_monthly",)
    step("gold", "build_gold", lambda c: build_gold.run(spark, cfg, context=c, tables=gold))
    views = materialize_features.views_reading(() if mysql else ("silver.transactions",))
    step(
        "features",
        "materialize_features",
        lambda c: materialize_features.run(spark, cfg, context=c, views=views),
    )
    return result


def _stage_of(step: str) -> str:
    return step.split()[0]  # "ingest csv customers" -> ingest; "gold" -> gold
