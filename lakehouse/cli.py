"""The `lakehouse` command. It parses arguments, builds the config, then calls library or job
functions; a user mistake prints one line (``--verbose`` shows the trace)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table as RichTable

from lakehouse.config import Config, load_config
from lakehouse.errors import LakehouseError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakehouse",
        description="Spark batch + streaming lakehouse: Delta tables, jobs and operations.",
    )
    parser.add_argument(
        "--env", help="configuration to use: conf/<env>.yaml (default: $LAKEHOUSE_ENV or local)"
    )
    parser.add_argument("--verbose", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    tables = commands.add_parser("tables", help="list every table in the warehouse")
    tables.add_argument("--json", action="store_true", help="print JSON instead of a table")

    table = commands.add_parser("table", help="inspect or maintain one table")
    verbs = table.add_subparsers(dest="verb", required=True, metavar="VERB")
    history = verbs.add_parser("history", help="the table's commits, newest first")
    history.add_argument("name", help="table name, e.g. silver.orders")
    history.add_argument("--limit", type=int, default=20, help="commits to show (default 20)")
    history.add_argument("--json", action="store_true", help="print JSON")
    vacuum = verbs.add_parser("vacuum", help="delete files no version within the retention needs")
    vacuum.add_argument("name", help="table name, e.g. silver.orders")
    vacuum.add_argument(
        "--retention-hours", type=int, help="default: warehouse.vacuum_retention_hours"
    )
    vacuum.add_argument("--dry-run", action="store_true", help="list the files, delete nothing")
    optimize = verbs.add_parser("optimize", help="compact partitions made of many small files")
    optimize.add_argument("name", help="table name, e.g. silver.orders")
    optimize.add_argument(
        "--min-files",
        type=int,
        default=2,
        help="compact partitions with at least this many small files",
    )

    services = commands.add_parser(
        "services", help="start, stop or check the local MariaDB, PostgreSQL, Kafka broker and S3"
    )
    actions = services.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("up", "start the services (running ones are reused) and wait until each answers"),
        ("down", "stop the services `up` started"),
        ("status", "show each service's health and address"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument(
            "names", nargs="*", metavar="NAME", help="mariadb, postgres, kafka, s3 (default: all)"
        )
        sub.add_argument("--json", action="store_true", help="print JSON")

    from lakehouse.generate import command as generate_command

    generate_command.add_parser(commands)
    ingest = commands.add_parser(
        "ingest", help="run an ingest job (the same code as spark-submit jobs/ingest_*.py)"
    )
    kinds = ingest.add_subparsers(dest="kind", required=True, metavar="KIND")
    # The job parses its own arguments (and --help), as under spark-submit.
    kinds.add_parser(
        "csv", add_help=False, help="a day's CSV drop -> bronze (--source S --run-date D)"
    )
    kinds.add_parser(
        "mysql",
        add_help=False,
        help="rows changed since the last pull -> bronze (--table T --run-date D [--full])",
    )
    kinds.add_parser(
        "tpch",
        add_help=False,
        help="generate TPC-H with DuckDB, drop it as CSV, load tpch.<table> (--sf 0.1)",
    )
    layers = commands.add_parser("silver", help="build a silver table for a run date (a job)")
    tables = layers.add_subparsers(dest="table", required=True, metavar="TABLE")
    tables.add_parser(
        "transactions",
        add_help=False,
        help="bronze.transactions -> quality gate -> silver.transactions (--run-date D)",
    )
    tables.add_parser(
        "customers",
        add_help=False,
        help="bronze.customers -> quality gate -> silver.customers, SCD2 (--run-date D)",
    )
    for shop_table in ("orders", "order_items", "products", "accounts"):
        tables.add_parser(
            shop_table,
            add_help=False,
            help=f"bronze.shop_{shop_table} -> quality gate -> silver.{shop_table} (--run-date D)",
        )
    batch = commands.add_parser(
        "batch",
        help="the whole daily batch for a run date in one session: ingest -> silver -> gold",
    )
    batch.add_argument("--run-date", required=True, type=_date, help="logical date, YYYY-MM-DD")
    batch.add_argument(
        "--no-mysql", action="store_true", help="skip the MySQL pulls and what is built from them"
    )
    commands.add_parser(
        "gold",
        add_help=False,
        help="silver -> the gold aggregates for a run date (--run-date D [--table T])",
    )
    quality = commands.add_parser(
        "quality", help="show the quality gates' results per rule (ops.quality_results)"
    )
    quality.add_argument("--table", help="one table, e.g. silver.transactions")
    quality.add_argument("--run-date", type=_date, help="one run date (default: the last 7)")
    quality.add_argument("--json", action="store_true", help="print JSON")
    commands.add_parser("config", help="print the effective configuration (secrets hidden)")
    demo = commands.add_parser(
        "demo", help="run the end-to-end demo on embedded defaults and print what it produced"
    )
    demo.add_argument(
        "--days", type=int, default=3, help="days of the daily batch to run (default 3)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, job_args = parser.parse_known_args(argv)
    if job_args and args.command not in ("ingest", "silver", "gold"):
        parser.error(f"unrecognized arguments: {' '.join(job_args)}")
    try:
        cfg = load_config(args.env, environ=os.environ)
        return _dispatch(args, cfg, job_args)
    except LakehouseError as err:
        if args.verbose:
            raise
        err_console.print(f"[bold red]error:[/] {err}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except Exception as err:
        # Spark and Py4J errors arrive with a Java stack trace: show its first line only.
        if args.verbose or not type(err).__module__.startswith(("pyspark", "py4j")):
            raise
        first = next((line for line in str(err).splitlines() if line.strip()), repr(err))
        err_console.print(f"[bold red]error:[/] {first} (--verbose for the trace)", highlight=False)
        return 1


def _dispatch(args: argparse.Namespace, cfg: Config, job_args: list[str]) -> int:
    if args.command == "tables":
        return _tables(cfg, as_json=args.json)
    if args.command == "table":
        return _table(args, cfg)
    if args.command == "services":
        return _services(args, cfg)
    if args.command == "ingest":
        from jobs import ingest_csv, ingest_mysql, ingest_tpch

        jobs = {"csv": ingest_csv, "mysql": ingest_mysql, "tpch": ingest_tpch}
        return jobs[args.kind].main(job_args)
    if args.command == "silver":
        from jobs import build_silver_customers, build_silver_transactions

        job = {"transactions": build_silver_transactions, "customers": build_silver_customers}
        if args.table not in job:
            from jobs import build_silver_shop

            return build_silver_shop.main(["--table", args.table, *job_args])
        return job[args.table].main(job_args)
    if args.command == "batch":
        return _batch(args, cfg)
    if args.command == "gold":
        from jobs import build_gold

        return build_gold.main(job_args)
    if args.command == "generate":
        from lakehouse.generate import command as generate_command

        return generate_command.run(args, cfg, console)
    if args.command == "quality":
        from lakehouse.reports import print_quality_results, quality_results

        rows = quality_results(cfg, table=args.table, run_date=args.run_date)
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
        else:
            print_quality_results(rows, console)
        return 0
    if args.command == "config":
        console.print_json(cfg.model_dump_json())
        return 0
    if args.command == "demo":
        from lakehouse.demo import run_demo

        return run_demo(cfg, console=console, days=args.days)
    raise AssertionError(f"unhandled command {args.command}")


def _batch(args: argparse.Namespace, cfg: Config) -> int:
    from lakehouse.daily import run_daily_batch
    from lakehouse.session import build_spark

    spark = build_spark(f"daily-batch-{args.run_date}", cfg)
    with console.status(f"daily batch {args.run_date}") as status:
        done = run_daily_batch(
            spark,
            cfg,
            args.run_date,
            mysql=not args.no_mysql,
            progress=lambda step: status.update(f"daily batch {args.run_date}: {step} ..."),
        )
    console.print(f"[green]✓[/] {args.run_date}: {done.summary()}", highlight=False)
    return 0


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _services(args: argparse.Namespace, cfg: Config) -> int:
    from lakehouse import services

    action = {"up": services.up, "down": services.down, "status": services.status}[args.action]
    statuses = action(cfg, args.names or None)
    if args.json:
        print(json.dumps([s.__dict__ for s in statuses], indent=2))
    else:
        colour = {"running": "green", "stopped": "yellow", "unhealthy": "red"}
        for s in statuses:
            pid = f"pid {s.pid}" if s.pid else ""
            console.print(
                f"[{colour[s.state]}]{s.state:<9}[/] {s.name:<9} {s.address}  {pid} {s.detail}",
                highlight=False,
            )
    healthy = all(s.state == "running" for s in statuses) or args.action == "down"
    return 0 if healthy else 1


def _tables(cfg: Config, *, as_json: bool) -> int:
    from lakehouse.delta import Warehouse

    infos = Warehouse.from_config(cfg).tables()
    if as_json:
        print(json.dumps([info.__dict__ for info in infos], indent=2))
        return 0
    view = RichTable(title=f"tables in {cfg.warehouse_uri}")
    for column in ("name", "version", "rows", "files", "partitioned by", "path"):
        view.add_column(column)
    for info in infos:
        view.add_row(
            info.name,
            str(info.version),
            f"{info.rows:,}",
            str(info.files),
            ", ".join(info.partition_columns),
            info.uri,
        )
    console.print(view)
    return 0


def _table(args: argparse.Namespace, cfg: Config) -> int:
    from lakehouse.delta import Warehouse

    table = Warehouse.from_config(cfg).table(args.name)
    if args.verb == "history":
        return _history(table.history(args.limit), as_json=args.json)
    if args.verb == "vacuum":
        hours = (
            cfg.warehouse.vacuum_retention_hours
            if args.retention_hours is None
            else args.retention_hours
        )
        removed = table.vacuum(retention_hours=hours, dry_run=args.dry_run)
        verb = "would delete" if args.dry_run else "deleted"
        console.print(f"{args.name}: {verb} {len(removed)} file(s) older than {hours} h")
        for path in removed:
            console.print(f"  {path}", highlight=False)
        return 0
    if args.verb == "optimize":
        from lakehouse.session import build_spark

        spark = build_spark(f"lakehouse-optimize-{args.name}", cfg)
        result = table.optimize(spark, min_files=args.min_files)
        console.print(
            f"{args.name}: compacted {result.files_removed} file(s) into {result.files_added}"
            + ("" if result.skipped else f" (version {result.version})")
        )
        return 0
    raise AssertionError(f"unhandled verb {args.verb}")


def _history(entries: list[dict], *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(entries, indent=2, default=str))
        return 0
    view = RichTable()
    for column in ("version", "time (UTC)", "operation", "change"):
        view.add_column(column)
    for entry in entries:
        metrics = entry.get("lakehouse.metrics") or {}
        change = (
            f"+{metrics['rowsAdded']:,} -{metrics['rowsRemoved']:,} rows, "
            f"+{metrics['filesAdded']} -{metrics['filesRemoved']} files"
            if metrics
            else ""
        )
        view.add_row(
            str(entry.get("version")),
            _utc(entry.get("timestamp")),
            str(entry.get("lakehouse.operation") or entry.get("operation")),
            change,
        )
    console.print(view)
    return 0


def _utc(millis: int | None) -> str:
    import datetime as dt

    if millis is None:
        return ""
    return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


if __name__ == "__main__":
    sys.exit(main())
