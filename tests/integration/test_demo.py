"""`lakehouse demo` end to end in its own process and state directory, as `make demo` runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse import load_config, services
from lakehouse.services._process import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def demo_env(test_environ, tmp_path):
    """The demo starts its own services: give it private ports and stop them afterwards."""
    services_dir = Path(tempfile.mkdtemp(prefix="lakehouse-demo-services-"))
    services_dir.chmod(0o755)
    env = {
        **test_environ,
        "LAKEHOUSE_HOME": str(tmp_path),
        "LAKEHOUSE__PATHS__SERVICES": str(services_dir),
        "LAKEHOUSE__MYSQL__PORT": str(free_port()),
        "LAKEHOUSE__REDSHIFT__PORT": str(free_port()),
        "LAKEHOUSE__S3__ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }
    yield env
    services.down(load_config("local", environ=env))
    shutil.rmtree(services_dir, ignore_errors=True)


def run_demo(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_demo_writes_orders_and_a_rerun_writes_nothing(demo_env, tmp_path):
    env = demo_env
    first = run_demo(env)
    assert first.returncode == 0, first.stderr
    assert "silver.orders" in first.stdout
    assert list((tmp_path / "landing" / "transactions").iterdir()), "no CSV drops generated"
    table = DeltaTable(str(tmp_path / "warehouse/silver/orders"))
    # 3 days x 100,000 orders, minus every 50th order of day one (cancelled by the merge).
    assert table.to_pyarrow_dataset().count_rows() == 300_000 - 2_000
    statuses = table.to_pyarrow_table(columns=["status"]).column("status").value_counts()
    assert {s["values"].as_py(): s["counts"].as_py() for s in statuses} == {
        "placed": 290_000,
        "shipped": 8_000,
    }
    version = table.version()

    again = run_demo(env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already committed") >= 4
    table.update_incremental()
    assert table.to_pyarrow_dataset().count_rows() == 298_000
    assert table.version() == version  # nothing to load, merge or compact the second time
