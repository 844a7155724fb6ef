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

from lakehouse import _cli_jobs
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
    _cli_jobs.add_parsers(commands, date_type=_date)
    from lakehouse.publish import command as publish_command

    publish_command.add_parser(commands, date_type=_date)
    from streaming import ops_command

    ops_command.add_parser(commands)
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
    # One flag for both: `lakehouse --verbose silver ...` and `lakehouse silver ... --verbose`.
    args.verbose = args.verbose or "--verbose" in job_args
    if args.verbose and _cli_jobs.is_job(args) and "--verbose" not in job_args:
        job_args.append("--verbose")
    if job_args and not _cli_jobs.is_job(args):
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
    if _cli_jobs.is_job(args):
        return _cli_jobs.run_job(args, job_args)
    if args.command == "features":
        return _cli_jobs.features_list(args, cfg, console)
    if args.command == "batch":
        return _cli_jobs.batch(args, cfg, console)
    if args.command == "quality":
        return _cli_jobs.quality(args, cfg, console)
    if args.command == "runs":
        return _cli_jobs.runs(args, cfg, console)
    if args.command == "report":
        return _cli_jobs.report(args, cfg, console)
    if args.command == "publish":
        from lakehouse.publish import command as publish_command

        return publish_command.run(args, cfg, console)
    if args.command == "stream":
        from streaming import ops_command

        return ops_command.run(args, cfg, console)
    if args.command == "generate":
        from lakehouse.generate import command as generate_command

        return generate_command.run(args, cfg, console)
    if args.command == "config":
        console.print_json(cfg.model_dump_json())
        return 0
    if args.command == "demo":
        from lakehouse.demo import run_demo

        return run_demo(cfg, console=console, days=args.days)
    raise AssertionError(f"unhandled command {args.command}")


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
