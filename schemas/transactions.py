"""Card and account transactions: the daily CSV drop (bronze) and the typed table (silver)."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract, bronze_contract

# The drop's columns, in file order, as the core-banking export writes them.
SOURCE_COLUMNS = (
    "txn_id",
    "customer_id",
    "account_id",
    "txn_ts",
    "amount",
    "currency",
    "merchant_raw",
    "category",
    "mode",
    "location",
    "remarks",
)

BRONZE_TRANSACTIONS = bronze_contract(
    "bronze.transactions",
    source_columns=SOURCE_COLUMNS,
    owner="payments-data",
    description="Transactions as received in the daily CSV drops; written by jobs/ingest_csv.py",
)

SILVER_TRANSACTIONS = TableContract(
    name="silver.transactions",
    version=1,
    owner="payments-data",
    description="Typed, validated, deduplicated transactions with standardized merchants; "
    "account numbers tokenized",
    primary_key=("txn_id",),
    partition_by=("txn_date",),
    pii={"account_id": "tokenize"},
    schema=T.StructType(
        [
            T.StructField("txn_id", T.StringType(), nullable=False),
            T.StructField("customer_id", T.StringType(), nullable=False),
            T.StructField("account_id", T.StringType(), nullable=True),
            T.StructField("txn_ts", T.TimestampType(), nullable=False),
            T.StructField("txn_date", T.DateType(), nullable=False),
            T.StructField("amount", T.DecimalType(18, 2), nullable=False),
            T.StructField("currency", T.StringType(), nullable=False),
            T.StructField("merchant_raw", T.StringType(), nullable=True),
            T.StructField("merchant", T.StringType(), nullable=True),
            T.StructField("merchant_category", T.StringType(), nullable=True),
            T.StructField("category", T.StringType(), nullable=True),
            T.StructField("mode", T.StringType(), nullable=True),
            T.StructField("location", T.StringType(), nullable=True),
            T.StructField("remarks", T.StringType(), nullable=True),
            T.StructField("_run_id", T.StringType(), nullable=False),
        ]
    ),
)
