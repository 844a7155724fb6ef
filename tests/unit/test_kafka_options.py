"""The kafka-py source's options as Spark passes them (lower-cased keys): Spark's names and
defaults, librdkafka passthrough, and one-line errors for what cannot work."""

from __future__ import annotations

import re

import pytest

from lakehouse.errors import SourceOptionError
from streaming._kafka_options import consumer_config, parse_options

pytestmark = pytest.mark.unit

BASE = {"kafka.bootstrap.servers": "127.0.0.1:9092", "subscribe": "a,b"}


def parse(**extra):
    # Spark lower-cases option keys before a Python data source sees them.
    return parse_options({k.lower(): v for k, v in {**BASE, **extra}.items()})


def test_options_parse_with_sparks_names_and_defaults():
    opts = parse(maxOffsetsPerTrigger="500", failOnDataLoss="False", minPartitions="4")

    assert opts.bootstrap_servers == "127.0.0.1:9092"
    assert opts.topics == ("a", "b")
    assert opts.starting is None  # batch: earliest, stream: latest (decided by the reader)
    assert opts.max_offsets_per_trigger == 500
    assert opts.fail_on_data_loss is False
    assert opts.min_partitions == 4


def test_kafka_prefixed_options_pass_to_librdkafka_but_the_source_keeps_its_own_settings():
    opts = parse(**{"kafka.fetch.wait.max.ms": "50", "kafka.group.id": "mine"})

    conf = consumer_config(opts, role="executor")

    assert conf["fetch.wait.max.ms"] == "50"
    assert conf["group.id"] == "mine"
    assert conf["bootstrap.servers"] == "127.0.0.1:9092"
    assert conf["enable.auto.commit"] is False
    assert conf["auto.offset.reset"] == "error"


def test_a_misspelt_option_is_an_error_not_silently_ignored():
    with pytest.raises(SourceOptionError, match="unknown option 'maxoffsetpertrigger'"):
        parse(maxOffsetPerTrigger="10")


@pytest.mark.parametrize("key", ["kafka.auto.offset.reset", "kafka.enable.auto.commit"])
def test_settings_the_source_owns_are_refused(key):
    with pytest.raises(SourceOptionError, match=re.escape(key)):
        parse(**{key: "earliest"})


def test_bootstrap_servers_are_required():
    with pytest.raises(SourceOptionError, match=r"kafka\.bootstrap\.servers is required"):
        parse_options({"subscribe": "a"})


@pytest.mark.parametrize(
    ("extra", "found"),
    [
        ({"subscribePattern": "a.*"}, "subscribe and subscribePattern"),
        ({"subscribe": None}, "none"),
    ],
)
def test_exactly_one_way_of_choosing_topics(extra, found):
    options = {k.lower(): v for k, v in {**BASE, **extra}.items() if v is not None}

    with pytest.raises(SourceOptionError, match=f"exactly one.*got {found}"):
        parse_options(options)


def test_assign_takes_json_partition_lists():
    opts = parse_options({"kafka.bootstrap.servers": "h:1", "assign": '{"t": [1, 0], "u": [0]}'})

    assert opts.assign == (("t", 0), ("t", 1), ("u", 0))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("maxOffsetsPerTrigger", "0"),
        ("maxOffsetsPerTrigger", "lots"),
        ("failOnDataLoss", "maybe"),
        ("subscribePattern", "("),
        ("assign", "[0]"),
    ],
)
def test_bad_values_are_one_line_errors_naming_the_option(name, value):
    options = {**BASE, name.lower(): value}
    if name in ("subscribePattern", "assign"):
        del options["subscribe"]

    with pytest.raises(SourceOptionError, match=name) as caught:
        parse_options(options)

    assert "\n" not in str(caught.value)


def test_end_offsets_are_refused_for_a_stream_and_a_trigger_limit_for_a_batch():
    with pytest.raises(SourceOptionError, match="endingOffsets is for batch"):
        parse(endingOffsets="latest").check_for("streaming")
    with pytest.raises(SourceOptionError, match="maxOffsetsPerTrigger is for streams"):
        parse(maxOffsetsPerTrigger="5").check_for("batch")


def test_a_batch_cannot_start_at_latest_or_end_at_earliest():
    with pytest.raises(SourceOptionError, match="startingOffsets 'latest'"):
        parse(startingOffsets='{"a": {"0": -1}}').check_for("batch")
    with pytest.raises(SourceOptionError, match="endingOffsets 'earliest'"):
        parse(endingOffsets="earliest").check_for("batch")


def test_a_reading_consumer_prefetches_about_its_range_unless_told_otherwise():
    # librdkafka decompresses what it prefetches; far past a small range that is wasted work.
    assert (
        consumer_config(parse(), role="executor", records=20_000)["queued.min.messages"] == 20_000
    )
    assert (
        consumer_config(parse(), role="executor", records=10**7)["queued.min.messages"] == 100_000
    )
    mine = parse(**{"kafka.queued.min.messages": "5"})
    assert consumer_config(mine, role="executor", records=20_000)["queued.min.messages"] == "5"
