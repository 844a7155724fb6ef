"""The as-of join on tiny frames: strictly before, within TTL, never from the future."""

from __future__ import annotations

import datetime as dt

import pytest

from feature_store import Entity, Feature, FeatureView, Source
from feature_store.point_in_time import as_of_join, check_entity_rows
from lakehouse.errors import SchemaMismatchError
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.unit

T = dt.datetime
VIEW = FeatureView(
    name="spend",
    entity=Entity(name="customer", join_key="customer_id"),
    source=Source(table=SILVER_TRANSACTIONS, event_time="txn_ts"),
    inputs=("amount",),
    transform=lambda rows, *, as_of: rows,
    features=(Feature("spend_30d", "double"),),
    ttl=dt.timedelta(days=2),
    owner="growth-data",
    description="spend",
)
FEATURES = "customer_id string, feature_ts timestamp, spend_30d double"
ENTITIES = "customer_id string, event_ts timestamp, label int"


def joined(spark, entity_rows, feature_rows):
    entities = spark.createDataFrame(entity_rows, ENTITIES)
    features = spark.createDataFrame(feature_rows, FEATURES)
    result = as_of_join(
        entities, features, VIEW, timestamp_column="event_ts", feature_ts_column="used_ts"
    )
    return sorted(tuple(r) for r in result.collect())


def test_takes_the_latest_row_before_the_timestamp(spark):
    rows = joined(
        spark,
        [("c1", T(2024, 3, 5, 12), 1)],
        [("c1", T(2024, 3, 4), 10.0), ("c1", T(2024, 3, 5), 20.0)],
    )
    assert rows == [("c1", T(2024, 3, 5, 12), 1, 20.0, T(2024, 3, 5))]


def test_a_row_stamped_exactly_at_the_timestamp_is_not_used(spark):
    rows = joined(
        spark,
        [("c1", T(2024, 3, 5), 1)],
        [("c1", T(2024, 3, 4), 10.0), ("c1", T(2024, 3, 5), 20.0)],
    )
    assert rows == [("c1", T(2024, 3, 5), 1, 10.0, T(2024, 3, 4))]


def test_a_late_row_from_the_future_is_never_used(spark):
    rows = joined(
        spark,
        [("c1", T(2024, 3, 5, 12), 1), ("c1", T(2024, 3, 1), 0)],
        [("c1", T(2024, 3, 4), 10.0), ("c1", T(2024, 3, 5, 12, 0, 1), 1e12)],
    )
    assert rows == [
        ("c1", T(2024, 3, 1), 0, None, None),
        ("c1", T(2024, 3, 5, 12), 1, 10.0, T(2024, 3, 4)),
    ]


def test_values_older_than_the_ttl_are_null(spark):
    rows = joined(
        spark,
        [("c1", T(2024, 3, 6), 1), ("c1", T(2024, 3, 6, 0, 0, 1), 2)],
        [("c1", T(2024, 3, 4), 10.0)],
    )
    assert rows == [
        ("c1", T(2024, 3, 6), 1, 10.0, T(2024, 3, 4)),  # exactly the TTL old: still valid
        ("c1", T(2024, 3, 6, 0, 0, 1), 2, None, None),
    ]


def test_entities_do_not_see_each_others_rows(spark):
    rows = joined(
        spark,
        [("c1", T(2024, 3, 5), 1), ("c2", T(2024, 3, 5), 2), ("c3", T(2024, 3, 5), 3)],
        [("c1", T(2024, 3, 4), 10.0), ("c2", T(2024, 3, 4, 6), 20.0)],
    )
    assert [r[3] for r in rows] == [10.0, 20.0, None]


def test_duplicate_entity_rows_each_keep_their_columns(spark):
    rows = joined(
        spark,
        [("c1", T(2024, 3, 5), 1), ("c1", T(2024, 3, 5), 7)],
        [("c1", T(2024, 3, 4), 10.0)],
    )
    assert rows == [
        ("c1", T(2024, 3, 5), 1, 10.0, T(2024, 3, 4)),
        ("c1", T(2024, 3, 5), 7, 10.0, T(2024, 3, 4)),
    ]


def test_entity_rows_without_a_timestamp_are_refused(spark):
    dates = spark.createDataFrame([("c1", dt.date(2024, 3, 5))], "customer_id string, day date")
    with pytest.raises(SchemaMismatchError, match="timestamp column 'day'"):
        check_entity_rows(dates, join_key="customer_id", timestamp_column="day")


def test_entity_rows_that_already_hold_a_feature_column_are_refused(spark):
    entities = spark.createDataFrame(
        [("c1", T(2024, 3, 5), 1.0)], "customer_id string, event_ts timestamp, spend_30d double"
    )
    features = spark.createDataFrame([], FEATURES)
    with pytest.raises(SchemaMismatchError, match=r"\['spend_30d'\]"):
        as_of_join(entities, features, VIEW, timestamp_column="event_ts")
