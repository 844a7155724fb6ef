"""`lakehouse stream start | status | stop` across processes against the real broker, and the
ingest app killed with SIGKILL while a micro-batch is in flight: restarted from its checkpoint,
it loses nothing and writes nothing twice.

Expectations come from what the test produced (valid txn_ids, broken records by coordinates);
the tables are read with delta-rs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse import Warehouse, load_config
from lakehouse.errors import StreamError
from lakehouse.services import kafka_bootstrap
from streaming import ops

from .test_stream_ingest import Events

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP = "ingest_transactions"


@pytest.fixture
def stream_env(test_environ, local_services, tmp_path):
    """A private state directory (checkpoint, warehouse, pid and log files) on the session's
    services (their address files stay in the session's services directory)."""
    env = {**test_environ, "LAKEHOUSE_HOME": str(tmp_path)}
    cfg = load_config("local", environ=env)
    yield env, cfg
    for name in ops.APPS:  # never leave an app running
        pid = ops._alive_pid(ops.stream_dir(cfg, name))
        if pid:
            os.killpg(pid, signal.SIGKILL)


def wait_for(what: str, check, *, timeout: float = 180.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def batch_in_flight(checkpoint: Path, after: int) -> int | None:
    """A batch id > ``after`` that the query planned (offsets/<n>) and has not committed."""
    planned = {int(p.name) for p in (checkpoint / "offsets").glob("[0-9]*")}
    done = {int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")}
    open_batches = sorted(b for b in planned - done if b > after)
    return open_batches[0] if open_batches else None


def rows(cfg, name: str) -> list[dict]:
    uri = Warehouse.from_config(cfg).uri_for(name)
    try:
        return DeltaTable(uri).to_pyarrow_table().to_pylist()
    except Exception:  # not created yet
        return []


def test_sigkill_mid_batch_then_restart_loses_and_duplicates_nothing(stream_env):
    env, cfg = stream_env
    topic = f"txn-ops-{uuid.uuid4().hex[:8]}"
    events = Events(kafka_bootstrap(cfg), topic)
    events.send_batch(0, 3_000, resend_every=11, broken_every=19)
    args = ["--topic", topic, "--max-offsets", "300"]
    checkpoint = cfg.checkpoint_dir(APP)

    first = ops.start(cfg, APP, args=args, env=env)
    with pytest.raises(StreamError, match="already running"):
        ops.start(cfg, APP, args=args, env=env)
    in_flight = wait_for("a batch in flight after batch 1", lambda: batch_in_flight(checkpoint, 1))
    os.killpg(first.pid, signal.SIGKILL)
    wait_for("the app to die", lambda: ops._alive_pid(ops.stream_dir(cfg, APP)) is None)
    assert not (checkpoint / "commits" / str(in_flight)).exists()
    assert ops.status(cfg, [APP])[0].state == "stopped"

    ops.start(cfg, APP, args=args, env=env)
    wait_for(
        "every event to reach bronze",
        lambda: len(rows(cfg, "bronze.transaction_events")) >= events.records,
    )
    status = wait_for(
        "no lag", lambda: (s := ops.status(cfg, [APP])[0]).lag and s.total_lag == 0 and s
    )
    assert status.state == "running"
    assert status.last_batch is not None
    assert "stopped" in ops.stop(cfg, APP)

    bronze = rows(cfg, "bronze.transaction_events")
    assert Counter((r["partition"], r["offset"]) for r in bronze).most_common(1)[0][1] == 1
    assert len(bronze) == events.records
    silver = Counter(r["txn_id"] for r in rows(cfg, "silver.transactions_stream"))
    assert silver == Counter(events.valid)  # every valid event once: 0 lost, 0 duplicated
    dead = rows(cfg, "ops.dead_letters")
    assert {(r["partition"], r["offset"]): r["rules"] for r in dead} == events.broken
    assert len(dead) == len(events.broken)


def test_the_stream_command_reports_stopped_apps_and_refuses_unknown_ones(stream_env):
    env, _ = stream_env
    cli = [sys.executable, "-m", "lakehouse.cli", "stream"]
    shown = subprocess.run([*cli, "status", "--json"], env=env, capture_output=True, text=True)
    assert shown.returncode == 1  # not everything is running
    assert '"state": "stopped"' in shown.stdout
    stopped = subprocess.run([*cli, "stop", APP], env=env, capture_output=True, text=True)
    assert stopped.returncode == 2
    assert "ingest_transactions is not running" in stopped.stderr
    assert "Traceback" not in stopped.stderr
