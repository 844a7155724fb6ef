"""streaming: both streaming apps end to end, Kafka to committed Delta tables, on a private
broker (librdkafka's mock cluster): the ingest app (streaming/ingest_transactions.py, events to
bronze/silver) and the scoring app (streaming/score_transactions.py, events joined with online
features and scored by an anomaly champion into gold.transaction_scores_stream; its world is
built by stream_world.py from generator data).

For each app:
- capacity: after an untimed warm-up run (the first batch of a fresh app pays for starting
  Spark's Python workers), ``DRAIN_EVENTS`` valid JSON transactions are produced (untimed), then
  the app reads them with Trigger.AvailableNow at the configured maxOffsetsPerTrigger; events / wall
  time from start to the query's end is ``stream_ingest_events_per_s`` /
  ``stream_score_events_per_s``;
- latency curve: for each offered load a paced producer sends events for ``LOAD_SECONDS``
  while the app runs with its configured processing-time trigger; each event's latency is the
  commit time of the table version that holds it (the Delta log, read with delta-rs) minus its
  Kafka timestamp (set by the producer when it sent it); p50/p99 per load, and the rate
  achieved (events / first send to last commit). ``stream_p99_latency_s`` is the worse of the
  two apps' p99 at an offered 20,000 events/s.

    python -m bench streaming
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable

from bench._measure import bench_environ, cpu_seconds, spark_session
from bench._record import BenchError, Outcome
from lakehouse.delta import Table

PARTITIONS = 16  # the mock broker keeps ~5 MiB per partition: room for the load runs
DRAIN_EVENTS = 300_000
WARMUP_EVENTS = 20_000
LOADS = (5_000, 20_000)
LOAD_SECONDS = 20
LATENCY_LOAD = 20_000
# The paced producer's batching. The local broker (librdkafka's mock cluster) returns one record
# batch per partition per fetch (rdkafka_mock_handlers.c: "FIXME: Multiple messageSets ?"), so
# reading costs a round trip per producer batch: at linger.ms=5 a paced 20,000/s made ~200
# batches a partition a second and reading them took ~0.3 s of each scoring task (~0.18 s at
# 20 ms). The linger counts in the latency measured (the Kafka timestamp is taken when the
# event is handed to the producer).
PRODUCER = {"linger.ms": 20, "compression.type": "zstd"}
# The scorer's world: its customers, whose online features come from this much history.
WORLD_CUSTOMERS = 2_000
WORLD_DAYS = 30


@dataclass(frozen=True)
class App:
    name: str
    run: Callable  # streaming.<app>.run
    table: str  # where an event counts as committed
    cfg: object
    warehouse: object | None  # None: one per run
    customers: list[str]


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    from lakehouse import build_spark, load_config

    home = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    topics = [f"{app}-{run}" for app in APPS for run in ("warmup", "drain", *map(str, LOADS))]
    broker, bootstrap = _start_broker(home / "broker", topics)
    try:
        environ = {
            "LAKEHOUSE__SPARK__MASTER": "local[2]",
            "LAKEHOUSE__KAFKA__BOOTSTRAP_SERVERS": bootstrap,
            **bench_environ(home),
        }
        cfg = load_config("local", environ=environ)
        spark = build_spark("bench-streaming", cfg)
        try:
            results = {
                app.name: _measure(spark, app, home, bootstrap, report)
                for app in _apps(spark, cfg, home, report)
            }
            session = spark_session(spark, cfg)
        finally:
            spark.stop()
    finally:
        broker.terminate()
        broker.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    details = {
        **results,
        "partitions": PARTITIONS,
        "trigger_interval": cfg.streaming.trigger_interval,
        "max_offsets_per_trigger": cfg.streaming.max_offsets_per_trigger,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "spark": session,
    }
    figures = {
        "stream_ingest_events_per_s": results["ingest"]["capacity"]["events_per_s"],
        "stream_score_events_per_s": results["score"]["capacity"]["events_per_s"],
        "stream_p99_latency_s": max(
            r["latency_by_offered_events_per_s"][str(LATENCY_LOAD)]["p99_s"]
            for r in results.values()
        ),
    }
    return Outcome(details=details, figures=figures)


APPS = ("ingest", "score")


def _apps(spark, cfg, home: Path, report) -> list[App]:
    from bench.stream_world import build_world
    from lakehouse.generate import GeneratorSpec
    from streaming.ingest_transactions import run as ingest
    from streaming.score_transactions import run as score

    report("building the scorer's world: features and an anomaly champion (untimed)")
    spec = GeneratorSpec(customers=WORLD_CUSTOMERS, days=WORLD_DAYS, seed=5, defect_rate=0.0)
    world = build_world(spark, cfg, home / "world", spec)
    ingest_customers = [f"C{i:05d}" for i in range(5_000)]
    return [
        App("ingest", ingest, "bronze.transaction_events", cfg, None, ingest_customers),
        App(
            "score",
            score,
            "gold.transaction_scores_stream",
            world.cfg,
            world.warehouse,
            world.customers,
        ),
    ]


def _measure(spark, app: App, home: Path, bootstrap: str, report) -> dict:
    # The app's first batch starts Spark's Python workers and warms the JIT (~10 s here):
    # a cost of starting the app, not of its sustained rate, so it is paid untimed.
    report(f"{app.name}: warming up on {WARMUP_EVENTS:,} events (untimed)")
    warmup = f"{app.name}-warmup"
    _produce(bootstrap, warmup, WARMUP_EVENTS, rate=None, customers=app.customers)
    app.run(
        spark,
        app.cfg,
        available_now=True,
        source_topic=warmup,
        checkpoint=home / f"{warmup}-checkpoint",
        warehouse=_warehouse(app, home, warmup),
    )
    report(f"{app.name}: producing {DRAIN_EVENTS:,} events (untimed)")
    _produce(bootstrap, f"{app.name}-drain", DRAIN_EVENTS, rate=None, customers=app.customers)
    return {
        "capacity": _drain(spark, app, home, report=report),
        "latency_by_offered_events_per_s": {
            str(rate): _under_load(spark, app, home, bootstrap, rate, report=report)
            for rate in LOADS
        },
    }


def _warehouse(app: App, home: Path, topic: str):
    from lakehouse.delta import Warehouse

    return app.warehouse or Warehouse(str(home / f"{topic}-warehouse"))


def _drain(spark, app: App, home: Path, *, report) -> dict:
    topic = f"{app.name}-drain"
    warehouse = _warehouse(app, home, topic)
    per_batch = app.cfg.streaming.max_offsets_per_trigger
    report(f"{app.name}: reading them (availableNow, {per_batch:,} per batch)")
    cpu, started = cpu_seconds(), time.perf_counter()
    done = app.run(
        spark,
        app.cfg,
        available_now=True,
        source_topic=topic,
        checkpoint=home / f"{topic}-checkpoint",
        warehouse=warehouse,
    )
    took, used = time.perf_counter() - started, cpu_seconds() - cpu
    committed = _committed(warehouse.uri_for(app.table), topic)
    if committed != DRAIN_EVENTS:
        raise BenchError(f"streaming: {app.name} committed {committed:,} of {DRAIN_EVENTS:,}")
    report(
        f"{app.name}: capacity {DRAIN_EVENTS / took:,.0f} events/s ({len(done.batches)} batches)"
    )
    return {
        "events": DRAIN_EVENTS,
        "seconds": round(took, 2),
        "events_per_s": round(DRAIN_EVENTS / took),
        "cpu_seconds": round(used, 1),
        "batches": len(done.batches),
        "batch_seconds": [round(b.seconds, 2) for b in done.batches],
    }


def _under_load(spark, app: App, home: Path, bootstrap: str, rate: int, *, report) -> dict:
    topic, events = f"{app.name}-{rate}", rate * LOAD_SECONDS
    warehouse = _warehouse(app, home, topic)
    stop, failure = threading.Event(), []

    def run_app() -> None:
        try:
            app.run(
                spark,
                app.cfg,
                available_now=False,
                source_topic=topic,
                checkpoint=home / f"{topic}-checkpoint",
                warehouse=warehouse,
                stop_event=stop,
            )
        except Exception as err:  # reported below, with the figures voided
            failure.append(err)

    thread = threading.Thread(target=run_app)
    thread.start()
    uri = warehouse.uri_for(app.table)
    try:
        time.sleep(5)  # the query's start-up is not part of any event's latency
        report(f"{app.name}: offered {rate:,} events/s for {LOAD_SECONDS} s")
        sent_at = _produce_elsewhere(bootstrap, topic, events, rate=rate, customers=app.customers)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not failure:
            if _committed(uri, topic) >= events:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join(120)
    if failure or _committed(uri, topic) < events:
        raise BenchError(f"streaming: {app.name} at {rate:,}/s lost events: {failure}")
    latencies, last_commit = _latencies(uri, topic)
    result = {
        "offered_events_per_s": rate,
        "events": events,
        "achieved_events_per_s": round(events / (last_commit - sent_at)),
        "p50_s": round(float(np.percentile(latencies, 50)), 3),
        "p99_s": round(float(np.percentile(latencies, 99)), 3),
        "max_s": round(float(latencies.max()), 3),
    }
    report(f"  p50 {result['p50_s']} s, p99 {result['p99_s']} s")
    return result


def _committed(uri: str, topic: str) -> int:
    """Rows of ``topic`` in the table (the scorer's runs share one table)."""
    try:
        dataset = Table(topic, uri).to_arrow_dataset()
    except Exception:  # not created yet
        return 0
    return dataset.count_rows(filter=pc.field("topic") == topic)


def _latencies(uri: str, topic: str) -> tuple[np.ndarray, float]:
    """Per row of ``topic``: its version's commit time - its Kafka timestamp (seconds); and
    the last such commit time (epoch seconds)."""
    table = DeltaTable(uri)
    commits = {h["version"]: h["timestamp"] / 1000 for h in table.history()}
    seen: set[str] = set()
    out, last = [], 0.0
    for version in sorted(commits):
        files = set(DeltaTable(uri, version=version).file_uris())
        for path in sorted(files - seen):
            rows = pq.read_table(path, columns=["topic", "kafka_ts"])
            rows = rows.filter(pc.equal(rows.column("topic"), topic))
            if rows.num_rows:
                kafka_ts = rows.column("kafka_ts").to_numpy()
                sent = kafka_ts.astype("datetime64[us]").astype(np.int64) / 1e6
                out.append(commits[version] - sent)
                last = max(last, commits[version])
        seen |= files
    return np.concatenate(out), last


def _produce_elsewhere(
    bootstrap: str, topic: str, events: int, *, rate: int, customers: list[str]
) -> float:
    """``_produce`` in a process of its own, as a real producer is: in the app's process its
    20,000 json.dumps a second held the GIL the driver's foreachBatch code needs between its
    calls to Spark. Returns when it started sending (epoch seconds)."""
    context = multiprocessing.get_context("spawn")  # not fork: this process runs a JVM's client
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        job = pool.submit(_produce, bootstrap, topic, events, rate=rate, customers=customers)
        return job.result()


def _produce(
    bootstrap: str, topic: str, events: int, *, rate: int | None, customers: list[str]
) -> float:
    """Valid transaction events; paced to ``rate`` per second in 10 ms ticks when given.
    Returns when the first was sent (epoch seconds)."""
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, **PRODUCER})
    sent_at, started = time.time(), time.monotonic()
    for i in range(events):
        if rate and i % max(rate // 100, 1) == 0:
            ahead = i / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        customer = customers[i % len(customers)]
        value = json.dumps(_event(topic, i, customer)).encode()
        while True:
            try:
                producer.produce(topic, value, key=customer.encode())
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(120):
        raise BenchError(f"streaming: the broker did not take every event on {topic}")
    return sent_at


def _event(topic: str, i: int, customer: str) -> dict:
    now = dt.datetime.now(dt.UTC)
    return {
        "txn_id": f"{topic}-{i:09d}",
        "customer_id": customer,
        "account_id": f"A{i % 5_000:07d}",
        "txn_ts": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "amount": -round(1 + (i % 500) * 1.37, 2),
        "currency": ("EUR", "USD", "GBP")[i % 3],
        "merchant_raw": "TESCO STORES 1234",
        "category": "groceries",
        "mode": "card",
        "location": "London",
        "remarks": None,
    }


def _start_broker(state: Path, topics: list[str]) -> tuple[subprocess.Popen, str]:
    state.mkdir(parents=True)
    argv = [sys.executable, "-m", "lakehouse.services.kafka_broker", f"--state={state}"]
    argv += [f"--topic={t}={PARTITIONS}" for t in topics]
    argv += ["--topic=transactions_dead_letter=1", "--topic=alerts=2"]
    log = open(state.parent / "broker.log", "wb")  # noqa: SIM115 - the broker outlives this call
    broker = subprocess.Popen(argv, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and broker.poll() is None:
        if (state / "bootstrap").exists():
            return broker, (state / "bootstrap").read_text().strip()
        time.sleep(0.1)
    raise BenchError(f"streaming: the broker did not start; see {state.parent}/broker.log")
