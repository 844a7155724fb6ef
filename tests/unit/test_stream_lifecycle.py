"""When a foreachBatch sink asks its tables' logs whether a batch is a replay."""

from __future__ import annotations

import pytest

from streaming._lifecycle import may_be_replay

pytestmark = pytest.mark.unit


def test_only_a_first_batch_or_one_not_after_the_last_committed_may_be_a_replay():
    assert may_be_replay(7, last_committed=None)  # the first batch in this process
    assert may_be_replay(7, last_committed=7)  # Spark replays the batch it was running
    assert may_be_replay(3, last_committed=7)
    assert not may_be_replay(8, last_committed=7)  # the next batch of this process
