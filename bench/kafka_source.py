"""kafka_source: raw read throughput of the kafka-py streaming reader (streaming/kafka_source.py).

A private broker (librdkafka's mock cluster, lakehouse.services.kafka_broker) gets one topic
with enough partitions that its fixed retention (~5 MiB per partition) keeps every message;
``messages`` small JSON transaction events (~150 bytes) are produced into it zstd-compressed
and batched, untimed. Then a stream reads the whole topic from the earliest offset with
Trigger.AvailableNow into the noop sink, for each maxOffsetsPerTrigger; the clock runs from
start() to the query's end, so each micro-batch's fixed cost is included. Every micro-batch's
rows are summed and must equal what was produced, or the figures are void. For scale, one
Python process consuming the same topic with confluent-kafka alone is timed too.

    python -m bench.kafka_source [--messages 1000000] [--reps 3]  # writes results/kafka_source.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench._measure import bench_environ, spark_session
from bench._record import BenchError, Outcome, git_revision, machine, utc_now, write_result
from lakehouse import build_spark, load_config

TOPIC = "bench_events"
PER_PARTITION = 125_000  # well under the ~238k zstd-batched small messages a partition keeps
MAX_MESSAGES = 1_000_000  # the mock broker holds the topic in memory
TRIGGER_LIMITS = (100_000, 250_000, 500_000)
PRODUCER = {
    "compression.type": "zstd",
    "linger.ms": 20,
    "batch.num.messages": 100_000,
    "queue.buffering.max.messages": 1_000_000,
}


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    messages = min(rows, MAX_MESSAGES)
    home = Path(tempfile.mkdtemp(prefix="bench-kafka-source-"))
    partitions = max(2, -(-messages // PER_PARTITION))
    broker = _start_broker(home / "broker", partitions)
    try:
        bootstrap = _bootstrap(home / "broker", broker)
        report(f"producing {messages:,} JSON events into {partitions} partitions (untimed)")
        produce_s, size = _produce(bootstrap, messages, partitions)
        raw = _raw_consume(bootstrap, messages)
        report(f"one Python process consuming with confluent-kafka alone: {raw:,.0f}/s")
        environ = {"LAKEHOUSE__SPARK__MASTER": "local[2]", **bench_environ(home)}
        cfg = load_config("local", environ=environ)
        spark = build_spark("bench-kafka-source", cfg)
        try:
            runs = _measure(
                spark, home, bootstrap, messages, reps=reps, broker_pid=broker.pid, report=report
            )
            session = spark_session(spark, cfg)
        finally:
            spark.stop()
    finally:
        broker.terminate()
        broker.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    return _outcome(
        messages, partitions, runs, raw=raw, produce_s=produce_s, size=size, session=session
    )


def _start_broker(state: Path, partitions: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "lakehouse.services.kafka_broker", f"--state={state}"]
    log = open(state.parent / "broker.log", "wb")  # noqa: SIM115 - the broker outlives this call
    return subprocess.Popen([*argv, f"--topic={TOPIC}={partitions}"], stdout=log, stderr=log)


def _bootstrap(state: Path, broker: subprocess.Popen) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and broker.poll() is None:
        if (state / "bootstrap").exists():
            return (state / "bootstrap").read_text().strip()
        time.sleep(0.1)
    raise BenchError(f"kafka_source: the broker did not start; see {state.parent}/broker.log")


def _produce(bootstrap: str, messages: int, partitions: int) -> tuple[float, int]:
    """Seconds taken and value bytes produced."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER})
    started, size = time.perf_counter(), 0
    for i in range(messages):
        value = (
            f'{{"event_id":"e{i:09d}","customer_id":{i % 50_000},'
            f'"amount":{i % 9_973}.{i % 100:02d},'
            f'"currency":"EUR","merchant":"merchant_{i % 5_000:04d}","channel":"app",'
            f'"txn_ts":"2024-05-01T{i // 3_600_000 % 24:02d}:{i // 60_000 % 60:02d}:'
            f'{i // 1000 % 60:02d}Z"}}'
        )
        size += len(value)
        while True:
            try:
                producer.produce(TOPIC, value.encode(), str(i % 50_000).encode(), i % partitions)
                break
            except BufferError:
                producer.poll(0.05)
    if producer.flush(120):
        raise BenchError("kafka_source: the broker did not take every message in 120 s")
    return time.perf_counter() - started, size


def _raw_consume(bootstrap: str, messages: int) -> float:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-raw"})
    parts = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in parts])
    started, seen = time.perf_counter(), 0
    while seen < messages:
        batch = consumer.consume(num_messages=min(10_000, messages - seen), timeout=10)
        if not batch:
            raise BenchError(f"kafka_source: raw consumer stalled at {seen:,} of {messages:,}")
        seen += sum(1 for m in batch if m.error() is None and m.value() is not None)
    took = time.perf_counter() - started
    consumer.close()
    return messages / took


