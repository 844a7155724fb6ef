"""Operating the streaming apps: `lakehouse stream start | status | stop | list`.

    start(cfg, "ingest_transactions", args=["--max-offsets", "50000"])
    status(cfg)            # every app: running?, rates, last batch, lag per partition
    stop(cfg, "ingest_transactions")

An app runs as a detached process (``python -m streaming.<app>``, its own session so a
terminal closing does not take it down) with its files under ``$LAKEHOUSE_HOME/streams/<app>/``:
``pid``, ``app.log`` and ``progress.json`` (the query's last progress, written by the app after
each batch). It resumes from its checkpoint when started again. Stop sends SIGTERM: the app
finishes the batch in flight and exits; after ``timeout`` seconds the process group is killed
(nothing is lost: the batch is replayed from the checkpoint and written once).

Lag is measured, not taken from the app: the broker's end offsets (confluent-kafka) minus the
offsets of the last batch committed in the checkpoint (``offsets/<n>`` of the highest
``commits/<n>``), per topic-partition, so it is right even when the app is down.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.config import Config
from lakehouse.errors import StreamError

__all__ = ["APPS", "StreamStatus", "ensure", "progress_path", "start", "status", "stop"]

# name -> module run with `python -m`
APPS = {
    "ingest_transactions": "streaming.ingest_transactions",
    "score_transactions": "streaming.score_transactions",
}


@dataclass(frozen=True)
class StreamStatus:
    name: str
    state: str  # running | stopped
    pid: int | None
    log: str
    last_batch: int | None = None
    last_batch_at: str | None = None
    input_rows_per_s: float | None = None
    processed_rows_per_s: float | None = None
    batch_duration_ms: int | None = None
    lag: dict[str, int] = field(default_factory=dict)  # "topic/partition" -> records behind

    @property
    def total_lag(self) -> int | None:
        return sum(self.lag.values()) if self.lag else None


def stream_dir(cfg: Config, name: str) -> Path:
    _check(name)
    return (cfg.home / "streams" / name).resolve()


def progress_path(cfg: Config, name: str) -> Path:
    return stream_dir(cfg, name) / "progress.json"


def start(
    cfg: Config, name: str, *, args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> StreamStatus:
    """Start ``name`` in the background; refuses if it is running already. ``env``: the
    child's environment (default: this process's)."""
    home = stream_dir(cfg, name)
    running = _alive_pid(home)
    if running:
        raise StreamError(f"{name} is already running (pid {running}); stop it first")
    home.mkdir(parents=True, exist_ok=True)
    log = home / "app.log"
    argv = [sys.executable, "-m", APPS[name], "--env", cfg.env, *args]
    with log.open("ab") as out:
        out.write(f"\n--- start: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env) if env is not None else None,
        )
    (home / "pid").write_text(f"{proc.pid} {_start_ticks(proc.pid)}")
    return StreamStatus(name, "running", proc.pid, str(log))


def ensure(
    cfg: Config,
    name: str,
    *,
    max_lag: int | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> str:
    """Start ``name`` (with ``args``) if it is not running: it resumes from its checkpoint.
    Raise StreamError when it runs but is more than ``max_lag`` events behind in total."""
    current = _status(cfg, name)
    if current.state != "running":
        started = start(cfg, name, args=args, env=env)
        return f"{name} was not running: started (pid {started.pid}); log: {started.log}"
    lag = current.total_lag
    if max_lag is not None and lag is not None and lag > max_lag:
        raise StreamError(
            f"{name} is running (pid {current.pid}) but {lag:,} events behind (limit "
            f"{max_lag:,}); see `lakehouse stream status {name}` and its log {current.log}"
        )
    behind = "lag unknown" if lag is None else f"{lag:,} events behind"
    return f"{name} is running (pid {current.pid}), {behind}"


def stop(cfg: Config, name: str, *, timeout: float = 120.0) -> str:
    """SIGTERM, wait for the graceful stop; kill the process group after ``timeout``."""
    home = stream_dir(cfg, name)
    pid = _alive_pid(home)
    if pid is None:
        raise StreamError(f"{name} is not running")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return f"{name} stopped (pid {pid}) after the batch in flight"
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    raise StreamError(
        f"{name} did not stop within {timeout:.0f} s and was killed (pid {pid}); it replays "
        f"the unfinished batch from its checkpoint when started again (see {home / 'app.log'})"
    )


def status(cfg: Config, names: Sequence[str] | None = None) -> list[StreamStatus]:
    return [_status(cfg, name) for name in (names or APPS)]


def _status(cfg: Config, name: str) -> StreamStatus:
    home = stream_dir(cfg, name)
    pid = _alive_pid(home)
    progress = _read_json(home / "progress.json") or {}
    source = (progress.get("sources") or [{}])[0]
    return StreamStatus(
        name=name,
        state="running" if pid else "stopped",
        pid=pid,
        log=str(home / "app.log"),
        last_batch=progress.get("batchId"),
        last_batch_at=progress.get("timestamp"),
        input_rows_per_s=_rate(source.get("inputRowsPerSecond")),
        processed_rows_per_s=_rate(source.get("processedRowsPerSecond")),
        batch_duration_ms=(progress.get("durationMs") or {}).get("triggerExecution"),
        lag=_lag(cfg, committed_offsets(cfg.checkpoint_dir(name))),
    )


def committed_offsets(checkpoint: Path) -> dict[str, dict[str, int]]:
    """{topic: {partition: next offset}} of the last batch the checkpoint committed."""
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")]
    if not commits:
        return {}
    lines = (checkpoint / "offsets" / str(max(commits))).read_text().splitlines()
    # v1, the batch metadata, then one line per source: ours is {topic: {partition: offset}}.
    return json.loads(lines[-1])


def _lag(cfg: Config, committed: dict[str, dict[str, int]]) -> dict[str, int]:
    if not committed:
        return {}
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    from lakehouse.services import kafka_bootstrap

    consumer = Consumer({"bootstrap.servers": kafka_bootstrap(cfg), "group.id": "lakehouse-ops"})
    lag = {}
    try:
        for topic, partitions in committed.items():
            for partition, offset in partitions.items():
                tp = TopicPartition(topic, int(partition))
                _, high = consumer.get_watermark_offsets(tp, timeout=5)
                lag[f"{topic}/{partition}"] = max(high - int(offset), 0)
    except KafkaException:
        return {}  # the broker is down: lag unknown (status shows none)
    finally:
        consumer.close()
    return lag


def _alive_pid(home: Path) -> int | None:
    """The app's pid if that process is alive and still the one we started. Pids get reused,
    so the pid file also holds the process's start time, which (unlike its command line, empty
    for a moment while exec runs) is fixed from the fork on."""
    try:
        pid, started = (int(field) for field in (home / "pid").read_text().split())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _start_ticks(pid) == started and _alive(pid) else None


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the parenthesised command: state, ppid, pgrp, ... ([] if gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return []


def _start_ticks(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None  # field 22 of stat: start time in clock ticks


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a stopped app we started, not yet reaped)."""
    fields = _stat_fields(pid)
    return bool(fields) and fields[0] != "Z"


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _rate(value) -> float | None:
    return None if value is None else round(float(value), 1)


def _check(name: str) -> None:
    if name not in APPS:
        raise StreamError(f"unknown streaming app {name!r}; choose from {sorted(APPS)}")
