"""SCD2 versions written through Table.merge match a brute-force oracle, including late and
repeated changes."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from pyspark.sql import types as T

from lakehouse import TableContract
from lakehouse.scd2 import SCD2_COLUMNS, scd2_changes, scd2_op

pytestmark = pytest.mark.integration

DIM = TableContract(
    name="silver.customer_dim_test",
    owner="tests",
    description="SCD2 test dimension",
    primary_key=("customer_id", "valid_from"),
    schema=T.StructType(
        [
            T.StructField("customer_id", T.LongType(), False),
            T.StructField("city", T.StringType(), True),
            T.StructField("segment", T.StringType(), True),
            T.StructField("valid_from", T.TimestampType(), False),
            T.StructField("valid_to", T.TimestampType(), True),
            T.StructField("is_current", T.BooleanType(), False),
        ]
    ),
)
CHANGE = T.StructType(
    [
        T.StructField("customer_id", T.LongType(), False),
        T.StructField("city", T.StringType(), True),
        T.StructField("segment", T.StringType(), True),
        T.StructField("changed_ts", T.TimestampType(), False),
    ]
)
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def oracle(events: list[tuple]) -> list[tuple]:
    """Versions from every change ever seen, by brute force: sort, collapse repeats, chain."""
    versions = []
    by_key: dict[int, dict[dt.datetime, tuple]] = {}
    for customer, city, segment, ts in events:
        by_key.setdefault(customer, {})[ts] = (city, segment)  # later batches win at one instant
    for customer, timeline in by_key.items():
        kept = []
        for ts in sorted(timeline):
            if not kept or kept[-1][1] != timeline[ts]:
                kept.append((ts, timeline[ts]))
        for i, (ts, (city, segment)) in enumerate(kept):
            valid_to = kept[i + 1][0] if i + 1 < len(kept) else None
            versions.append((customer, city, segment, ts, valid_to, valid_to is None))
    return sorted(versions, key=lambda v: (v[0], v[3]))


def stored(table, spark) -> list[tuple]:
    rows = table.to_spark(spark).collect()
    out = [
        (
            r["customer_id"],
            r["city"],
            r["segment"],
            r["valid_from"].replace(tzinfo=dt.UTC),
            r["valid_to"].replace(tzinfo=dt.UTC) if r["valid_to"] else None,
            r["is_current"],
        )
        for r in rows
    ]
    return sorted(out, key=lambda v: (v[0], v[3]))


def test_random_batches_of_changes_match_the_oracle(spark, warehouse):
    table = warehouse.create(DIM)
    rng = random.Random(7)
    seen: list[tuple] = []
    for _ in range(4):
        batch = [
            (
                rng.randint(1, 6),
                rng.choice(["Leeds", "York", None]),
                rng.choice(["saver", "family"]),
                T0 + dt.timedelta(days=rng.randint(0, 20)),
            )
            for _ in range(12)
        ]
        # one row per (customer, instant) within a batch, as a deduplicated silver feed delivers
        batch = list({(c, ts): (c, city, seg, ts) for c, city, seg, ts in batch}.values())
        seen += batch
        changes = spark.createDataFrame(batch, CHANGE)
        source = scd2_changes(
            table.to_spark(spark),
            changes,
            key="customer_id",
            tracked=("city", "segment"),
            changed_at="changed_ts",
        )
        table.merge(source, delete_if=scd2_op())
        assert stored(table, spark) == oracle(seen)


def test_exactly_one_current_version_per_customer(spark, warehouse):
    table = warehouse.create(DIM)
    changes = spark.createDataFrame(
        [
            (1, "Leeds", "saver", T0),
            (1, "York", "saver", T0 + dt.timedelta(days=3)),
            (2, "Hull", "family", T0),
        ],
        CHANGE,
    )
    table.merge(
        scd2_changes(
            table.to_spark(spark),
            changes,
            key="customer_id",
            tracked=("city", "segment"),
            changed_at="changed_ts",
        ),
        delete_if=scd2_op(),
    )
    current = table.to_spark(spark).where("is_current").select("customer_id", "city").collect()
    assert sorted(tuple(r) for r in current) == [(1, "York"), (2, "Hull")]
    assert set(SCD2_COLUMNS) <= set(table.schema.fieldNames())
