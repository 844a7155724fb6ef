"""How both streaming apps run their query: until stopped, writing progress for `lakehouse
stream status`, and through broker outages.

A query whose source cannot reach Kafka fails (the source raises SourceUnavailableError). A
long-running app then waits and starts the query again from its checkpoint, so it picks up
where its last committed batch ended once the broker is back; nothing is lost or written twice
(the sinks skip commits that already landed). An ``available_now`` run does not wait: it fails
with the one-line error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from lakehouse.errors import SourceUnavailableError

if TYPE_CHECKING:
    from lakehouse.config import Config

__all__ = ["app_logging", "app_main", "may_be_replay", "run_app", "run_query", "source_options"]

log = logging.getLogger(__name__)


def may_be_replay(batch_id: int, *, last_committed: int | None) -> bool:
    """Whether a foreachBatch sink must ask its tables' logs if ``batch_id`` is committed
    already (a replay after a crash): only for the query's first batch in this process, or one
    not after the last the sink committed. Spark runs a checkpoint's batches in one process at
    a time and in order, and each commit checks the app transaction again either way."""
    return last_committed is None or batch_id <= last_committed


def source_options(
    cfg,
    *,
    bootstrap: str,
    topic: str,
    starting_offsets: str,
    max_offsets: int | None,
    range_tasks: int | None = None,
) -> dict[str, str]:
    """The Kafka source's options for an app reading ``topic``. With ``range_tasks`` the source
    gives each batch's offset ranges in that many balanced groups (rangesOnly, rangeGroups):
    the sink's tasks read the records themselves (kafka_source.read_task_ranges)."""
    options = {
        "kafka.bootstrap.servers": bootstrap,
        "subscribe": topic,
        "startingOffsets": starting_offsets,
        "maxOffsetsPerTrigger": str(max_offsets or cfg.streaming.max_offsets_per_trigger),
    }
    if range_tasks is not None:
        options |= {"rangesOnly": "true", "rangeGroups": str(range_tasks)}
    return options


def run_app(
    spark,
    cfg,
    *,
    app: str,
    sink: Callable,
    options: dict[str, str],
    checkpoint: Path,
    available_now: bool,
    batches: list,
    stop_event: threading.Event | None,
    progress: Path | None,
) -> StreamingQuery:
    """The apps' common query: the Kafka source with ``options`` (source_options), each
    micro-batch handed to ``sink`` (foreachBatch) under ``checkpoint``, run until the topic's
    end (``available_now``) or until stopped, through broker outages (``run_query``)."""
    from streaming import kafka_source

    events = spark.readStream.format(kafka_source.FORMAT).options(**options).load()
    writer = events.writeStream.foreachBatch(sink).option("checkpointLocation", str(checkpoint))
    if available_now:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=cfg.streaming.trigger_interval)
    return run_query(
        writer.queryName(app).start,
        batches=batches,
        stop=stop_event or threading.Event(),
        progress=progress,
        available_now=available_now,
        reconnect_max_wait_s=cfg.streaming.reconnect_max_wait_s,
    )


def run_query(
    start: Callable[[], StreamingQuery],
    *,
    batches: list,
    stop: threading.Event,
    progress: Path | None,
    available_now: bool,
    reconnect_max_wait_s: float,
) -> StreamingQuery:
    """Start the query with ``start()`` and wait for its end; while the broker is unreachable
    (and the run is not ``available_now``), wait 1, 2, 4 ... up to ``reconnect_max_wait_s``
    seconds between attempts. Returns the last query."""
    from streaming import kafka_source

    wait = 1.0
    while True:
        try:
            with kafka_source.typed_errors():
                query = start()
                _await(query, batches, stop, progress)
            return query
        except SourceUnavailableError as err:
            if available_now or stop.is_set():
                raise
            # One line per attempt, for the app's log and `lakehouse stream status` readers.
            log.error("%s; retrying in %.0f s", err, wait)
            if stop.wait(wait):
                return query
            wait = min(wait * 2, reconnect_max_wait_s)


def _await(query, batches: list, stop: threading.Event, progress: Path | None = None) -> None:
    """Wait for the query to end; on ``stop``, let the batch in flight finish, then stop it.
    (If the next batch has started by then, stop() cuts it short: it is replayed on restart
    and its commits are skipped where they landed.) Each new progress of the query is written
    to ``progress`` (read by `lakehouse stream status`)."""
    written = None
    try:
        while not query.awaitTermination(0.2):
            latest = query.lastProgress
            if progress is not None and latest and latest.get("batchId") != written:
                written = latest.get("batchId")
                _write_progress(progress, latest)
            if stop.is_set():
                done = len(batches)
                while query.status["isTriggerActive"] and len(batches) == done:
                    query.awaitTermination(0.05)
                query.stop()
    except BaseException:
        if query.isActive:
            query.stop()
        raise
    query.awaitTermination()  # re-raises the query's failure, if it failed


def _write_progress(path: Path, progress: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(progress, default=str))
    staged.replace(path)  # atomic: a reader never sees half a file


def app_logging(spark, *, verbose: bool) -> None:
    """Time-stamped lines from the app's own loggers. Spark's log of a failed query (a Java
    trace) is turned off unless ``verbose``: the app raises or retries that failure itself,
    as one line."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    logging.getLogger("streaming").setLevel(logging.INFO)
    if verbose:
        return
    jvm = spark.sparkContext._jvm
    log4j = jvm.org.apache.logging.log4j
    log4j.core.config.Configurator.setLevel(
        "org.apache.spark.sql.execution.streaming", log4j.Level.OFF
    )


# (spark, cfg, the parsed arguments, the stop event, the progress file) -> the app's result.
StartApp = Callable[[SparkSession, "Config", argparse.Namespace, threading.Event, Path], object]


def app_main(
    app: str,
    argv: Sequence[str] | None,
    *,
    description: str,
    arguments: Callable[[argparse.ArgumentParser], None],
    start: StartApp,
) -> int:
    """The command line of a streaming app (``python -m`` or ``spark-submit``): ``--env`` and
    ``--verbose`` plus the app's ``arguments``; SIGTERM or SIGINT stops it after the batch in
    flight; a lakehouse error is one red line and exit status 2."""
    from rich.console import Console

    from lakehouse.config import load_config
    from lakehouse.errors import LakehouseError
    from lakehouse.session import build_spark
    from streaming.ops import progress_path

    parser = argparse.ArgumentParser(prog=app, description=description)
    parser.add_argument("--env", help="conf/<env>.yaml (default: $LAKEHOUSE_ENV or local)")
    arguments(parser)
    parser.add_argument("--verbose", action="store_true", help="full tracebacks on errors")
    args = parser.parse_args(argv)
    console = Console(stderr=True, soft_wrap=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        cfg = load_config(args.env, environ=os.environ)
        spark = build_spark(app, cfg)
        app_logging(spark, verbose=args.verbose)
        result = start(spark, cfg, args, stop, progress_path(cfg, app))
    except LakehouseError as err:
        if args.verbose:
            log.exception("%s failed", app)
        console.print(f"[bold red]error:[/] {err}", highlight=False)
        return 2
    print(result)
    return 0
