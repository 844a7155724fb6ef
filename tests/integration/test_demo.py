"""`lakehouse demo` end to end in its own process and state directory, as `make demo` runs it."""

from __future__ import annotations

import re
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
        [sys.executable, "-m", "lakehouse.cli", "demo", "--days", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=700,
        check=False,
    )


def row_counts(home: Path) -> dict[str, int]:
    counts = {}
    for log in sorted(home.glob("warehouse/*/*/_delta_log")):
        name = f"{log.parent.parent.name}.{log.parent.name}"
        counts[name] = DeltaTable(str(log.parent)).to_pyarrow_dataset().count_rows()
    return counts


@pytest.mark.timeout(1500)  # two full demo runs; the suite default is 600 s
def test_demo_runs_the_pipeline_and_a_second_run_changes_nothing(demo_env, tmp_path):
    first = run_demo(demo_env)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "same row counts in every table" in first.stdout
    counts = row_counts(tmp_path)
    assert set(counts) >= {
        "bronze.transactions",
        "silver.transactions",
        "silver.customers",
        "ops.quarantine",
        "features.customer_spend",
        "features.customer_spend_online",
    }
    assert counts["silver.transactions"] > 5_000
    assert counts["features.customer_spend_online"] > 1_000
    assert "with spend history" in first.stdout
    assert counts["ops.quarantine"] > 0
    assert list((tmp_path / "landing" / "transactions").iterdir()), "no CSV drops generated"

    assert counts["gold.customer_segments"] > 1_000
    # Every scored customer is compared with the segment the generator drew for that day.
    compared = re.search(r"adjusted Rand index -?[\d.]+ over ([\d,]+) customers", first.stdout)
    assert compared, first.stdout[-3000:]
    assert int(compared.group(1).replace(",", "")) == counts["gold.customer_segments"]
    assert "Scores for Tableau" in first.stdout
    assert "redshift" in first.stdout.lower()
    assert counts["silver.transactions_stream"] > 0

    again = run_demo(demo_env)
    (tmp_path / "demo.out").write_text(first.stdout + again.stdout)
    assert again.returncode == 0, again.stderr[-3000:]
    # The second run sends the same 2 s of events to Kafka again: bronze keeps every record as
    # received (and the dead letters every broken one); everything else is as it was, the
    # streamed silver table included (the re-sent events are recognised as duplicates), but
    # for the run history, which records the second run's jobs.
    resent = {"bronze.transaction_events", "ops.dead_letters", "ops.job_runs"}
    now = row_counts(tmp_path)
    assert {t: n for t, n in now.items() if t not in resent} == {
        t: n for t, n in counts.items() if t not in resent
    }
    assert {t: now[t] for t in resent} == {t: 2 * counts[t] for t in resent}  # runs too
