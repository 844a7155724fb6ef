"""silver -> feature tables: each feature view's values for a run date (offline, replacing that
date) and the newest value per customer (online, never rolled back).

    lakehouse features materialize --run-date 2024-03-31 [--view customer_spend]
    lakehouse features materialize --from-date 2024-01-01 --run-date 2024-03-31   # backfill
    spark-submit jobs/materialize_features.py --run-date 2024-03-31

Views are declared in feature_store/ (list them with `lakehouse features list`); run after the
day's silver tables. Running a date again leaves the same rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession
from rich.console import Console

from lakehouse.config import Config
from lakehouse.errors import ConfigError
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics


@dataclass(frozen=True)
class MaterializeResult:
    dates: tuple[dt.date, ...]
    rows: dict[str, int]  # view -> offline rows written over all dates

    def __str__(self) -> str:
        span = f"{self.dates[0]}..{self.dates[-1]}" if len(self.dates) > 1 else str(self.dates[0])
        views = ", ".join(f"{v} {n:,}" for v, n in self.rows.items())
        return f"materialized {span}: {views}"

    def run_metrics(self) -> RunMetrics:
        return RunMetrics(rows_out=sum(self.rows.values()))


def views_reading(sources: Sequence[str] = ()) -> list[str]:
    """The stored views whose source is one of ``sources`` (every stored view when empty)."""
    from feature_store.repo import REGISTRY

    return [
        v.name for v in REGISTRY.materialized_views() if not sources or v.source.name in sources
    ]


def run(
    spark: SparkSession,
    cfg: Config,
    *,
    context: RunContext,
    views: Sequence[str] = (),
    from_date: dt.date | None = None,
    console: Console | None = None,
) -> MaterializeResult:
    from feature_store import FeatureStore

    first = from_date or context.run_date
    if first > context.run_date:
        raise ConfigError(f"--from-date {first} is after --run-date {context.run_date}")
    store = FeatureStore(spark, cfg)
    dates = tuple(first + dt.timedelta(days=i) for i in range((context.run_date - first).days + 1))
    rows: dict[str, int] = {}
    for day in dates:
        for done in store.materialize(day, views=list(views) or None):
            rows[done.view] = rows.get(done.view, 0) + done.rows
        if console and len(dates) > 1:
            console.print(f"  {day}: {len(rows)} views materialized", highlight=False)
    return MaterializeResult(dates, rows)


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(
        prog="materialize_features", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--view",
        action="append",
        default=[],
        choices=views_reading(),
        metavar="VIEW",
        help="materialize only this view (repeatable; default: every stored view): "
        + ", ".join(views_reading()),
    )
    parser.add_argument(
        "--from-date",
        type=dt.date.fromisoformat,
        help="backfill: materialize every date from this one through --run-date",
    )
    console = Console(stderr=True, soft_wrap=True)
    return job_main(
        parser,
        argv,
        job="materialize_features",
        body=lambda spark, cfg, args, context: run(
            spark,
            cfg,
            context=context,
            views=args.view,
            from_date=args.from_date,
            console=console,
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
