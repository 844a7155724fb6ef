"""`lakehouse demo` end to end in its own process and state directory, as `make demo` runs it."""

from __future__ import annotations

import subprocess
import sys

import pytest
from deltalake import DeltaTable

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_writes_orders_and_a_rerun_writes_nothing(test_environ, tmp_path):
    env = {**test_environ, "LAKEHOUSE_HOME": str(tmp_path)}
    first = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert "silver.orders" in first.stdout
    table = DeltaTable(str(tmp_path / "warehouse/silver/orders"))
    # 3 days x 100,000 orders, minus every 50th order of day one (cancelled by the merge).
    assert table.to_pyarrow_dataset().count_rows() == 300_000 - 2_000
    statuses = table.to_pyarrow_table(columns=["status"]).column("status").value_counts()
    assert {s["values"].as_py(): s["counts"].as_py() for s in statuses} == {
        "placed": 290_000,
        "shipped": 8_000,
    }
    version = table.version()

    again = subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already committed") >= 4
    table.update_incremental()
    assert table.to_pyarrow_dataset().count_rows() == 298_000
    assert table.version() == version  # nothing to load, merge or compact the second time
