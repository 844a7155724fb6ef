"""The gate every silver job runs on its day's rows: flag, quarantine, stop above the limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.contracts import PiiTreatment
from lakehouse.delta import Warehouse
from lakehouse.pii import apply_pii
from lakehouse.quality import (
    FAILED_RULES,
    GateOutcome,
    QualityGateError,
    QualitySuite,
    check_failure_rate,
    gate,
)
from lakehouse.run import RunContext


def quarantine_rows(
    failed: DataFrame, suite: QualitySuite, context: RunContext, *, converted: Sequence[str]
) -> DataFrame:
    """One quarantine row per (row, failed rule), with the row's values as received: the
    ``converted`` (typed) columns are left out, their ``*_raw`` text is kept."""
    reasons = F.create_map(*(x for r in suite.rules for x in (F.lit(r.name), F.lit(r.describe()))))
    received = [c for c in failed.columns if c not in converted and not c.startswith("_")]
    per_rule = failed.select("*", F.explode(FAILED_RULES).alias("_rule"))
    return per_rule.select(
        F.lit(suite.table).alias("table_name"),
        F.lit(context.run_date).alias("run_date"),
        F.col("_rule").alias("rule"),
        reasons[F.col("_rule")].alias("reason"),
        F.to_json(F.struct(*received)).alias("raw_record"),
        F.col("_source_file").alias("source_file"),
        F.col("_line_number").alias("line_number"),
        F.lit(context.run_id).alias("run_id"),
    )


def gate_day(
    typed: DataFrame,
    suite: QualitySuite,
    *,
    warehouse: Warehouse,
    context: RunContext,
    converted: Sequence[str],
    pii: Mapping[str, PiiTreatment],
    pii_key: bytes,
) -> GateOutcome:
    """Gate ``typed``, replace this day's quarantine of the table, and raise QualityGateError
    (after quarantining) when too many rows failed. The caller releases the outcome once it
    has written the passing rows. Quarantined values get the contract's PII
    treatment too: ops tables are read by more people than silver."""
    from schemas.quarantine import QUARANTINE

    outcome = gate(typed, suite)
    owned = f"table_name = '{suite.table}' AND run_date = DATE'{context.run_date.isoformat()}'"
    failed = apply_pii(outcome.failed, pii, key=pii_key)
    refused = quarantine_rows(failed, suite, context, converted=converted)
    warehouse.create(QUARANTINE).write(refused, mode="replace_where", predicate=owned)
    try:
        check_failure_rate(outcome, suite)
    except QualityGateError:
        outcome.release()
        raise
    return outcome
