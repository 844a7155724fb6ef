"""`python -m bench [NAME ...] [--rows N] [--reps N] [--out DIR]`: run benchmarks, save results."""

from __future__ import annotations

import argparse
import importlib
import textwrap
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from bench import BENCHMARKS
from bench._record import (
    BenchError,
    Outcome,
    git_revision,
    machine,
    merge_summary,
    utc_now,
    write_result,
)
from lakehouse import LakehouseError

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_ROWS = 5_000_000
DEFAULT_REPS = 3


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    listing = "\n".join(
        textwrap.fill(
            f"{name:<14} {about}", width=78, initial_indent="  ", subsequent_indent=" " * 17
        )
        for name, about in BENCHMARKS.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run the lakehouse benchmarks and write bench/results/<name>.json plus "
        "the key figures, machine and git commit into summary.json.",
        epilog=f"benchmarks:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--rows",
        type=_positive,
        default=DEFAULT_ROWS,
        help=f"rows written (default {DEFAULT_ROWS:,})",
    )
    parser.add_argument(
        "--reps",
        type=_positive,
        default=DEFAULT_REPS,
        help=f"timed repetitions of each side; the median is reported (default {DEFAULT_REPS})",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"results directory (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    args.names = list(dict.fromkeys(args.names)) or list(BENCHMARKS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(log_path=False)
    context = {"machine": machine(), **git_revision(), "run_at_utc": utc_now()}
    for name in args.names:
        try:
            outcome = _run_one(name, rows=args.rows, reps=args.reps, console=console)
        except (BenchError, LakehouseError) as err:
            console.print(f"[red]{name} failed:[/] {err}")
            return 1
        result = write_result(args.out, name, outcome, context)
        summary = merge_summary(args.out, name, outcome, context)
        _show(console, name, outcome)
        console.print(f"wrote {result} and {summary}")
    return 0


def _run_one(name: str, *, rows: int, reps: int, console: Console) -> Outcome:
    module = importlib.import_module(f"bench.{name}")  # Spark starts only when needed
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(name, total=None)

        def report(step: str) -> None:
            progress.update(task, description=f"{name}: {step}")
            progress.console.log(f"{name}: {step}")

        return module.run(rows=rows, reps=reps, report=report)


def _show(console: Console, name: str, outcome: Outcome) -> None:
    table = RichTable(title=name)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in outcome.figures.items():
        table.add_row(key, "not measured" if value is None else f"{value:,}")
    console.print(table)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: expected a whole number >= 1")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
