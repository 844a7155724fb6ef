"""Runs `lakehouse` CLI commands in one process (one Spark session), optionally with a crash
point armed, for the ingest crash test and the PII scan.

    python cli_driver.py [--stall-write TABLE --marker FILE] [--die-before-commit TABLE]
                         [--die-after-commit TABLE] -- ARGS [--then ARGS ...]

Each ARGS is what follows `lakehouse` on a command line; they run in order through
``lakehouse.cli.main``, each reported as ``=== lakehouse ARGS -> rc N``. An exception is printed
with its traceback (as the interpreter would) and the next command still runs; the exit code
is the first non-zero one.

Crash points (the process must lead its own process group: start it with
``start_new_session=True``):
- ``--stall-write TABLE``: the Spark job that writes TABLE's data files runs as two tasks; the
  first stops after handing one batch to the writer and writes ``--marker``, the second
  finishes its file in the staging directory; the test then kills the session with SIGKILL.
- ``--die-before-commit TABLE``: SIGKILL to the whole process group (driver, JVM, Python
  workers) when TABLE's files are published but its Delta commit is not yet written.
- ``--die-after-commit TABLE``: the same right after TABLE's commit has landed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path

STALL_SECONDS = 600


def main() -> int:
    args, commands = _parse(sys.argv[1:])
    _arm(args)
    from lakehouse import cli

    first_failure = 0
    for command in commands:
        try:
            rc = cli.main(command)
        except SystemExit as stop:  # argparse errors and --help
            rc = stop.code if isinstance(stop.code, int) else 1
        except Exception:
            traceback.print_exc()
            rc = 1
        print(f"=== lakehouse {' '.join(command)} -> rc {rc}", flush=True)
        print(f"=== lakehouse {' '.join(command)} -> rc {rc}", file=sys.stderr, flush=True)
        first_failure = first_failure or rc
    return first_failure


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[list[str]]]:
    if "--" not in argv:
        sys.exit("usage: cli_driver.py [crash options] -- ARGS [--then ARGS ...]")
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="cli_driver.py")
    parser.add_argument("--stall-write", metavar="TABLE")
    parser.add_argument("--marker", type=Path)
    parser.add_argument("--die-before-commit", metavar="TABLE")
    parser.add_argument("--die-after-commit", metavar="TABLE")
    args = parser.parse_args(argv[:split])
    if args.stall_write and not args.marker:
        parser.error("--stall-write needs --marker")
    commands: list[list[str]] = [[]]
    for arg in argv[split + 1 :]:
        if arg == "--then":
            commands.append([])
        else:
            commands[-1].append(arg)
    return args, [c for c in commands if c]


def _arm(args: argparse.Namespace) -> None:
    from lakehouse.delta import _log, _write

    if args.die_before_commit or args.die_after_commit:
        real_commit = _log.commit

        def commit(table, name, *rest, **kwargs):
            if name == args.die_before_commit:
                _die(f"{name}: files published, commit not written")
            version = real_commit(table, name, *rest, **kwargs)
            if name == args.die_after_commit:
                _die(f"{name}: version {version} committed")
            return version

        _log.commit = commit

    if args.stall_write:
        real_stage = _write.stage
        suffix = "/" + args.stall_write.replace(".", "/")
        marker = str(args.marker)

        def stage(df, storage, **kwargs):
            if storage.base.rstrip("/").endswith(suffix):
                # Two tasks, so one can finish its file while the other is stalled.
                df = df.repartition(2).mapInArrow(
                    lambda batches: _stall_first_task(batches, marker), df.schema
                )
            return real_stage(df, storage, **kwargs)

        _write.stage = stage


def _die(what: str) -> None:
    if os.getpgrp() != os.getpid():
        raise RuntimeError("cli_driver.py must lead its process group (start_new_session=True)")
    print(f"DYING: {what}", flush=True)
    os.killpg(os.getpgrp(), signal.SIGKILL)


def _stall_first_task(batches, marker: str):
    """Runs in a Spark Python worker: task 0 passes one batch on, then stops."""
    from pyspark import TaskContext

    stall = TaskContext.get().partitionId() == 0
    for batch in batches:
        yield batch
        if stall:
            break
    if stall:
        Path(marker).write_text(f"task 0 of stage {TaskContext.get().stageId()} stalled\n")
        time.sleep(STALL_SECONDS)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    raise SystemExit(main())
