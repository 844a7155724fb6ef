"""The tables the streaming apps write (see streaming/ingest_transactions.py for why they are
twins of the batch path's tables rather than the same ones)."""

from __future__ import annotations

import dataclasses

from pyspark.sql import types as T

from lakehouse.contracts import TableContract
from schemas.transactions import SILVER_TRANSACTIONS

__all__ = ["DEAD_LETTERS", "TRANSACTIONS_STREAM", "TRANSACTION_EVENTS", "TRANSACTION_SCORES_STREAM"]

# Where an event came from; every table here carries it, so a row leads back to its record.
_KAFKA_COORDINATES = (
    T.StructField("topic", T.StringType(), nullable=False),
    T.StructField("partition", T.IntegerType(), nullable=False),
    T.StructField("offset", T.LongType(), nullable=False),
    T.StructField("kafka_ts", T.TimestampType(), nullable=True),
)
_BATCH = (
    T.StructField("received_date", T.DateType(), nullable=False),  # of kafka_ts, UTC
    T.StructField("_query_id", T.StringType(), nullable=False),
    T.StructField("_batch_id", T.LongType(), nullable=False),
)

TRANSACTION_EVENTS = TableContract(
    name="bronze.transaction_events",
    version=1,
    owner="payments-data",
    description="Transaction events exactly as read from Kafka (key and value as text) with "
    "their topic, partition, offset and timestamp; written by streaming/ingest_transactions.py",
    primary_key=("topic", "partition", "offset"),
    partition_by=("received_date",),
    schema=T.StructType(
        [
            T.StructField("key", T.StringType(), nullable=True),
            T.StructField("value", T.StringType(), nullable=True),
            *_KAFKA_COORDINATES,
            *_BATCH,
        ]
    ),
)

# The same contract as the batch path's silver.transactions (one schema source), another table.
TRANSACTIONS_STREAM = dataclasses.replace(
    SILVER_TRANSACTIONS,
    name="silver.transactions_stream",
    description="Typed, validated transactions from the Kafka stream, each txn_id once; same "
    "contract as silver.transactions; written by streaming/ingest_transactions.py",
)

DEAD_LETTERS = TableContract(
    name="ops.dead_letters",
    version=1,
    owner="data-platform",
    description="Stream events refused by an ingest app (bad JSON, wrong types, missing keys, "
    "unknown values, late), one row per event with the rules it failed and the raw value; "
    "the same events go to the app's dead-letter topic",
    primary_key=("topic", "partition", "offset"),
    partition_by=("app", "received_date"),
    schema=T.StructType(
        [
            T.StructField("app", T.StringType(), nullable=False),
            *_KAFKA_COORDINATES,
            T.StructField("key", T.StringType(), nullable=True),
            T.StructField("raw_value", T.StringType(), nullable=True),
            T.StructField("rules", T.ArrayType(T.StringType()), nullable=False),
            T.StructField("reason", T.StringType(), nullable=False),
            *_BATCH,
        ]
    ),
)

TRANSACTION_SCORES_STREAM = TableContract(
    name="gold.transaction_scores_stream",
    version=1,
    owner="fraud-data",
    description="Every valid transaction event scored in real time by the champion anomaly "
    "model (streaming/score_transactions.py): its score, alert flag and reasons, the velocity "
    "and z-score it was scored with, and the model version; alerts also go to the alerts topic",
    primary_key=("txn_id",),
    partition_by=("txn_date",),
    schema=T.StructType(
        [
            T.StructField("txn_id", T.StringType(), nullable=False),
            T.StructField("customer_id", T.StringType(), nullable=False),
            T.StructField("txn_ts", T.TimestampType(), nullable=False),
            T.StructField("txn_date", T.DateType(), nullable=False),
            T.StructField("amount", T.DoubleType(), nullable=True),
            T.StructField("txn_count_1h", T.LongType(), nullable=True),
            T.StructField("amount_zscore", T.DoubleType(), nullable=True),
            T.StructField("anomaly_score", T.DoubleType(), nullable=False),
            T.StructField("is_alert", T.BooleanType(), nullable=False),
            T.StructField("reason", T.StringType(), nullable=True),
            T.StructField("model_name", T.StringType(), nullable=False),
            T.StructField("model_version", T.StringType(), nullable=False),
            *_KAFKA_COORDINATES,
            T.StructField("_query_id", T.StringType(), nullable=False),
            T.StructField("_batch_id", T.LongType(), nullable=False),
        ]
    ),
)
