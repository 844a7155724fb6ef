"""`lakehouse publish`: a model's scores for one run date from its Delta table to Parquet on S3
and Redshift, and the Tableau views. Reads with delta-rs: no Spark session is started."""

from __future__ import annotations

import argparse
import datetime as dt

import pyarrow as pa
from rich.console import Console

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.errors import PublishError, TableNotFoundError

__all__ = ["add_parser", "read_run_date", "run"]

TARGETS = ("s3", "redshift")


def _models() -> dict[str, TableContract]:
    from schemas.scores import (
        CHURN_SCORES,
        CUSTOMER_SEGMENTS,
        NEXT_BEST_OFFERS,
        TRANSACTION_ANOMALIES,
    )

    return {
        "churn": CHURN_SCORES,
        "segments": CUSTOMER_SEGMENTS,
        "offers": NEXT_BEST_OFFERS,
        "anomalies": TRANSACTION_ANOMALIES,
    }


def add_parser(commands: argparse._SubParsersAction, *, date_type) -> None:
    publish = commands.add_parser(
        "publish", help="publish model outputs to S3 and Redshift, and the Tableau views"
    )
    what = publish.add_subparsers(dest="what", required=True, metavar="WHAT")
    scores = what.add_parser(
        "scores",
        help="one run date of a model's output: Delta table -> Parquet on S3 -> Redshift, "
        "replacing that date",
    )
    scores.add_argument("--model", required=True, choices=sorted(_models()))
    scores.add_argument("--run-date", required=True, type=date_type, help="score date, YYYY-MM-DD")
    scores.add_argument(
        "--to", nargs="+", choices=TARGETS, default=list(TARGETS), help="default: s3 redshift"
    )
    what.add_parser("views", help="create the score tables if missing and replace the views")


def read_run_date(cfg: Config, contract: TableContract, run_date: dt.date) -> pa.Table:
    """The run date's rows of the contract's Delta table; PublishError when there are none
    (publishing nothing would wipe the date downstream)."""
    from lakehouse.delta import Warehouse

    partition = contract.partition_by[0]
    try:
        table = Warehouse.from_config(cfg).table(contract)
        rows = table.to_arrow(filters=[(partition, "=", run_date)])
    except TableNotFoundError:
        raise TableNotFoundError(
            f"{contract.name} does not exist yet; score a date first (lakehouse score)"
        ) from None
    if rows.num_rows == 0:
        raise PublishError(
            f"{contract.name} has no rows for {partition} {run_date}; score that date first, "
            "nothing was published"
        )
    return rows.select(list(contract.column_names))


def run(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    from lakehouse.publish import publish_run_date
    from lakehouse.publish.tableau import create_views

    if args.what == "scores":
        contract = _models()[args.model]
        rows = read_run_date(cfg, contract, args.run_date)
        result = publish_run_date(
            rows, contract, cfg=cfg, run_date=args.run_date, targets=tuple(args.to)
        )
        console.print(f"[green]✓[/] {result.summary()}", highlight=False)
        if "redshift" not in args.to:
            return 0
    views = create_views(cfg)
    console.print(f"[green]✓[/] views: {', '.join(views)}", highlight=False)
    return 0
