"""The kafka-py source's offset logic without a broker: Spark's offset JSON, resolving
startingOffsets/endingOffsets against watermarks, how far a micro-batch may go
(maxOffsetsPerTrigger), and the ranges its tasks read."""

from __future__ import annotations

import json

import pytest

from lakehouse.errors import SourceOptionError, TopicNotFoundError
from streaming._kafka_offsets import (
    OffsetRange,
    advance,
    balanced_groups,
    from_json,
    parse_offset_spec,
    plan_ranges,
    rate_limit,
    resolve,
    split_ranges,
    to_json,
)

pytestmark = pytest.mark.unit

T0, T1, U0 = ("t", 0), ("t", 1), ("u", 0)
EARLIEST = {T0: 5, T1: 0, U0: 100}
LATEST = {T0: 50, T1: 10, U0: 100}


def test_offset_json_round_trips_in_sparks_kafka_layout():
    offsets = {T1: 7, U0: 3, T0: 12}

    as_json = to_json(offsets)

    assert as_json == {"t": {"0": 12, "1": 7}, "u": {"0": 3}}
    assert from_json(json.loads(json.dumps(as_json))) == offsets


def test_offset_json_text_is_the_same_whatever_order_the_offsets_came_in():
    # Spark compares a batch's start and end offsets as text: no new data must give equal text.
    one = json.dumps(to_json({U0: 3, T1: 7, T0: 12}))
    other = json.dumps(to_json({T0: 12, T1: 7, U0: 3}))

    assert one == other


def test_partitions_sort_by_number_not_text():
    offsets = {("t", p): p for p in (10, 2, 1)}

    assert list(to_json(offsets)["t"]) == ["1", "2", "10"]


@pytest.mark.parametrize(
    "text", ["[1]", '{"t": [0]}', '{"t": {}}', '{"t": {"x": 1}}', '{"t": {"0": -3}}', "eraliest"]
)
def test_malformed_offset_json_is_a_source_option_error_naming_the_option(text):
    with pytest.raises(SourceOptionError, match="startingOffsets"):
        parse_offset_spec(text, option="startingOffsets")


def test_offset_spec_words_are_case_insensitive():
    assert parse_offset_spec(" Earliest ", option="startingOffsets") == "earliest"
    assert parse_offset_spec("LATEST", option="startingOffsets") == "latest"


def test_offset_spec_json_keeps_minus_two_and_minus_one():
    spec = parse_offset_spec('{"t": {"0": 23, "1": -2}, "u": {"0": -1}}', option="x")

    assert spec == {T0: 23, T1: -2, U0: -1}


def test_resolve_earliest_and_latest_take_the_watermarks():
    parts = [T0, T1, U0]

    assert resolve("earliest", parts, earliest=EARLIEST, latest=LATEST, option="s") == EARLIEST
    assert resolve("latest", parts, earliest=EARLIEST, latest=LATEST, option="s") == LATEST


def test_resolve_json_replaces_minus_two_and_minus_one_per_partition():
    spec = {T0: 23, T1: -2, U0: -1}

    got = resolve(spec, [T0, T1, U0], earliest=EARLIEST, latest=LATEST, option="s")

    assert got == {T0: 23, T1: 0, U0: 100}


def test_resolve_json_must_name_every_partition():
    with pytest.raises(SourceOptionError, match="leaves out t-1"):
        resolve({T0: 1}, [T0, T1], earliest=EARLIEST, latest=LATEST, option="startingOffsets")


def test_resolve_json_naming_a_partition_the_broker_lacks_is_topic_not_found():
    with pytest.raises(TopicNotFoundError, match="t-7"):
        resolve({T0: 1, ("t", 7): 0}, [T0], earliest=EARLIEST, latest=LATEST, option="s")


def test_advance_without_a_limit_reaches_latest_everywhere():
    assert advance({T0: 5, T1: 0}, earliest=EARLIEST, latest=LATEST, max_rows=None) == LATEST


