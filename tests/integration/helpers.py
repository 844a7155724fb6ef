"""Small typed tables for the Delta layer tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lakehouse import TableContract

EVENTS = TableContract(
    name="silver.events",
    owner="tests",
    description="test events",
    primary_key=("event_id",),
    partition_by=("event_date",),
    schema=T.StructType(
        [
            T.StructField("event_id", T.StringType(), nullable=False),
            T.StructField("event_date", T.DateType(), nullable=False),
            T.StructField("amount", T.DecimalType(18, 2), nullable=True),
            T.StructField("status", T.StringType(), nullable=True),
        ]
    ),
)

D1, D2, D3 = dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3)


def events(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    typed = [(i, d, None if a is None else Decimal(str(a)), s) for i, d, a, s in rows]
    return spark.createDataFrame(typed, EVENTS.schema)


def rows_of(df: DataFrame) -> list[tuple]:
    return sorted(
        (
            r["event_id"],
            r["event_date"],
            None if r["amount"] is None else float(r["amount"]),
            r["status"],
        )
        for r in df.collect()
    )
