"""Ingest one day's CSV drop of a source into bronze, as received.

    lakehouse ingest csv --source transactions --run-date 2024-01-05
    spark-submit jobs/ingest_csv.py --source transactions --run-date 2024-01-05

Every line lands somewhere: well-formed rows in bronze.<source> (text, plus source file, line
number and run id), malformed lines (bad quoting, wrong column count, bad encoding) in
ops.quarantine with the reason, and a file whose content was already ingested on another day
(a re-sent file) is recorded in quarantine instead of being loaded twice. Each write replaces
exactly this run date's partition, so a re-run leaves the same tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.delta import Warehouse
from lakehouse.errors import SourceUnavailableError
from lakehouse.run import RunContext
from lakehouse.runs import RunMetrics

MALFORMED = "_malformed_reason"
CORRUPT = "_corrupt_record"
# RFC 4180: fields quoted with ", a quote inside a field doubled.
CSV_OPTIONS = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT, "escape": '"'}


def bronze_contracts() -> dict[str, TableContract]:
    from schemas.customers import BRONZE_CUSTOMERS
    from schemas.transactions import BRONZE_TRANSACTIONS

    return {"transactions": BRONZE_TRANSACTIONS, "customers": BRONZE_CUSTOMERS}


@dataclass(frozen=True)
class IngestResult:
    source: str
    run_date: dt.date
    files: int
    resent_files: int
    rows: int
    quarantined: int

    def run_metrics(self) -> RunMetrics:
        return RunMetrics(
            rows_in=self.rows + self.quarantined,
            rows_out=self.rows,
            rows_quarantined=self.quarantined,
        )


# -- transforms (pure: DataFrame in, DataFrame out) -----------------------------------------
def number_lines(text: DataFrame) -> DataFrame:
    """(value, source_file, block_start) lines -> with their 1-based line number in the file.

    Spark reads each file block in order and monotonically_increasing_id grows within a block,
    so (block start, id) orders the lines of a file.
    """
    ordered = text.withColumn("_order", F.monotonically_increasing_id())
    in_file = Window.partitionBy("source_file").orderBy("block_start", "_order")
    return ordered.select(
        "source_file",
        F.row_number().over(in_file).cast("long").alias("line_number"),
        F.col("value").alias("line"),
    )


def parse_lines(lines: DataFrame, *, columns: Sequence[str]) -> DataFrame:
    """Numbered lines -> the source columns as text, with ``_malformed_reason`` where a line
    cannot be read. The header (line 1) and blank lines are not rows."""
    ddl = ", ".join(f"`{c}` string" for c in [*columns, CORRUPT])
    rows = lines.where((F.col("line_number") > 1) & (F.trim("line") != ""))
    parsed = rows.select("*", F.from_csv("line", ddl, CSV_OPTIONS).alias("_parsed"))
    return parsed.select(
        "source_file",
        "line_number",
        "line",
        *(F.col(f"_parsed.`{c}`").alias(c) for c in columns),
        _malformed_reason(F.col("line"), F.col(f"_parsed.{CORRUPT}"), len(columns)).alias(
            MALFORMED
        ),
    )


def _malformed_reason(line: Column, corrupt: Column, width: int) -> Column:
    quotes = F.length(line) - F.length(F.regexp_replace(line, '"', ""))
    return (
        F.when(~F.is_valid_utf8(line), F.lit("bad encoding: not UTF-8"))
        .when(corrupt.isNotNull() & (quotes % 2 == 1), F.lit("bad quoting: unbalanced quote"))
        .when(corrupt.isNotNull(), F.lit(f"wrong column count: expected {width} fields"))
    )


def to_bronze(parsed: DataFrame, contract: TableContract, run: RunContext) -> DataFrame:
    source_columns = [c for c in contract.column_names if not c.startswith("_")]
    return parsed.where(F.col(MALFORMED).isNull()).select(
        *source_columns,
        F.col("source_file").alias("_source_file"),
        F.col("line_number").alias("_line_number"),
        F.lit(run.run_id).alias("_run_id"),
        F.lit(run.run_date).alias("_run_date"),
    )


def shape_of(line: Column) -> Column:
    """The line with every letter replaced by ``X`` (upper case) or ``x`` and every digit by
    ``9``: separators, quotes, spaces and lengths stay, so the shape shows why the line could
    not be read, but none of its values (names, emails, account numbers...) is kept."""
    digits = F.regexp_replace(line, r"\p{Nd}", "9")
    upper = F.regexp_replace(digits, r"\p{Lu}", "X")
    return F.regexp_replace(upper, r"[\p{Ll}\p{Lt}\p{Lm}\p{Lo}]", "x")


def to_quarantine(parsed: DataFrame, table: str, run: RunContext) -> DataFrame:
    malformed = parsed.where(F.col(MALFORMED).isNotNull())
    return malformed.select(
        F.lit(table).alias("table_name"),
        F.lit(run.run_date).alias("run_date"),
        F.lit("malformed_csv").alias("rule"),
        F.col(MALFORMED).alias("reason"),
        # A line that cannot be parsed cannot tell which of its fields are PII: only its shape
        # is kept (the line itself is in the landing file, at source_file and line_number).
        # Invalid bytes become U+FFFD first: readers of the table expect valid UTF-8.
        shape_of(F.make_valid_utf8("line")).alias("raw_record"),
        "source_file",
        "line_number",
        F.lit(run.run_id).alias("run_id"),
    )


# -- run: read -> transform -> write ----------------------------------------------------------
def run(spark: SparkSession, cfg: Config, *, source: str, context: RunContext) -> IngestResult:
    from schemas.quarantine import INGESTED_FILES, QUARANTINE

    contract = _contract(source)
    files = _drop_files(cfg, source, context.run_date)
    warehouse = Warehouse.from_config(cfg)
    registry = warehouse.create(INGESTED_FILES)
    hashes = {path: _sha256(path) for path in files}
    earlier = _ingested_on_other_days(spark, registry, source, context.run_date)
    fresh = [p for p in files if hashes[p] not in earlier]
    resent = [p for p in files if hashes[p] in earlier]

    parsed = _parse_files(spark, fresh, contract).persist()
    try:
        bronze = warehouse.create(contract).write(
            to_bronze(parsed, contract, context),
            mode="replace_where",
            predicate=f"_run_date = DATE'{context.run_date.isoformat()}'",
        )
        refused = to_quarantine(parsed, contract.name, context).unionByName(
            _resent_rows(spark, resent, earlier, hashes, contract.name, context)
        )
        owned = (
            f"table_name = '{contract.name}' AND run_date = DATE'{context.run_date.isoformat()}'"
        )
        quarantined = warehouse.create(QUARANTINE).write(
            refused, mode="replace_where", predicate=owned
        )
    finally:
        parsed.unpersist()
    # Last: a crash before this leaves the files unregistered, and the re-run redoes the day.
    registry.merge(_registry_rows(spark, fresh, hashes, source, context))
    return IngestResult(
        source,
        context.run_date,
        len(files),
        len(resent),
        bronze.rows_written,
        quarantined.rows_written,
    )


def _contract(source: str) -> TableContract:
    contracts = bronze_contracts()
    if source not in contracts:
        raise SourceUnavailableError(f"unknown CSV source {source!r}; known: {sorted(contracts)}")
    return contracts[source]


def _source_columns(contract: TableContract) -> list[str]:
    return [c for c in contract.column_names if not c.startswith("_")]


def _drop_files(cfg: Config, source: str, run_date: dt.date) -> list[Path]:
    drop = cfg.path("landing") / source / run_date.isoformat()
    files = sorted(drop.glob("*.csv"))
    if not files:
        raise SourceUnavailableError(
            f"{source}: no CSV files in {drop} for {run_date}; was the drop delivered?"
        )
    return files


def _parse_files(spark: SparkSession, files: list[Path], contract: TableContract) -> DataFrame:
    columns = _source_columns(contract)
    if not files:
        empty = T.StructType(
            [
                T.StructField("source_file", T.StringType()),
                T.StructField("line_number", T.LongType()),
                T.StructField("line", T.StringType()),
                *(T.StructField(c, T.StringType()) for c in columns),
                T.StructField(MALFORMED, T.StringType()),
            ]
        )
        return spark.createDataFrame([], empty)
    text = spark.read.text([str(p) for p in files]).select(
        "value",
        F.element_at(F.split(F.col("_metadata.file_path"), "/"), -1).alias("source_file"),
        F.col("_metadata.file_block_start").alias("block_start"),
    )
    return parse_lines(number_lines(text), columns=columns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _ingested_on_other_days(spark, registry, source: str, run_date: dt.date) -> dict[str, tuple]:
    rows = registry.to_spark(spark, filters=[("source", "=", source)]).where(
        F.col("run_date") != F.lit(run_date)
    )
    return {r["sha256"]: (r["file_name"], r["run_date"]) for r in rows.collect()}


def _resent_rows(spark, resent, earlier, hashes, table: str, context: RunContext) -> DataFrame:
    from schemas.quarantine import QUARANTINE

    rows = []
    for path in resent:
        first_name, first_date = earlier[hashes[path]]
        reason = f"re-sent file: same content as {first_name} ingested for {first_date}"
        rows.append(
            (table, context.run_date, "resent_file", reason, None, path.name, None, context.run_id)
        )
    return spark.createDataFrame(rows, QUARANTINE.schema)


def _registry_rows(spark, fresh, hashes, source: str, context: RunContext) -> DataFrame:
    from schemas.quarantine import INGESTED_FILES

    rows = [(source, hashes[p], p.name, context.run_date, context.run_id) for p in fresh]
    return spark.createDataFrame(rows, INGESTED_FILES.schema)


def main(argv: Sequence[str] | None = None) -> int:
    from lakehouse.jobs import job_main

    parser = argparse.ArgumentParser(prog="ingest_csv", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="CSV source: transactions or customers")
    return job_main(
        parser,
        argv,
        job="ingest_csv",
        body=lambda spark, cfg, args, context: run(spark, cfg, source=args.source, context=context),
    )


if __name__ == "__main__":
    raise SystemExit(main())