def test_advance_starts_a_new_partition_at_its_earliest_offset():
    # U0 is new; its earliest is 100 = latest: nothing to read, but it joins the offsets.
    end = advance({T0: 50, T1: 10}, earliest=EARLIEST, latest=LATEST, max_rows=1)

    assert end == {T0: 50, T1: 10, U0: 100}


def test_rate_limit_shares_the_limit_in_proportion_to_the_backlog():
    base, latest = {T0: 0, T1: 0}, {T0: 300, T1: 100}

    assert rate_limit(base, latest, 100) == {T0: 75, T1: 25}


def test_rate_limit_never_admits_more_than_the_limit_and_rounds_by_largest_remainder():
    base = {("t", p): 0 for p in range(3)}
    latest = {("t", p): 10 for p in range(3)}

    end = rate_limit(base, latest, 10)

    assert sum(end.values()) == 10
    assert sorted(end.values()) == [3, 3, 4]


def test_rate_limit_always_makes_progress_with_a_limit_of_one():
    end = rate_limit({T0: 0, T1: 0}, {T0: 1000, T1: 1}, 1)

    assert sum(end.values()) == 1


def test_rate_limit_keeps_a_partition_that_went_backwards_at_its_latest():
    end = rate_limit({T0: 50, T1: 0}, {T0: 20, T1: 500}, 100)

    assert end == {T0: 20, T1: 100}


def test_plan_ranges_gives_one_range_per_partition_with_new_data():
    ranges, losses = plan_ranges({T0: 5, T1: 10}, {T0: 9, T1: 10}, earliest={})

    assert ranges == [OffsetRange("t", 0, 5, 9)]
    assert losses == []


def test_plan_ranges_reads_a_new_partition_from_its_earliest_offset():
    ranges, _ = plan_ranges({T0: 5}, {T0: 5, U0: 130}, earliest={U0: 100})

    assert ranges == [OffsetRange("u", 0, 100, 130)]


def test_plan_ranges_reports_a_partition_that_went_backwards_and_one_that_vanished():
    ranges, losses = plan_ranges({T0: 50, T1: 3}, {T0: 20}, earliest={})

    assert ranges == []
    assert len(losses) == 2
    assert "t-0 went back from offset 50 to 20" in losses[0]
    assert "t-1 disappeared" in losses[1]


def test_split_ranges_caps_records_per_task_without_gaps_or_overlaps():
    pieces = split_ranges([OffsetRange("t", 0, 10, 35)], max_records=10)

    assert pieces == [
        OffsetRange("t", 0, 10, 18),
        OffsetRange("t", 0, 18, 26),
        OffsetRange("t", 0, 26, 35),
    ]


def test_split_ranges_gives_big_partitions_more_tasks_up_to_min_partitions():
    ranges = [OffsetRange("t", 0, 0, 300), OffsetRange("t", 1, 0, 100)]

    pieces = split_ranges(ranges, min_partitions=4)

    assert [(r.partition, r.size) for r in pieces] == [(0, 100), (0, 100), (0, 100), (1, 100)]


def test_split_ranges_leaves_ranges_alone_when_there_are_enough():
    ranges = [OffsetRange("t", p, 0, 10) for p in range(4)]

    assert split_ranges(ranges, min_partitions=2) == ranges


def test_balanced_groups_take_every_range_once_and_even_out_the_records():
    sizes = [100, 90, 60, 40, 30, 10, 0]
    ranges = [OffsetRange("t", p, 0, n) for p, n in enumerate(sizes)]

    groups = balanced_groups(ranges, 2)

    assert sorted(r.partition for g in groups for r in g) == list(range(len(sizes)))
    assert sorted(sum(r.size for r in g) for g in groups) == [160, 170]
    assert len(balanced_groups(ranges[:1], 4)) == 1  # never an empty group
    assert balanced_groups([], 2) == []
