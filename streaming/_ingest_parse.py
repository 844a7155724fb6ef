"""Pure transforms of the streaming transaction ingest: Kafka rows -> bronze events -> typed and
flagged events -> silver rows and dead letters. No I/O, no clock: the sink passes the batch's
ids and the date cut-off in.

The JSON keys are the transactions contract's source columns (schemas/transactions.py), typed
by the batch path's own ``type_transactions`` and checked by the batch gate's declared suite
(conf/quality/silver.transactions.yaml), so a stream event and a CSV row pass or fail alike.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.build_silver_transactions import type_transactions
from lakehouse.quality import FAILED_RULES, QualitySuite, fails_any_rule, flag_rows
from schemas.transactions import SOURCE_COLUMNS

__all__ = [
    "LATE",
    "NOT_JSON",
    "bronze_events",
    "dead_letters",
    "flag_events",
    "refused",
    "stream_suite",
    "with_batch_ids",
]

NOT_JSON = "not_json"
LATE = "late_event"
_CORRUPT = "_corrupt_record"
_EVENT = "_event"
# Every key as text: a number, string or boolean all arrive as their JSON text, so a wrong type
# ("amount": "N/A", "amount": true) is caught by the suite's `parses` rules like a bad CSV cell.
EVENT_SCHEMA = T.StructType(
    [T.StructField(c, T.StringType()) for c in SOURCE_COLUMNS]
    + [T.StructField(_CORRUPT, T.StringType())]
)
# What travels beside each event from bronze to the dead letters.
KAFKA_COLUMNS = ("key", "value", "topic", "partition", "offset", "kafka_ts", "received_date")
_REASONS = {
    NOT_JSON: "value is not a JSON object",
    LATE: "txn_date is older than the dedupe watermark; load it through the daily batch path",
}


def stream_suite(suite: QualitySuite) -> QualitySuite:
    """The batch gate's suite without its referential rules: those hold rows until a dimension
    catches up (a re-run releases them), which a stream that never re-runs cannot do."""
    return suite.model_copy(
        update={"rules": tuple(r for r in suite.rules if r.check != "references")}
    )


def bronze_events(raw: DataFrame, *, query_id: str, batch_id: int) -> DataFrame:
    """Kafka source rows as bronze.transaction_events rows."""
    events = raw.select(
        F.col("key").cast("string").alias("key"),
        F.col("value").cast("string").alias("value"),
        "topic",
        "partition",
        "offset",
        F.col("timestamp").alias("kafka_ts"),
        F.to_date("timestamp").alias("received_date"),
    )
    return with_batch_ids(events, query_id=query_id, batch_id=batch_id)


def with_batch_ids(events: DataFrame, *, query_id: str, batch_id: int) -> DataFrame:
    """``events`` (KAFKA_COLUMNS) with the batch's ids: bronze.transaction_events rows."""
    return events.select(
        *KAFKA_COLUMNS,
        F.lit(query_id).alias("_query_id"),
        F.lit(batch_id).cast("long").alias("_batch_id"),
    )


def flag_events(events: DataFrame, suite: QualitySuite, *, run_id: str) -> DataFrame:
    """Parse, type and flag each event: the typed transaction columns, the Kafka columns, and
    ``_dq_failed_rules`` (empty: valid). Unparsable JSON fails only ``not_json``."""
    parsed = events.select(
        *KAFKA_COLUMNS,
        F.from_json("value", EVENT_SCHEMA, {"columnNameOfCorruptRecord": _CORRUPT}).alias(_EVENT),
    )
    # A JSON array, scalar or empty value parses to NULL; a broken object to its corrupt text.
    not_json = F.col(_EVENT).isNull() | F.col(f"{_EVENT}.{_CORRUPT}").isNotNull()
    flat = parsed.select(
        *(F.col(f"{_EVENT}.{c}").alias(c) for c in SOURCE_COLUMNS),
        *KAFKA_COLUMNS,
        not_json.alias("_not_json"),
        # Where type_transactions expects the CSV file and line: the Kafka coordinates.
        F.concat_ws("-", "topic", "partition").alias("_source_file"),
        F.col("offset").alias("_line_number"),
        F.lit(run_id).alias("_run_id"),
        F.col("received_date").alias("_run_date"),
    )
    typed = type_transactions(flat, keep=(*KAFKA_COLUMNS, "_not_json"))
    flagged = flag_rows(typed, suite)
    rules = F.when(F.col("_not_json"), F.array(F.lit(NOT_JSON))).otherwise(F.col(FAILED_RULES))
    return flagged.withColumn(FAILED_RULES, rules).drop("_not_json")


def refused(*, late_before: dt.date | None) -> Column:
    """True for events that go to the dead letters: failing a rule, or valid but older than the
    dedupe watermark (txn_date before ``late_before``)."""
    failing = fails_any_rule()
    if late_before is None:
        return failing
    return failing | (F.to_date("txn_ts") < F.lit(late_before))


def dead_letters(
    flagged: DataFrame,
    suite: QualitySuite,
    *,
    app: str,
    late_before: dt.date | None,
    query_id: str,
    batch_id: int,
) -> DataFrame:
    """ops.dead_letters rows: one per refused event, its rules and their reasons in one line."""
    described = {r.name: r.describe() for r in suite.rules} | _REASONS
    reasons = F.create_map(*(F.lit(x) for pair in described.items() for x in pair))
    # A refused event without a failed rule is a late one.
    rules = F.when(fails_any_rule(), F.col(FAILED_RULES)).otherwise(F.array(F.lit(LATE)))
    with_rules = flagged.where(refused(late_before=late_before)).withColumn("_rules", rules)
    return with_rules.select(
        F.lit(app).alias("app"),
        "topic",
        "partition",
        "offset",
        "kafka_ts",
        "key",
        F.col("value").alias("raw_value"),
        F.col("_rules").alias("rules"),
        F.array_join(F.transform("_rules", lambda r: reasons[r]), "; ").alias("reason"),
        "received_date",
        F.lit(query_id).alias("_query_id"),
        F.lit(batch_id).cast("long").alias("_batch_id"),
    )
