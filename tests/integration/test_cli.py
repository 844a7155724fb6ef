"""The `lakehouse` command as a user runs it: a real process, a real warehouse."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lakehouse import Warehouse

from .helpers import D1, EVENTS, events

pytestmark = pytest.mark.integration


def lakehouse(test_environ, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lakehouse.cli", *args],
        env=test_environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def populated(spark, cfg):
    table = Warehouse.from_config(cfg).create(EVENTS)
    table.write(events(spark, [("a", D1, 1.0, "new"), ("b", D1, 2.0, "new")]))
    return table


def test_help_explains_every_command(test_environ):
    out = lakehouse(test_environ, "--help").stdout
    for command in ("tables", "table", "config", "demo"):
        assert command in out
    assert "vacuum" in lakehouse(test_environ, "table", "--help").stdout


def test_tables_json_lists_the_table(test_environ, populated):
    result = lakehouse(test_environ, "tables", "--json")
    assert result.returncode == 0, result.stderr
    listed = {t["name"]: t for t in json.loads(result.stdout)}
    assert listed["silver.events"]["rows"] == 2
    assert listed["silver.events"]["partition_columns"] == ["event_date"]
    assert listed["silver.events"]["version"] == populated.version


def test_history_shows_the_write(test_environ, populated):
    result = lakehouse(test_environ, "table", "history", "silver.events", "--json")
    entries = json.loads(result.stdout)
    assert entries[0]["lakehouse.metrics"]["rowsAdded"] == 2


def test_vacuum_dry_run_deletes_nothing(test_environ, populated):
    result = lakehouse(test_environ, "table", "vacuum", "silver.events", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would delete" in result.stdout
    assert populated.count() == 2


def test_unknown_table_is_one_line_without_trace(test_environ):
    result = lakehouse(test_environ, "table", "history", "silver.missing")
    assert result.returncode == 2
    assert "silver.missing: no Delta table" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_override_is_one_line(test_environ):
    env = {**test_environ, "LAKEHOUSE__SPARK__SHUFFLE_PARTITIONS": "many"}
    result = lakehouse(env, "tables")
    assert result.returncode == 2
    assert "spark.shuffle_partitions" in result.stderr
    assert "Traceback" not in result.stderr


def test_verbose_reaches_the_job_from_either_side(test_environ, tmp_path):
    env = {**test_environ, "LAKEHOUSE_HOME": str(tmp_path)}  # no bronze: the job fails
    quiet = lakehouse(env, "silver", "transactions", "--run-date", "2024-01-01")
    assert quiet.returncode == 2
    assert "Traceback" not in quiet.stderr
    for args in (
        ("--verbose", "silver", "transactions", "--run-date", "2024-01-01"),
        ("silver", "transactions", "--run-date", "2024-01-01", "--verbose"),
    ):
        loud = lakehouse(env, *args)
        assert loud.returncode != 0
        assert "Traceback" in loud.stderr, args


def test_features_list_names_every_view_and_its_freshness(test_environ):
    from feature_store.repo import REGISTRY

    result = lakehouse(test_environ, "features", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = {v["name"]: v for v in json.loads(result.stdout)}
    assert sorted(listed) == sorted(REGISTRY.views)
    assert listed["customer_spend"]["ttl_hours"] == 72
    assert listed["customer_spend"]["source"] == "silver.transactions"
    assert listed["transaction_risk"]["kind"] == "on_demand"


def test_materializing_an_unknown_view_is_one_line(test_environ):
    result = lakehouse(
        test_environ, "features", "materialize", "--run-date", "2024-01-05", "--view", "spend"
    )
    assert result.returncode == 2
    assert "invalid choice: 'spend'" in result.stderr
    assert "Traceback" not in result.stderr
