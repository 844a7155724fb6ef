"""streaming: the transaction ingest app (streaming/ingest_transactions.py) end to end, Kafka
to committed Delta tables, on a private broker (librdkafka's mock cluster).

- capacity: ``DRAIN_EVENTS`` valid JSON transactions are produced first (untimed), then the app
  reads them with Trigger.AvailableNow at the configured maxOffsetsPerTrigger; events / wall
  time from start to the query's end is ``stream_ingest_events_per_s``;
- latency curve: for each offered load a paced producer sends events for ``LOAD_SECONDS``
  while the app runs with its configured processing-time trigger; each event's latency is the
  commit time of the bronze version that holds it (the Delta log, read with delta-rs) minus its
  Kafka timestamp (set by the producer when it sent it); p50/p99 per load, and the rate
  achieved (events / first send to last commit). ``stream_p99_latency_s`` is the p99 at an
  offered 20,000 events/s.

The scoring app (streaming/score_transactions.py) is not measured here yet:
``stream_score_events_per_s`` is reported as null.

    python -m bench streaming
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from deltalake import DeltaTable

from bench._measure import bench_environ, cpu_seconds, spark_session
from bench._record import BenchError, Outcome

PARTITIONS = 16  # the mock broker keeps ~5 MiB per partition: room for the load runs
DRAIN_EVENTS = 300_000
LOADS = (5_000, 20_000)
LOAD_SECONDS = 20
LATENCY_LOAD = 20_000


def run(*, rows: int, reps: int, report: Callable[[str], None]) -> Outcome:
    from lakehouse import build_spark, load_config

    home = Path(tempfile.mkdtemp(prefix="bench-streaming-"))
    topics = ["drain", *(f"load{rate}" for rate in LOADS)]
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
            report(f"producing {DRAIN_EVENTS:,} events (untimed)")
            _produce(bootstrap, "drain", DRAIN_EVENTS, rate=None)
            capacity = _drain(spark, cfg, home, report=report)
            curve = {
                str(rate): _under_load(spark, cfg, home, bootstrap, rate, report=report)
                for rate in LOADS
            }
            session = spark_session(spark, cfg)
        finally:
            spark.stop()
    finally:
        broker.terminate()
        broker.wait(30)
        shutil.rmtree(home, ignore_errors=True)
    details = {
        "capacity": capacity,
        "latency_by_offered_events_per_s": curve,
        "partitions": PARTITIONS,
        "trigger_interval": cfg.streaming.trigger_interval,
        "max_offsets_per_trigger": cfg.streaming.max_offsets_per_trigger,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "spark": session,
        "scoring": "not measured yet (streaming/score_transactions.py)",
    }
    figures = {
        "stream_ingest_events_per_s": capacity["events_per_s"],
        "stream_p99_latency_s": curve[str(LATENCY_LOAD)]["p99_s"],
        "stream_score_events_per_s": None,
    }
    return Outcome(details=details, figures=figures)


def _drain(spark, cfg, home: Path, *, report) -> dict:
    from lakehouse.delta import Warehouse
    from streaming.ingest_transactions import run as ingest

    warehouse = Warehouse(str(home / "drain-warehouse"))
    report(f"ingesting them (availableNow, {cfg.streaming.max_offsets_per_trigger:,} per batch)")
    cpu, started = cpu_seconds(), time.perf_counter()
    done = ingest(
        spark,
        cfg,
        available_now=True,
        source_topic="drain",
        checkpoint=home / "drain-checkpoint",
        warehouse=warehouse,
    )
    took, used = time.perf_counter() - started, cpu_seconds() - cpu
    if done.events != DRAIN_EVENTS:
        raise BenchError(f"streaming: read {done.events:,} of {DRAIN_EVENTS:,} events")
    silver = DeltaTable(warehouse.uri_for("silver.transactions_stream")).count()
    if silver != DRAIN_EVENTS:
        raise BenchError(f"streaming: {silver:,} silver rows for {DRAIN_EVENTS:,} events")
    report(f"capacity: {DRAIN_EVENTS / took:,.0f} events/s ({len(done.batches)} batches)")
    return {
        "events": DRAIN_EVENTS,
        "seconds": round(took, 2),
        "events_per_s": round(DRAIN_EVENTS / took),
        "cpu_seconds": round(used, 1),
        "batches": len(done.batches),
        "batch_seconds": [round(b.seconds, 2) for b in done.batches],
    }


def _under_load(spark, cfg, home: Path, bootstrap: str, rate: int, *, report) -> dict:
    from lakehouse.delta import Warehouse
    from streaming.ingest_transactions import run as ingest

    topic, events = f"load{rate}", rate * LOAD_SECONDS
    warehouse = Warehouse(str(home / f"{topic}-warehouse"))
    stop, failure = threading.Event(), []

    def app() -> None:
        try:
            ingest(
                spark,
                cfg,
                available_now=False,
                source_topic=topic,
                checkpoint=home / f"{topic}-checkpoint",
                warehouse=warehouse,
                stop_event=stop,
            )
        except Exception as err:  # reported below, with the figures voided
            failure.append(err)

    thread = threading.Thread(target=app)
    thread.start()
    try:
        time.sleep(5)  # the query's start-up is not part of any event's latency
        report(f"offered {rate:,} events/s for {LOAD_SECONDS} s")
        sent_at = time.time()
        _produce(bootstrap, topic, events, rate=rate)
        uri = warehouse.uri_for("bronze.transaction_events")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not failure:
            if _committed(uri) >= events:
                break
            time.sleep(0.5)
    finally:
        stop.set()
        thread.join(120)
    if failure or _committed(uri) < events:
        raise BenchError(f"streaming: at {rate:,}/s not every event was committed: {failure}")
    latencies, last_commit = _latencies(uri)
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


def _committed(uri: str) -> int:
    try:
        return DeltaTable(uri).count()
    except Exception:  # not created yet
        return 0


def _latencies(uri: str) -> tuple[np.ndarray, float]:
    """Per row: its version's commit time - its Kafka timestamp (seconds); and the last
    commit time (epoch seconds)."""
    table = DeltaTable(uri)
    commits = {h["version"]: h["timestamp"] / 1000 for h in table.history()}
    seen: set[str] = set()
    out = []
    for version in sorted(commits):
        files = set(DeltaTable(uri, version=version).file_uris())
        for path in sorted(files - seen):
            kafka_ts = pq.read_table(path, columns=["kafka_ts"]).column(0).to_numpy()
            sent = kafka_ts.astype("datetime64[us]").astype(np.int64) / 1e6
            out.append(commits[version] - sent)
        seen |= files
    return np.concatenate(out), max(commits.values())


def _produce(bootstrap: str, topic: str, events: int, *, rate: int | None) -> None:
    """Valid transaction events; paced to ``rate`` per second in 10 ms ticks when given."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "compression.type": "zstd"}
    )
    started = time.monotonic()
    for i in range(events):
        if rate and i % max(rate // 100, 1) == 0:
            ahead = i / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        value = json.dumps(_event(topic, i)).encode()
        while True:
            try:
                producer.produce(topic, value, key=f"C{i % 5_000:05d}".encode())
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    if producer.flush(120):
        raise BenchError(f"streaming: the broker did not take every event on {topic}")


def _event(topic: str, i: int) -> dict:
    now = dt.datetime.now(dt.UTC)
    return {
        "txn_id": f"{topic}-{i:09d}",
        "customer_id": f"C{i % 5_000:05d}",
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
    argv += ["--topic=transactions_dead_letter=1"]
    log = open(state.parent / "broker.log", "wb")  # noqa: SIM115 - the broker outlives this call
    broker = subprocess.Popen(argv, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and broker.poll() is None:
        if (state / "bootstrap").exists():
            return broker, (state / "bootstrap").read_text().strip()
        time.sleep(0.1)
    raise BenchError(f"streaming: the broker did not start; see {state.parent}/broker.log")
