"""ops.quarantine: every row a job refused, with the rule and the reason, never dropped."""

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
