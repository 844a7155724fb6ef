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

    restarted = ops.ensure(cfg, APP, args=args, env=env)  # what the watchdog DAG runs
    assert restarted.startswith(f"{APP} was not running: started")
    wait_for(
        "every event to reach bronze",
        lambda: len(rows(cfg, "bronze.transaction_events")) >= events.records,
    )
    status = wait_for(
        "no lag", lambda: (s := ops.status(cfg, [APP])[0]).lag and s.total_lag == 0 and s
    )
    assert status.state == "running"
    assert status.last_batch is not None
    assert (
        ops.ensure(cfg, APP, max_lag=0, env=env)
        == f"{APP} is running (pid {status.pid}), 0 events behind"
    )
    assert "stopped" in ops.stop(cfg, APP)
    assert_each_event_once(cfg, events)


def assert_each_event_once(cfg, events: Events) -> None:
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


@pytest.fixture
def private_broker(stream_env, tmp_path):
    """A broker of this test's own (the drill takes it down), with the config's topics."""
    _, cfg = stream_env
    state = tmp_path / "kafka"
    topics = [f"--topic={name}={count}" for name, count in cfg.kafka.topics.items()]
    log = (tmp_path / "kafka.log").open("w")
    broker = subprocess.Popen(
        [sys.executable, "-m", "lakehouse.services.kafka_broker", f"--state={state}", *topics],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    address = wait_for("the broker", lambda: (state / "bootstrap").is_file() and state)
    yield broker, (address / "bootstrap").read_text().strip(), tmp_path / "kafka.log"
    broker.terminate()
    broker.wait(timeout=30)
    log.close()


def test_a_broker_down_at_start_is_one_clear_line_and_the_app_catches_up_when_it_returns(
    stream_env, private_broker
):
    env, _ = stream_env
    broker, address, broker_log = private_broker
    env = {**env, "LAKEHOUSE__KAFKA__BOOTSTRAP_SERVERS": address}
    cfg = load_config("local", environ=env)
    events = Events(address, "transactions")
    events.send_batch(0, 600, resend_every=7, broken_every=13)
    broker.send_signal(signal.SIGUSR1)
    wait_for("the broker to go down", lambda: "brokers down" in broker_log.read_text())

    app = ops.start(cfg, APP, env=env)
    log = Path(app.log)
    wait_for("a second retry", lambda: log.read_text().count("retrying in") >= 2, timeout=120)
    assert ops.status(cfg, [APP])[0].state == "running"  # waiting, not dead
    broker.send_signal(signal.SIGUSR2)
    wait_for(
        "every event to reach bronze",
        lambda: len(rows(cfg, "bronze.transaction_events")) >= events.records,
    )
    assert "stopped" in ops.stop(cfg, APP)

    assert_each_event_once(cfg, events)
    retries = [line for line in log.read_text().splitlines() if "retrying in" in line]
    assert all(f"no answer from the Kafka broker at {address}" in line for line in retries)
    assert "lakehouse services up kafka" in retries[0]
    assert "at org.apache.spark" not in log.read_text()  # no Java trace for an outage


def test_the_app_runs_under_spark_submit(stream_env):
    """The same module, launched the way engineers and clusters launch it."""
    env, cfg = stream_env
    topic = f"txn-submit-{uuid.uuid4().hex[:8]}"
    events = Events(kafka_bootstrap(cfg), topic)
    events.send_batch(0, 300, resend_every=7, broken_every=13)
    bin_dir = Path(sys.executable).parent
    done = subprocess.run(
        [
            str(bin_dir / "spark-submit"),
            "--master",
            "local[2]",
            str(Path(ops.__file__).with_name("ingest_transactions.py")),
            "--once",
            "--topic",
            topic,
        ],
        env={**env, "PATH": f"{bin_dir}:{env.get('PATH', '')}"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ingest_transactions:" in done.stdout
    assert_each_event_once(cfg, events)
