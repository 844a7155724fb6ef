"""What every job entry point shares: --run-date and --env, config, session, run context,
one-line errors. Jobs stay thin: they add their own arguments and a body."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from lakehouse.config import Config, load_config
from lakehouse.errors import LakehouseError, ModelNotFoundError
from lakehouse.run import RunContext
from lakehouse.runs import finish_run

Body = Callable[[Any, Config, argparse.Namespace, RunContext], Any]

# Exit codes: 0 done, 2 a user-facing error (one line on stderr), 3 no model to use (nothing
# registered under that name or alias yet: orchestrators skip the task instead of failing it).
EXIT_ERROR = 2
EXIT_NO_MODEL = 3


def job_main(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    *,
    job: str,
    body: Body,
    preflight: Callable[[Config, argparse.Namespace], Any] | None = None,
) -> int:
    """Parse, load the config, run ``preflight(cfg, args)`` (cheap checks that should fail
    before a Spark session starts), build the session, run ``body``; print its result."""
    parser.add_argument(
        "--run-date", required=True, type=dt.date.fromisoformat, help="logical date, YYYY-MM-DD"
    )
    parser.add_argument("--env", help="conf/<env>.yaml (default: $LAKEHOUSE_ENV or local)")
    parser.add_argument("--verbose", action="store_true", help="full tracebacks on errors")
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    context = RunContext.start(job, args.run_date)
    cfg = spark = None
    try:
        cfg = load_config(args.env, environ=os.environ)
        if preflight is not None:
            preflight(cfg, args)
        from lakehouse.session import build_spark

        spark = build_spark(f"{job}-{args.run_date}", cfg)
        with console.status(f"{job} {args.run_date} ..."):
            result = body(spark, cfg, args, context)
    except LakehouseError as err:
        no_model = isinstance(err, ModelNotFoundError)
        _record(cfg, context, spark, "skipped" if no_model else "failed", error=str(err))
        if args.verbose:
            # Printed here: re-raised, the `lakehouse` command would report it in one line.
            traceback.print_exc()
        console.print(f"[bold red]error:[/] {err}", highlight=False)
        return EXIT_NO_MODEL if no_model else EXIT_ERROR
    except BaseException as err:
        _record(cfg, context, spark, "failed", error=f"{type(err).__name__}: {err}")
        raise
    _record(cfg, context, spark, "succeeded", result=result)
    print(result)
    return 0


def _record(cfg, context: RunContext, spark, status, *, result=None, error=None) -> None:
    """The run into ops.job_runs (not possible when the configuration itself failed)."""
    if cfg is not None:
        finish_run(cfg, context, spark=spark, status=status, result=result, error=error)


if __name__ == "__main__":
    sys.exit("run a job module, e.g. python jobs/ingest_csv.py --help")
