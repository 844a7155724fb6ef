"""A writer killed with SIGKILL leaves the table at its last committed version; the re-run
completes it exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse import Warehouse

from .helpers import EVENTS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WRITER = Path(__file__).with_name("crash_writer.py")
ROWS = 20_000


def start_writer(test_environ, warehouse_root: Path, day: str, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(warehouse_root), day, str(ROWS), *flags],
        env={**test_environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def run_writer(test_environ, warehouse_root: Path, day: str) -> str:
    proc = start_writer(test_environ, warehouse_root, day)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    return out


def event_ids(uri: str) -> list[str]:
    return DeltaTable(uri).to_pyarrow_table(columns=["event_id"]).column("event_id").to_pylist()


@pytest.fixture
def committed_day(test_environ, tmp_path):
    """A table whose first day is committed by a writer that finished normally."""
    root = tmp_path / "warehouse"
    run_writer(test_environ, root, "2024-05-01")
    return root


def assert_only_first_day(root: Path) -> None:
    ids = event_ids(Warehouse(str(root)).uri_for(EVENTS.name))
    assert len(ids) == ROWS
    assert len(set(ids)) == ROWS
    assert all(i.startswith("2024-05-01") for i in ids)


def assert_both_days_once(root: Path) -> None:
    ids = event_ids(Warehouse(str(root)).uri_for(EVENTS.name))
    assert len(ids) == 2 * ROWS
    assert len(set(ids)) == 2 * ROWS


def test_kill_just_before_commit_loses_nothing_and_rerun_completes(test_environ, committed_day):
    proc = start_writer(test_environ, committed_day, "2024-05-02", "--die-before-commit")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL, out
    assert "DYING BEFORE COMMIT" in out
    table = Warehouse(str(committed_day)).table(EVENTS.name)
    orphans = [
        p for p in (committed_day / "silver/events").rglob("*.parquet") if "2024-05-02" in str(p)
    ]
    assert orphans, "the killed writer had published its files"
    assert_only_first_day(committed_day)  # published but uncommitted files are invisible

    out = run_writer(test_environ, committed_day, "2024-05-02")
    assert "skipped=False" in out
    assert_both_days_once(committed_day)
    assert "skipped=True" in run_writer(test_environ, committed_day, "2024-05-02")
    assert_both_days_once(committed_day)
    table.vacuum(retention_hours=0)  # the orphans go; committed files stay
    assert_both_days_once(committed_day)


def test_kill_while_data_files_are_written_loses_nothing(test_environ, committed_day):
    proc = start_writer(test_environ, committed_day, "2024-05-02", "--slow-task")
    staging = committed_day / "silver/events/_staging"
    deadline = time.monotonic() + 240
    while not list(staging.rglob("*.parquet")):
        assert proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, "no data file was written in time"
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    version_before = DeltaTable(str(committed_day / "silver/events")).version()
    assert_only_first_day(committed_day)

    run_writer(test_environ, committed_day, "2024-05-02")
    assert_both_days_once(committed_day)
    assert DeltaTable(str(committed_day / "silver/events")).version() == version_before + 1
