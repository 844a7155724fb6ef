"""Two writers committing at the same moment: appends both land; overlapping replaces and
duplicate app transactions leave exactly one winner and a WriteConflictError, never a lost
or doubled write."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lakehouse import AppTransaction
from lakehouse.delta import _log
from lakehouse.errors import WriteConflictError

from .helpers import D1, D2, EVENTS, events, rows_of

pytestmark = pytest.mark.integration


@pytest.fixture
def commit_together(monkeypatch):
    """Both writers read the same version, then reach the commit together."""
    barrier = threading.Barrier(2, timeout=60)
    real_commit = _log.commit

    def synchronized(*args, **kwargs):
        barrier.wait()
        return real_commit(*args, **kwargs)

    return lambda: monkeypatch.setattr(_log, "commit", synchronized)


def run_both(commit_together, *writes):
    commit_together()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(w) for w in writes]
        return [f.exception() or f.result() for f in futures]


def test_concurrent_appends_both_land(spark, warehouse, commit_together):
    table = warehouse.create(EVENTS)
    first, second = events(spark, [("a", D1, 1.0, "x")]), events(spark, [("b", D2, 2.0, "y")])
    outcomes = run_both(commit_together, lambda: table.write(first), lambda: table.write(second))
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    assert rows_of(table.to_spark(spark)) == [("a", D1, 1.0, "x"), ("b", D2, 2.0, "y")]


def test_concurrent_replace_of_one_partition_has_one_winner(spark, warehouse, commit_together):
    table = warehouse.create(EVENTS)
    table.write(events(spark, [("old", D1, 0.0, "old")]))
    predicate = "event_date = DATE'2024-05-01'"
    mine, theirs = (
        events(spark, [("mine", D1, 1.0, "x")]),
        events(spark, [("theirs", D1, 2.0, "y")]),
    )
    outcomes = run_both(
        commit_together,
        lambda: table.write(mine, mode="replace_where", predicate=predicate),
        lambda: table.write(theirs, mode="replace_where", predicate=predicate),
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], WriteConflictError), outcomes
    assert "Re-run" in str(errors[0])
    winner = [r for r in rows_of(table.to_spark(spark))]
    assert winner in ([("mine", D1, 1.0, "x")], [("theirs", D1, 2.0, "y")])


def test_concurrent_retries_of_one_app_transaction_write_once(spark, warehouse, commit_together):
    table = warehouse.create(EVENTS)
    batch = events(spark, [("a", D1, 1.0, "x")])
    txn = AppTransaction("ingest-events", 1)
    outcomes = run_both(
        commit_together, lambda: table.write(batch, txn=txn), lambda: table.write(batch, txn=txn)
    )
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], WriteConflictError), outcomes
    assert table.count() == 1
    assert table.write(batch, txn=txn).skipped
