"""Generate TPC-H with DuckDB, drop it as CSV, and load the 8 tables into tpch.<table>.

    lakehouse ingest tpch --sf 0.1 [--tables lineitem,orders] [--run-date YYYY-MM-DD]
    spark-submit jobs/ingest_tpch.py --sf 0.1 --run-date 2024-05-01

DuckDB's tpch extension writes each table's CSV drop (landing/tpch_<table>/<run date>/; a drop
that already holds the scale factor is reused). Each drop is loaded by the bulk CSV path
(jobs/_bulk_csv.py): read with the contract's types, checked against
conf/quality/tpch.<table>.yaml, malformed or failing rows quarantined in ops.quarantine, the
rest replacing tpch.<table> (lineitem partitioned by ship year, orders by order year). A
TPC-H data set is one snapshot, so every load replaces the whole table: a re-run leaves the
same rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs._bulk_csv import BulkCsvLoad, BulkLoad
from lakehouse.config import Config
from lakehouse.delta import Warehouse
from lakehouse.errors import SourceUnavailableError
from lakehouse.generate.tpch import TPCH_TABLES, drop_dir, write_tpch_drops
from lakehouse.quality import load_suite
from lakehouse.run import RunContext

# Loaded smallest first, so a problem with the suites or the set-up shows in seconds.
LOAD_ORDER = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")


@dataclass(frozen=True)
class TpchResult:
    scale_factor: float
    run_date: dt.date
    generated: tuple[str, ...]  # tables whose drop was written by this run (others reused)
    loads: tuple[BulkLoad, ...]

    def __str__(self) -> str:
        lines = [f"TPC-H sf {self.scale_factor} for {self.run_date}:"]
        for load in self.loads:
            lines.append(
                f"  {load.table:<14} {load.rows_written:>12,} rows written, "
                f"{load.rows_refused:,} refused ({load.path} path, version {load.version})"
            )
        return "\n".join(lines)


def run(
    spark: SparkSession,
    cfg: Config,
    *,
    scale_factor: float,
    context: RunContext,
    tables: Sequence[str] = TPCH_TABLES,
    generate: bool = True,
    gx_sample_rows: int | None = None,
    path: Literal["auto", "exact"] = "auto",
) -> TpchResult:
    """Write (or reuse) the drops for ``context.run_date``, then load each table.
    ``generate=False`` loads the drops as they are (e.g. files delivered by someone else).
    ``gx_sample_rows``: see jobs/_bulk_csv.py; left out, ``quality.confirm_with_gx: false`` in
    the configuration turns GX off."""
    from schemas.tpch import TPCH_TABLES as CONTRACTS
    from schemas.tpch import YEAR_OF

    unknown = sorted(set(tables) - set(TPCH_TABLES))
    if unknown:
        raise SourceUnavailableError(f"unknown TPC-H table(s) {unknown}; known: {TPCH_TABLES}")
    if gx_sample_rows is None and not cfg.quality.confirm_with_gx:
        gx_sample_rows = 0
    landing = cfg.path("landing")
    generated: tuple[str, ...] = ()
    if generate:
        drops = write_tpch_drops(
            landing, scale_factor=scale_factor, run_date=context.run_date, tables=tables
        )
        generated = tuple(d.table for d in drops if d.generated)
    warehouse = Warehouse.from_config(cfg)
    loads = []
    for table in sorted(tables, key=LOAD_ORDER.index):
        contract = CONTRACTS[table]
        files = _drop_files(drop_dir(landing, table, context.run_date))
        derived = {c: F.year(d) for c, d in YEAR_OF.items() if c in contract.column_names}
        load = BulkCsvLoad(
            spark=spark,
            files=files,
            contract=contract,
            suite=load_suite(cfg.conf_dir, contract.name),
            warehouse=warehouse,
            context=context,
            derived=derived,
            gx_sample_rows=gx_sample_rows,
        )
        loads.append(load.run(path=path, log_level=cfg.spark.log_level))
    return TpchResult(scale_factor, context.run_date, generated, tuple(loads))


def _drop_files(drop: Path) -> list[Path]:
    files = sorted(drop.glob("*.csv"))
    if not files:
        raise SourceUnavailableError(
            f"no CSV files in {drop}; generate the drop (leave out --no-generate) or deliver it"
        )
    return files


def _tables(text: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    unknown = sorted(set(names) - set(TPCH_TABLES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{unknown or text!r}: choose from {', '.join(TPCH_TABLES)}"
        )
    return names


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(
        prog="ingest_tpch",
        description=__doc__.split("\n\n")[0],
        epilog="--run-date may be left out: the drop is then filed under today's date (UTC).",
    )
    parser.add_argument("--sf", type=float, required=True, help="scale factor, e.g. 0.1")
    parser.add_argument(
        "--tables", type=_tables, default=list(TPCH_TABLES), help="comma-separated (default: all 8)"
    )
    parser.add_argument(
        "--no-generate", action="store_true", help="load the day's drops as they are"
    )
    parser.add_argument(
        "--gx-sample-rows",
        type=int,
        help="great-expectations checks the row flags on this many rows of each table, also "
        "when every row passed; 0 never (default: every row of a table with refused rows, "
        "none of a clean one)",
    )
    parser.add_argument(
        "--exact", action="store_true", help="skip the one-scan fast path (numbers every line)"
    )
    args_in = list(sys.argv[1:] if argv is None else argv)
    if not any(a == "--run-date" or a.startswith("--run-date=") for a in args_in):
        # A TPC-H data set has no business date: it is filed under the day it was made.
        args_in += ["--run-date", dt.datetime.now(dt.UTC).date().isoformat()]
    return job_main(
        parser,
        args_in,
        job="ingest_tpch",
        body=lambda spark, cfg, args, context: run(
            spark,
            cfg,
            scale_factor=args.sf,
            context=context,
            tables=args.tables,
            generate=not args.no_generate,
            gx_sample_rows=args.gx_sample_rows,
            path="exact" if args.exact else "auto",
        ),
    )


if __name__ == "__main__":
    raise SystemExit(main())
