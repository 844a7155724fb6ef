"""`lakehouse stream start | status | stop | list`: the command line of streaming/ops.py."""

from __future__ import annotations

import argparse
import dataclasses
import json

from rich.console import Console
from rich.table import Table as RichTable

from lakehouse.config import Config
from streaming import ops

__all__ = ["add_parser", "run"]


def add_parser(commands: argparse._SubParsersAction) -> None:
    stream = commands.add_parser(
        "stream",
        help="start, check or stop the streaming apps (ingest_transactions, score_transactions)",
    )
    actions = stream.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = actions.add_parser(
        "start", help="start an app in the background; it resumes from its checkpoint"
    )
    start.add_argument("name", choices=sorted(ops.APPS), metavar="NAME", help=_names())
    start.add_argument("--max-offsets", type=int, help="events per micro-batch at most")
    start.add_argument("--topic", help="the topic to read (default: transactions)")
    status = actions.add_parser(
        "status", help="running or not, input and processed rates, last batch, lag per partition"
    )
    status.add_argument("names", nargs="*", metavar="NAME", help=f"{_names()} (default: all)")
    status.add_argument("--json", action="store_true", help="print JSON")
    stop = actions.add_parser(
        "stop", help="stop an app after the batch in flight (SIGTERM; killed after --timeout)"
    )
    stop.add_argument("name", choices=sorted(ops.APPS), metavar="NAME", help=_names())
    stop.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (120)")
    ensure = actions.add_parser(
        "ensure",
        help="start an app if it is not running; fail if it is more than --max-lag behind "
        "(what the streaming_watchdog DAG runs)",
    )
    ensure.add_argument("name", choices=sorted(ops.APPS), metavar="NAME", help=_names())
    ensure.add_argument("--max-lag", type=int, help="events behind over all partitions at most")
    actions.add_parser("list", help="the streaming apps and what they do")


def run(args: argparse.Namespace, cfg: Config, console: Console) -> int:
    if args.action == "list":
        for name, module in ops.APPS.items():
            console.print(f"{name:<20} python -m {module}", highlight=False)
        return 0
    if args.action == "start":
        extra = [*(["--max-offsets", str(args.max_offsets)] if args.max_offsets else [])]
        extra += ["--topic", args.topic] if args.topic else []
        started = ops.start(cfg, args.name, args=extra)
        console.print(f"{args.name} started (pid {started.pid}); log: {started.log}")
        return 0
    if args.action == "ensure":
        console.print(ops.ensure(cfg, args.name, max_lag=args.max_lag), highlight=False)
        return 0
    if args.action == "stop":
        console.print(ops.stop(cfg, args.name, timeout=args.timeout))
        return 0
    statuses = ops.status(cfg, args.names or None)
    if args.json:
        print(json.dumps([dataclasses.asdict(s) | {"total_lag": s.total_lag} for s in statuses]))
    else:
        _print(statuses, console)
    return 0 if all(s.state == "running" for s in statuses) else 1


def _print(statuses: list[ops.StreamStatus], console: Console) -> None:
    view = RichTable(title="streaming apps")
    for column in ("app", "state", "pid", "last batch", "in/s", "done/s", "batch ms", "lag"):
        view.add_column(column)
    for s in statuses:
        lag = ", ".join(f"{tp} {n:,}" for tp, n in s.lag.items()) or "-"
        view.add_row(
            s.name,
            "[green]running[/]" if s.state == "running" else "[yellow]stopped[/]",
            str(s.pid or "-"),
            f"{s.last_batch} at {s.last_batch_at}" if s.last_batch is not None else "-",
            _number(s.input_rows_per_s),
            _number(s.processed_rows_per_s),
            _number(s.batch_duration_ms),
            lag,
        )
    console.print(view)


def _number(value) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _names() -> str:
    return ", ".join(sorted(ops.APPS))
