"""The generator plays the source systems; the contracts are the lakehouse's side of the
interface. If either changes its column list, this fails before ingest does."""

from __future__ import annotations

import pytest

from lakehouse.generate.defects import SOURCES
from schemas import customers, transactions

pytestmark = pytest.mark.unit


def test_csv_layouts_match_the_bronze_contracts():
    layouts = {s.name: s.columns for s in SOURCES}
    assert layouts["transactions"] == transactions.SOURCE_COLUMNS
    assert layouts["customers"] == customers.SOURCE_COLUMNS