def _measure(
    spark, home: Path, bootstrap: str, messages: int, *, reps: int, broker_pid: int, report
) -> dict:
    from streaming import kafka_source

    kafka_source.register(spark)
    runs: dict[int, list[dict]] = {limit: [] for limit in TRIGGER_LIMITS}
    report("warming up (untimed: one small stream)")
    _one_stream(
        spark, home / "warm-up", bootstrap, limit=20_000, broker_pid=broker_pid, stop_after=1
    )
    for rep in range(reps):
        for limit in TRIGGER_LIMITS:
            checkpoint = home / f"ck-{limit}-{rep}"
            result = _one_stream(spark, checkpoint, bootstrap, limit=limit, broker_pid=broker_pid)
            if result["rows"] != messages:
                raise BenchError(
                    f"kafka_source: the stream read {result['rows']:,} rows, expected"
                    f" {messages:,}; the figures are void"
                )
            runs[limit].append(result)
            report(
                f"rep {rep + 1}/{reps} maxOffsetsPerTrigger={limit:,}: {result['seconds']:.2f} s,"
                f" {messages / result['seconds']:,.0f} events/s over {result['batches']} batches,"
                f" {result['cpu_seconds']:.1f} CPU-s ({os.getloadavg()[0]:.1f} load)"
            )
    return runs


def _one_stream(
    spark, checkpoint: Path, bootstrap: str, *, limit: int, broker_pid: int, stop_after=None
) -> dict:
    from streaming import kafka_source

    df = (
        spark.readStream.format(kafka_source.FORMAT)
        .option("kafka.bootstrap.servers", bootstrap)
        .option("subscribe", TOPIC)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", limit)
        .load()
    )
    writer = df.writeStream.format("noop").option("checkpointLocation", str(checkpoint))
    started, cpu_before = time.perf_counter(), tree_cpu_seconds(exclude=broker_pid)
    with kafka_source.typed_errors():
        if stop_after is None:
            query = writer.trigger(availableNow=True).start()
            query.awaitTermination()
        else:
            query = writer.start()
            while len(query.recentProgress) < stop_after:
                time.sleep(0.1)
            query.stop()
    seconds, cpu = time.perf_counter() - started, tree_cpu_seconds(exclude=broker_pid) - cpu_before
    progress = [p for p in query.recentProgress if p.numInputRows]
    shutil.rmtree(checkpoint, ignore_errors=True)
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "rows": sum(p.numInputRows for p in progress),
        "batches": len(progress),
        "batch_ms": [p.durationMs.get("triggerExecution") for p in progress],
    }


def tree_cpu_seconds(*, exclude: int) -> float:
    """CPU time of every process below this one but ``exclude`` (the broker) and of the
    children they reaped (Python workers that ended): the JVM and its Python workers. On a
    machine other jobs share, events per CPU-second say more than events per second."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(stat.parent.name)] = (int(fields[1]), sum(map(int, fields[11:15])) / ticks)
    below, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, (ppid, _) in stats.items() if ppid in frontier} - below
        frontier.discard(exclude)
        below |= frontier
    own = os.times()
    return own.user + own.system + sum(stats[pid][1] for pid in below)


def _outcome(messages, partitions, runs, *, raw, produce_s, size, session) -> Outcome:
    medians = {limit: statistics.median(r["seconds"] for r in rs) for limit, rs in runs.items()}
    per_limit = {
        str(limit): {
            "seconds": [r["seconds"] for r in rs],
            "events_per_s": round(messages / medians[limit]),
            "cpu_seconds": [r["cpu_seconds"] for r in rs],
            "events_per_cpu_s": round(messages / statistics.median(r["cpu_seconds"] for r in rs)),
            "batches": rs[0]["batches"],
            "batch_ms": [r["batch_ms"] for r in rs],
        }
        for limit, rs in runs.items()
    }
    best = max(per_limit.values(), key=lambda r: r["events_per_s"])["events_per_s"]
    details = {
        "messages": messages,
        "partitions": partitions,
        "value_bytes_mean": round(size / messages, 1),
        "sink": "noop",
        "trigger": "availableNow",
        "by_max_offsets_per_trigger": per_limit,
        "raw_confluent_kafka_one_process_per_s": round(raw),
        "produce_s_untimed": round(produce_s, 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "spark": session,
    }
    figures = {"kafka_source_events_per_s": best, "kafka_raw_consume_per_s": round(raw)}
    return Outcome(details=details, figures=figures)


def main(argv: list[str] | None = None) -> int:
    """Run standalone and write bench/results/kafka_source.json (summary.json is left to
    ``python -m bench``, which runs the benchmarks named in bench.BENCHMARKS)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=MAX_MESSAGES)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    context = {"machine": machine(), **git_revision(), "run_at_utc": utc_now()}
    outcome = run(rows=args.messages, reps=args.reps, report=lambda s: print(s, flush=True))
    print(json.dumps(outcome.figures, indent=2))
    print(f"wrote {write_result(args.out, 'kafka_source', outcome, context)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
