"""Bulk CSV files -> a typed, gated Delta table; one scan when the files are clean.

The daily CSV path (jobs/ingest_csv.py) numbers every line with a window over its file (a sort
of the whole file) so that a refused line is named by file and line number. Bulk loads of
millions of rows usually refuse nothing, so they try a fast path first:

- fast: Spark's CSV reader parses with the contract's types and stops at a line it cannot read
  (FAILFAST); the same scan checks each row for bytes that were not UTF-8 and against the
  declared suite (``quality.failure_condition``, as ``flag_rows`` uses it) and feeds the table
  layer's write. A bad line or failing row raises inside the Spark job: the job aborts before
  the commit and the table stays as it was. Nothing is refused, so no row needs a name.
- exact (some row failed): the CSV path's ``number_lines`` and ``parse_lines``, typed by the
  same CSV parser, cached once, counted per rule, quarantined by file and line number, stopped
  above the suite's failure-rate limit, then written. Only files with bad rows pay the sort.

great-expectations must agree with the row flags. By default it checks every row on the exact
path, as the silver gates do; on the fast path every row passed every flag, so GX could only
re-prove the rules' translation (which the quality tests prove) for seconds per table (a Spark
job per metric), and runs only when ``gx_sample_rows`` asks for a sample. 0 turns GX off.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import reduce
from pathlib import Path
from typing import Literal

import pyarrow as pa
from py4j.protocol import Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from jobs._gate import quarantine_rows, result_rows
from jobs.ingest_csv import CORRUPT, CSV_OPTIONS, MALFORMED, number_lines, parse_lines
from jobs.ingest_csv import to_quarantine as malformed_quarantine
from lakehouse.contracts import TableContract
from lakehouse.delta import Warehouse
from lakehouse.errors import ContractError
from lakehouse.quality import (
    FAILED_RULES,
    GateOutcome,
    QualitySuite,
    RuleResult,
    check_failure_rate,
    fails_any_rule,
    fails_counted_rule,
    failure_condition,
    flag_rows,
    gate,
    with_rule_inputs,
)
from lakehouse.run import RunContext

# raise_error's message and the reader's error class: how the fast path's aborts are told apart
# from any other failure.
BAD_ROW = "lakehouse bulk load: a row is malformed or fails the suite"
UNREADABLE = "MALFORMED_RECORD_IN_PARSING"
REPLACEMENT = "\ufffd"  # what the CSV reader makes of bytes that are not UTF-8


@dataclass(frozen=True)
class BulkLoad:
    table: str
    path: Literal["fast", "exact"]
    rows_in: int  # rows read: the file's lines less the header and blank lines
    rows_written: int
    version: int
    rules: list[RuleResult]

    @property
    def rows_refused(self) -> int:
        return self.rows_in - self.rows_written


# -- transforms (pure) ---------------------------------------------------------------------
def malformed(schema: T.StructType) -> Column:
    """True where a text field holds bytes that were not UTF-8. Every other malformed line
    (quoting, column count, a value that does not convert) stops ``read_csv`` itself."""
    text = [f.name for f in schema.fields if isinstance(f.dataType, T.StringType)]
    replaced = [F.col(c).contains(REPLACEMENT) for c in text]
    return reduce(lambda a, b: a | b, replaced, F.lit(False))


def guard_rows(typed: DataFrame, suite: QualitySuite, *, schema: T.StructType) -> DataFrame:
    """``typed`` with a check that raises on the first malformed or failing row. One boolean
    per row (no per-rule array): the cheapest form of the check, though not free (at TPC-H
    SF1, about 6% of the CPU of a plain CSV -> Parquet copy)."""
    prepared = with_rule_inputs(typed, suite, {})
    bad = reduce(lambda a, b: a | b, map(failure_condition, suite.rules), malformed(schema))
    return prepared.where(F.when(bad, F.raise_error(F.lit(BAD_ROW))).otherwise(F.lit(True)))


def type_lines(parsed: DataFrame, schema: T.StructType) -> DataFrame:
    """``parse_lines`` output -> the schema's typed columns, parsed by the same CSV parser as
    the fast path. A well-formed line with a value that does not convert is malformed too."""
    ddl = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)
    typed = F.from_csv("line", f"{ddl}, `{CORRUPT}` string", CSV_OPTIONS)
    unconvertible = [
        F.when(F.col(f.name).isNotNull() & typed[f.name].isNull(), F.lit(f.name))
        for f in schema.fields
    ]
    names = F.concat_ws(", ", *unconvertible)
    reason = F.format_string("unconvertible value: %s not of the column's type", names)
    # parse_lines already named structural faults, bad encoding included (it sees raw bytes).
    malformed_reason = F.coalesce(F.col(MALFORMED), F.when(typed[CORRUPT].isNotNull(), reason))
    return parsed.select(
        "source_file",
        "line_number",
        "line",
        *(typed[f.name].alias(f.name) for f in schema.fields),
        malformed_reason.alias(MALFORMED),
    )


def derive(typed: DataFrame, derived: Mapping[str, Column]) -> DataFrame:
    return typed.select("*", *(expr.alias(name) for name, expr in derived.items()))


# -- I/O ------------------------------------------------------------------------------------
def read_csv(spark: SparkSession, files: Sequence[Path], schema: T.StructType) -> DataFrame:
    """The files parsed with the schema's types. A line the reader cannot read with them fails
    the job (FAILFAST, error class ``UNREADABLE``): a corrupt-record column would make the
    reader copy every field of every row into a new row, to name the few bad ones."""
    fields = [T.StructField(f.name, f.dataType, nullable=True) for f in schema.fields]
    reader = spark.read.schema(T.StructType(fields)).options(header=True, **CSV_OPTIONS)
    return reader.option("mode", "FAILFAST").csv([str(p) for p in files])


def read_lines(spark: SparkSession, files: Sequence[Path]) -> DataFrame:
    """(value, source_file, block_start): what ``number_lines`` numbers."""
    return spark.read.text([str(p) for p in files]).select(
        "value",
        F.col("_metadata.file_name").alias("source_file"),
        F.col("_metadata.file_block_start").alias("block_start"),
    )


def check_headers(files: Sequence[Path], columns: Sequence[str], *, table: str) -> None:
    """The reader takes columns by position: a file whose header names other columns, or the
    same ones in another order, would load values into the wrong columns."""
    for path in files:
        with path.open("rb") as handle:
            header = handle.readline().decode("utf-8", errors="replace").strip()
        found = [c.strip().strip('"') for c in header.split(",")]
        if found != list(columns):
            raise ContractError(
                f"{table}: {path} has the columns {found}, expected {list(columns)}; fix the "
                "export or publish a contract version for the new layout"
            )


# -- the load -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class BulkCsvLoad:
    """Replaces ``contract``'s table with the rows of ``files`` that pass ``suite``; refused
    rows go to ops.quarantine, per-rule counts to ops.quality_results (both replaced for this
    table and run date). ``derived`` columns (name -> expression over the file's columns) are
    added before the checks."""

    spark: SparkSession
    files: Sequence[Path]
    contract: TableContract
    suite: QualitySuite
    warehouse: Warehouse
    context: RunContext
    derived: Mapping[str, Column] = field(default_factory=dict)
    gx_sample_rows: int | None = None  # None: every row on the exact path, none on the fast

    @property
    def schema(self) -> T.StructType:
        """The files' columns: the contract's less the derived ones."""
        fields = self.contract.schema.fields
        return T.StructType([f for f in fields if f.name not in self.derived])

    def run(self, *, path: Literal["auto", "exact"] = "auto", log_level: str = "ERROR") -> BulkLoad:
        """The fast path, then the exact one if a row failed (``path="exact"``: only that)."""
        check_headers(self.files, self.schema.fieldNames(), table=self.contract.name)
        if path == "auto":
            # An aborted fast path is expected, not an error: keep Spark's task stack traces
            # off the console while it runs.
            self.spark.sparkContext.setLogLevel("OFF")
            try:
                return self.fast()
            except (PySparkException, Py4JJavaError) as err:
                if BAD_ROW not in str(err) and UNREADABLE not in str(err):
                    raise
            finally:
                self.spark.sparkContext.setLogLevel(log_level)
        return self.exact()

    def fast(self) -> BulkLoad:
        typed = derive(read_csv(self.spark, self.files, self.schema), self.derived)
        columns = self.contract.column_names
        if self.gx_sample_rows:
            self.confirm_with_gx(typed.where(~malformed(self.schema)).select(*columns))
        guarded = guard_rows(typed, self.suite, schema=self.schema).select(*columns)
        written = self.warehouse.create(self.contract).write(guarded, mode="overwrite")
        rows = written.rows_written
        results = [RuleResult(r.name, r.describe(), 0, rows) for r in self.suite.rules]
        confirmed = 0 < rows <= (self.gx_sample_rows or 0)
        # Every row passed: of the outcome, only the counts are read.
        outcome = GateOutcome(
            passed=guarded,
            failed=guarded,
            flagged=guarded,
            results=results,
            rows=rows,
            failed_rows=0,
            limit_failed_rows=0,
            confirmed_by_gx=confirmed,
        )
        self.record(None, outcome)
        return BulkLoad(self.contract.name, "fast", rows, rows, written.version, results)

    def exact(self) -> BulkLoad:
        lines = number_lines(read_lines(self.spark, self.files))
        parsed = parse_lines(lines, columns=self.schema.fieldNames())
        typed = derive(type_lines(parsed, self.schema), self.derived)
        flagged = flag_rows(typed, self.suite).persist()
        try:
            outcome = count_rows(flagged, self.suite)
            if self.gx_sample_rows != 0:
                well_formed = flagged.where(F.col(MALFORMED).isNull())
                self.confirm_with_gx(well_formed.select(*self.contract.column_names))
                whole = self.gx_sample_rows is None or outcome.rows <= self.gx_sample_rows
                outcome = replace(outcome, confirmed_by_gx=whole)
            malformed_lines = malformed_quarantine(flagged, self.contract.name, self.context)
            failing = quarantine_rows(_failing(outcome), self.suite, self.context, converted=())
            self.record(malformed_lines.unionByName(failing), outcome)
            # The limit's message names the worst causes: malformed lines can be one of them.
            unreadable = outcome.limit_failed_rows - outcome.failed_rows
            reading = RuleResult("malformed_csv", "unreadable line", unreadable, outcome.rows)
            check_failure_rate(replace(outcome, results=[*outcome.results, reading]), self.suite)
            passed = outcome.passed.select(*self.contract.column_names)
            written = self.warehouse.create(self.contract).write(passed, mode="overwrite")
        finally:
            flagged.unpersist()
        name, rows = self.contract.name, outcome.rows
        return BulkLoad(name, "exact", rows, written.rows_written, written.version, outcome.results)

    def confirm_with_gx(self, rows: DataFrame) -> None:
        """GX and the row flags must agree on ``rows`` (the first ``gx_sample_rows`` of them);
        ``gate`` raises if they do not. A sample is cached: GX runs a Spark job per metric."""
        if self.gx_sample_rows is None:
            gate(rows, self.suite, confirm_with_gx=True).release()
            return
        sample = rows.limit(self.gx_sample_rows).persist()
        try:
            gate(sample, self.suite, confirm_with_gx=True).release()
        finally:
            sample.unpersist()

    def record(self, refused: DataFrame | None, outcome: GateOutcome) -> None:
        """Replace this run's quarantine (``None``: nothing refused) and quality results."""
        from schemas.quarantine import QUALITY_RESULTS, QUARANTINE

        owned = f"table_name = '{self.suite.table}' AND run_date = DATE'{self.context.run_date}'"
        quarantine = self.warehouse.create(QUARANTINE)
        if refused is None and self._quarantined_before(quarantine):
            refused = local_frame(self.spark, [], QUARANTINE.schema)
        if refused is not None:
            quarantine.write(refused, mode="replace_where", predicate=owned)
        rows = result_rows(outcome, self.suite, self.context)
        results = local_frame(self.spark, rows, QUALITY_RESULTS.schema)
        self.warehouse.create(QUALITY_RESULTS).write(results, mode="replace_where", predicate=owned)

    def _quarantined_before(self, quarantine) -> bool:
        # Files of this run's partition, from the log alone: clearing an empty partition would
        # cost a Spark job and a commit per table on every clean load.
        filters = [("table_name", "=", self.suite.table), ("run_date", "=", self.context.run_date)]
        return bool(quarantine.to_spark(self.spark, filters=filters).inputFiles())


def local_frame(spark: SparkSession, rows: Sequence[tuple], schema: T.StructType) -> DataFrame:
    """``rows`` as a local relation (built from Arrow): writing it needs no Python worker, as a
    frame of Python rows does."""
    records = [dict(zip(schema.fieldNames(), row, strict=True)) for row in rows]
    arrow = pa.Table.from_pylist(records, schema=to_arrow_schema(schema, timezone="UTC"))
    return spark.createDataFrame(arrow)


def count_rows(flagged: DataFrame, suite: QualitySuite) -> GateOutcome:
    """Per-rule counts over the well-formed rows, and malformed lines, in one aggregation."""
    ok = F.col(MALFORMED).isNull()
    failing = ok & fails_any_rule()
    limit_failing = fails_counted_rule(suite)
    counts = flagged.agg(
        F.count(F.lit(1)).alias("_rows"),
        F.count_if(~ok).alias("_malformed"),
        F.count_if(failing).alias("_failing"),
        F.count_if(ok & limit_failing).alias("_limit"),
        *(
            F.count_if(ok & F.array_contains(FAILED_RULES, r.name)).alias(r.name)
            for r in suite.rules
        ),
    ).first()
    rows = counts["_rows"]
    return GateOutcome(
        passed=flagged.where(ok & ~failing).drop(FAILED_RULES),
        failed=flagged.where(failing),
        results=[RuleResult(r.name, r.describe(), counts[r.name], rows) for r in suite.rules],
        rows=rows,
        failed_rows=counts["_failing"],
        flagged=flagged,
        limit_failed_rows=counts["_limit"] + counts["_malformed"],
    )


def _failing(outcome: GateOutcome) -> DataFrame:
    """Failing rows as ``quarantine_rows`` takes them: values, then ``_``-prefixed metadata."""
    return outcome.failed.drop("line", MALFORMED).withColumnsRenamed(
        {"source_file": "_source_file", "line_number": "_line_number"}
    )
