"""ops tables: every row a job refused (with the rule and the reason, never dropped), every file
ingested, every gate run's results, and every job run."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract

QUARANTINE = TableContract(
    name="ops.quarantine",
    version=1,
    owner="data-platform",
    description="Rows refused by ingest and quality gates, with rule, reason and the raw values",
    partition_by=("table_name", "run_date"),
    schema=T.StructType(
        [
            T.StructField("table_name", T.StringType(), nullable=False),
            T.StructField("run_date", T.DateType(), nullable=False),
            T.StructField("rule", T.StringType(), nullable=False),
            T.StructField("reason", T.StringType(), nullable=False),
            T.StructField("raw_record", T.StringType(), nullable=True),
            T.StructField("source_file", T.StringType(), nullable=True),
            T.StructField("line_number", T.LongType(), nullable=True),
            T.StructField("run_id", T.StringType(), nullable=False),
        ]
    ),
)

INGESTED_FILES = TableContract(
    name="ops.ingested_files",
    version=1,
    owner="data-platform",
    description="Every landed file ingested, by content hash, so a re-sent file is recognised",
    primary_key=("source", "sha256"),
    partition_by=("source",),
    schema=T.StructType(
        [
            T.StructField("source", T.StringType(), nullable=False),
            T.StructField("sha256", T.StringType(), nullable=False),
            T.StructField("file_name", T.StringType(), nullable=False),
            T.StructField("run_date", T.DateType(), nullable=False),
            T.StructField("run_id", T.StringType(), nullable=False),
        ]
    ),
)

QUALITY_RESULTS = TableContract(
    name="ops.quality_results",
    version=1,
    owner="data-platform",
    description="Every quality gate run: per rule, rows checked and failed, and whether the run "
    "passed its failure-rate limit; written before a failing gate stops the run",
    primary_key=("table_name", "run_date", "rule"),
    partition_by=("table_name", "run_date"),
    schema=T.StructType(
        [
            T.StructField("table_name", T.StringType(), nullable=False),
            T.StructField("run_date", T.DateType(), nullable=False),
            T.StructField("rule", T.StringType(), nullable=False),
            T.StructField("check", T.StringType(), nullable=False),
            T.StructField("column", T.StringType(), nullable=False),
            T.StructField("reason", T.StringType(), nullable=False),
            T.StructField("checked_rows", T.LongType(), nullable=False),
            T.StructField("failed_rows", T.LongType(), nullable=False),
            # The run as a whole: rows failing a rule that counts toward the suite's limit.
            T.StructField("run_failed_rows", T.LongType(), nullable=False),
            T.StructField("max_failure_rate", T.DoubleType(), nullable=False),
            T.StructField("gate_passed", T.BooleanType(), nullable=False),
            T.StructField("confirmed_by_gx", T.BooleanType(), nullable=False),
            T.StructField("run_id", T.StringType(), nullable=False),
        ]
    ),
)

JOB_RUNS = TableContract(
    name="ops.job_runs",
    version=1,
    owner="data-platform",
    description="Every job run: job, logical date, start and end, status (succeeded, failed, "
    "skipped: no model to use), rows in / out / quarantined, the Delta versions it wrote and "
    "the error; appended by each job's entry point and by the in-process daily batch",
    primary_key=("run_id",),
    schema=T.StructType(
        [
            T.StructField("run_id", T.StringType(), nullable=False),
            T.StructField("job", T.StringType(), nullable=False),
            T.StructField("run_date", T.DateType(), nullable=False),
            T.StructField("env", T.StringType(), nullable=False),
            T.StructField("status", T.StringType(), nullable=False),
            T.StructField("started_at", T.TimestampType(), nullable=False),
            T.StructField("ended_at", T.TimestampType(), nullable=False),
            T.StructField("seconds", T.DoubleType(), nullable=False),
            T.StructField("rows_in", T.LongType(), nullable=True),
            T.StructField("rows_out", T.LongType(), nullable=True),
            T.StructField("rows_quarantined", T.LongType(), nullable=True),
            T.StructField(
                "tables_written", T.MapType(T.StringType(), T.LongType()), nullable=True
            ),  # table -> the Delta version the run committed
            T.StructField("summary", T.StringType(), nullable=True),
            T.StructField("error", T.StringType(), nullable=True),
            T.StructField("host", T.StringType(), nullable=False),
            T.StructField("pid", T.IntegerType(), nullable=False),
            T.StructField("spark_app_id", T.StringType(), nullable=True),
        ]
    ),
)
