"""One Spark session per test run (local[2], UI off, few shuffle partitions)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lakehouse import Config, Warehouse, build_spark, load_config

TEST_OVERRIDES = {
    "LAKEHOUSE__SPARK__MASTER": "local[2]",
    "LAKEHOUSE__SPARK__UI_ENABLED": "false",
    "LAKEHOUSE__SPARK__SHUFFLE_PARTITIONS": "2",
    "LAKEHOUSE__SPARK__DRIVER_MEMORY": "2g",
    "LAKEHOUSE__SPARK__LOG_LEVEL": "ERROR",
}


@pytest.fixture(scope="session")
def test_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lakehouse-home")


@pytest.fixture(scope="session")
def test_environ(test_home: Path) -> dict[str, str]:
    """The environment a job or subprocess under test sees: private state dir, small Spark."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "LAKEHOUSE_ENV": "local",
        "LAKEHOUSE_HOME": str(test_home),
        **TEST_OVERRIDES,
    }


@pytest.fixture(scope="session")
def cfg(test_environ: dict[str, str]) -> Config:
    return load_config("local", environ=test_environ)


@pytest.fixture(scope="session")
def spark(cfg: Config):
    session = build_spark("lakehouse-tests", cfg)
    yield session
    session.stop()


@pytest.fixture
def warehouse(tmp_path: Path) -> Warehouse:
    """A fresh, empty warehouse per test."""
    return Warehouse(str(tmp_path / "warehouse"))
