"""The `lakehouse` commands that run jobs. Each delegates to the job module's own ``main``,
which parses its arguments (and --help) exactly as under spark-submit."""

from __future__ import annotations

import argparse
import importlib
import json

from rich.console import Console

from lakehouse.config import Config
from lakehouse.daily import STAGES

# (command, subcommand, jobs module, arguments the subcommand implies, help)
JOBS: tuple[tuple[str, str | None, str, tuple[str, ...], str], ...] = (
    ("ingest", "csv", "ingest_csv", (), "a day's CSV drop -> bronze (--source S --run-date D)"),
    (
        "ingest",
        "mysql",
        "ingest_mysql",
        (),
        "rows changed since the last pull -> bronze (--table T --run-date D [--full])",
    ),
    (
        "ingest",
        "tpch",
        "ingest_tpch",
        (),
        "generate TPC-H with DuckDB, drop it as CSV, load tpch.<table> (--sf 0.1)",
    ),
    (
        "silver",
        "transactions",
        "build_silver_transactions",
        (),
        "bronze.transactions -> quality gate -> silver.transactions (--run-date D)",
    ),
    (
        "silver",
        "customers",
        "build_silver_customers",
        (),
        "bronze.customers -> quality gate -> silver.customers, SCD2 (--run-date D)",
    ),
    *(
        (
            "silver",
            table,
            "build_silver_shop",
            ("--table", table),
            f"bronze.shop_{table} -> quality gate -> silver.{table} (--run-date D)",
        )
        for table in ("orders", "order_items", "products", "accounts")
    ),
    ("gold", None, "build_gold", (), "silver -> the gold aggregates (--run-date D [--table T])"),
    (
        "features",
        "materialize",
        "materialize_features",
        (),
        "feature views -> offline and online tables (--run-date D [--from-date A] [--view V])",
    ),
    (
        "train",
        None,
        "train",
        (),
        "features + labels -> a model in the MLflow registry, champion or challenger "
        "(--model churn|anomaly|segments|offers --run-date D [--promote])",
    ),
    (
        "score",
        None,
        "score",
        (),
        "registered model + features -> its gold table and Parquet for a run date "
        "(--model churn|anomaly|segments|offers --run-date D [--alias A] [--publish])",
    ),
)
GROUPS = {
    "ingest": "run an ingest job (the same code as spark-submit jobs/ingest_*.py)",
    "silver": "build a silver table for a run date (a job)",
    "features": "list the feature views, or materialize them for a run date",
}
COMMANDS = {job[0] for job in JOBS}


def add_parsers(commands: argparse._SubParsersAction, *, date_type) -> None:
    groups = {}
    for command, sub, _, _, text in JOBS:
        if sub is None:
            commands.add_parser(command, add_help=False, help=text)
            continue
        if command not in groups:
            group = commands.add_parser(command, help=GROUPS[command])
            groups[command] = group.add_subparsers(dest="job", required=True, metavar="NAME")
        groups[command].add_parser(sub, add_help=False, help=text)
    views = groups["features"].add_parser(
        "list", help="every feature view: entity, features, TTL, source, last materialized date"
    )
    views.add_argument("--json", action="store_true", help="print JSON")
    batch = commands.add_parser(
        "batch",
        help="the whole daily batch for a run date in one session: ingest -> silver -> gold",
    )
    batch.add_argument("--run-date", required=True, type=date_type, help="logical date, YYYY-MM-DD")
    batch.add_argument(
        "--no-mysql", action="store_true", help="skip the MySQL pulls and what is built from them"
    )
    batch.add_argument(
        "--stage",
        action="append",
        choices=STAGES,
        dest="stages",
        help="run only this stage (repeatable; default: all, in order: "
        f"{' -> '.join(STAGES)}); the Airflow DAG runs one task per stage",
    )
    quality = commands.add_parser(
        "quality", help="show the quality gates' results per rule (ops.quality_results)"
    )
    quality.add_argument("--table", help="one table, e.g. silver.transactions")
    quality.add_argument("--run-date", type=date_type, help="one run date (default: the last 7)")
    quality.add_argument("--json", action="store_true", help="print JSON")
    runs = commands.add_parser(
        "runs", help="recent job runs: status, times, rows, versions written (ops.job_runs)"
    )
    runs.add_argument("--job", help="one job, e.g. build_silver_transactions")
    runs.add_argument("--run-date", type=date_type, help="one logical date")
    runs.add_argument("--last", type=int, default=20, help="how many, newest first (20)")
    runs.add_argument("--json", action="store_true", help="print JSON")
    report = commands.add_parser(
        "report",
        help="write a static HTML report: run timeline, quality, model metrics, score "
        "distributions",
    )
    report.add_argument(
        "--out", help="the HTML file to write (default: $LAKEHOUSE_HOME/reports/lakehouse.html)"
    )


def is_job(args: argparse.Namespace) -> bool:
    return any(c == args.command and s == getattr(args, "job", None) for c, s, *_ in JOBS)


def run_job(args: argparse.Namespace, job_args: list[str]) -> int:
    sub = getattr(args, "job", None)
    (module, implied) = next((m, a) for c, s, m, a, _ in JOBS if c == args.command and s == sub)
    return importlib.import_module(f"jobs.{module}").main([*implied, *job_args])


def batch(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    from lakehouse.daily import run_daily_batch
    from lakehouse.session import build_spark

    spark = build_spark(f"daily-batch-{args.run_date}", cfg)
    with console.status(f"daily batch {args.run_date}") as status:
        done = run_daily_batch(
            spark,
            cfg,
            args.run_date,
            mysql=not args.no_mysql,
            stages=args.stages or STAGES,
            progress=lambda step: status.update(f"daily batch {args.run_date}: {step} ..."),
        )
    console.print(f"[green]✓[/] {args.run_date}: {done.summary()}", highlight=False)
    return 0


def quality(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    from lakehouse.reports import print_quality_results, quality_results

    rows = quality_results(cfg, table=args.table, run_date=args.run_date)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print_quality_results(rows, console)
    return 0


def runs(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    from lakehouse.runs import job_runs, print_runs

    rows = job_runs(cfg, job=args.job, run_date=args.run_date, last=args.last)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print_runs(rows, console)
    return 0


def report(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    from pathlib import Path

    from lakehouse.report import write_report

    out = Path(args.out) if args.out else cfg.home / "reports" / "lakehouse.html"
    written = write_report(cfg, out)
    console.print(f"wrote {written}", highlight=False)
    return 0


def features_list(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    from feature_store.catalog import print_views, view_catalog
    from feature_store.repo import REGISTRY
    from lakehouse.delta import Warehouse

    rows = view_catalog(REGISTRY, Warehouse.from_config(cfg))
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        print_views(rows, console)
    return 0
