"""The gate every silver job runs on its day's rows: flag, quarantine, stop above the limit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lakehouse.contracts import PiiTreatment
from lakehouse.delta import Warehouse
from lakehouse.errors import TableNotFoundError
from lakehouse.pii import apply_pii
from lakehouse.quality import (
    FAILED_RULES,
    GateOutcome,
    QualityGateError,
    QualitySuite,
    check_failure_rate,
    gate,
    within_limit,
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


def _references(typed: DataFrame, suite: QualitySuite, warehouse: Warehouse) -> dict:
    """The silver dimensions the suite's referential rules check against, as they are now."""
    references = {}
    for rule in suite.references.values():
        try:
            references[rule.table] = warehouse.table(rule.table).to_spark(typed.sparkSession)
        except TableNotFoundError:
            raise TableNotFoundError(
                f"{suite.table}: rule '{rule.name}' checks {rule.column} against {rule.table}, "
                f"which does not exist yet; build {rule.table} for this run date first"
            ) from None
    return references


def result_rows(outcome: GateOutcome, suite: QualitySuite, context: RunContext) -> list[tuple]:
    """ops.quality_results rows: one per rule, each carrying the run's verdict."""
    rules = {r.name: r for r in suite.rules}
    passed = within_limit(outcome, suite)
    return [
        (
            suite.table,
            context.run_date,
            result.rule,
            rules[result.rule].check,
            rules[result.rule].column,
            result.reason,
            result.checked_rows,
            result.failed_rows,
            outcome.limit_failed_rows,
            suite.max_failure_rate,
            passed,
            outcome.confirmed_by_gx,
            context.run_id,
        )
        for result in outcome.results
    ]


def gate_day(
    typed: DataFrame,
    suite: QualitySuite,
    *,
    warehouse: Warehouse,
    context: RunContext,
    converted: Sequence[str],
    pii: Mapping[str, PiiTreatment],
    pii_key: bytes,
    confirm_with_gx: bool = True,
) -> GateOutcome:
    """Gate ``typed``, replace this day's quarantine and quality results of the table, and
    raise QualityGateError (after recording both) when too many rows failed. The caller
    releases the outcome once it has written the passing rows. Quarantined values get the
    contract's PII treatment too: ops tables are read by more people than silver."""
    from schemas.quarantine import QUALITY_RESULTS, QUARANTINE

    references = _references(typed, suite, warehouse)
    outcome = gate(typed, suite, references=references, confirm_with_gx=confirm_with_gx)
    owned = f"table_name = '{suite.table}' AND run_date = DATE'{context.run_date.isoformat()}'"
    failed = apply_pii(outcome.failed, pii, key=pii_key)
    refused = quarantine_rows(failed, suite, context, converted=converted)
    warehouse.create(QUARANTINE).write(refused, mode="replace_where", predicate=owned)
    spark = typed.sparkSession
    results = spark.createDataFrame(result_rows(outcome, suite, context), QUALITY_RESULTS.schema)
    warehouse.create(QUALITY_RESULTS).write(results, mode="replace_where", predicate=owned)
    try:
        check_failure_rate(outcome, suite)
    except QualityGateError:
        outcome.release()
        raise
    return outcome
