"""silver -> gold: the BI aggregates for one run date, each replacing the partition it owns.

    lakehouse gold --run-date 2024-01-05 [--table daily_sales]
    spark-submit jobs/build_gold.py --run-date 2024-01-05 [--table daily_sales]

gold.daily_sales (the last 7 order dates, restated as orders get cancelled),
gold.order_funnel (the last 30 order dates, restated as orders progress), gold.customer_monthly
(the run date's month, to date) and gold.top_customers (a snapshot as of the run date).
Transforms are in lakehouse/gold.py; contracts in schemas/gold.py. Run after the day's silver.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lakehouse import gold
from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.delta import Warehouse
from lakehouse.errors import SourceUnavailableError, TableNotFoundError
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics

# gold table -> the silver tables it reads
SOURCES = {
    "daily_sales": ("orders", "order_items", "products", "customers"),
    "customer_monthly": ("transactions",),
    "order_funnel": ("orders",),
    "top_customers": ("transactions", "orders", "customers"),
}


@dataclass(frozen=True)
class GoldResult:
    run_date: dt.date
    rows: dict[str, int]
    versions: dict[str, int]

    def run_metrics(self) -> RunMetrics:
        return RunMetrics(
            rows_out=sum(self.rows.values()),
            tables_written={f"gold.{name}": v for name, v in self.versions.items()},
        )


def build(name: str, silver: dict[str, DataFrame], run_date: dt.date) -> DataFrame:
    """The partition of gold.<name> that ``run_date`` owns, from the silver tables."""
    if name == "daily_sales":
        return gold.daily_sales(
            silver["orders"],
            silver["order_items"],
            silver["products"],
            silver["customers"],
            run_date=run_date,
        )
    if name == "customer_monthly":
        return gold.customer_monthly(silver["transactions"], run_date=run_date)
    if name == "order_funnel":
        return gold.order_funnel(silver["orders"], run_date=run_date)
    return gold.top_customers(
        silver["transactions"], silver["orders"], silver["customers"], run_date=run_date
    )


def owned_partition(contract: TableContract, run_date: dt.date) -> str:
    first, last = gold.owned_dates(contract.entity, run_date)
    return (
        f"{contract.partition_by[0]} BETWEEN DATE'{first.isoformat()}' AND DATE'{last.isoformat()}'"
    )


def run(
    spark: SparkSession, cfg: Config, *, context: RunContext, tables: Sequence[str] = ()
) -> GoldResult:
    from schemas.gold import GOLD_TABLES

    unknown = sorted(set(tables) - set(GOLD_TABLES))
    if unknown:
        raise SourceUnavailableError(
            f"unknown gold table(s) {unknown}; known: {sorted(GOLD_TABLES)}"
        )
    warehouse = Warehouse.from_config(cfg)
    rows, versions = {}, {}
    for name in tables or GOLD_TABLES:
        silver = {s: _silver(spark, warehouse, s, name) for s in SOURCES[name]}
        contract = GOLD_TABLES[name]
        written = warehouse.create(contract).write(
            build(name, silver, context.run_date),
            mode="replace_where",
            predicate=owned_partition(contract, context.run_date),
        )
        rows[name], versions[name] = written.rows_written, written.version
    return GoldResult(context.run_date, rows, versions)


def _silver(spark: SparkSession, warehouse: Warehouse, table: str, for_gold: str) -> DataFrame:
    try:
        return warehouse.table(f"silver.{table}").to_spark(spark)
    except TableNotFoundError:
        raise SourceUnavailableError(
            f"gold.{for_gold} reads silver.{table}, which does not exist yet: run the day's "
            f"silver jobs first (lakehouse silver {table} --run-date D)"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(prog="build_gold", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--table",
        action="append",
        default=[],
        help="build only this gold table (repeatable): daily_sales, customer_monthly, "
        "order_funnel, top_customers (default: all)",
    )
    return job_main(
        parser,
        argv,
        job="build_gold",
        body=lambda spark, cfg, args, context: run(spark, cfg, context=context, tables=args.table),
    )


if __name__ == "__main__":
    raise SystemExit(main())
