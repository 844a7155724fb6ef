"""The worker daemon's preload list names modules that exist (a typo would be skipped quietly,
and the workers would pay that import again)."""

from __future__ import annotations

import importlib

import pytest

from lakehouse.spark_worker import PRELOAD

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("module", PRELOAD)
def test_every_preloaded_module_imports(module):
    assert importlib.import_module(module).__name__ == module
