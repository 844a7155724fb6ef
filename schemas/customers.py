"""Customers: the daily CSV extract of changed customers (bronze) and the SCD2 dimension
(silver), where every change of address, band or contact is a new version."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract, bronze_contract

SOURCE_COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "address",
    "city",
    "region",
    "signup_date",
    "income_band",
    "credit_score_band",
    "updated_at",
)

BRONZE_CUSTOMERS = bronze_contract(
    "bronze.customers",
    source_columns=SOURCE_COLUMNS,
    owner="customer-data",
    description="Changed customers as received in the daily CSV extract; jobs/ingest_csv.py",
)

# Attributes whose change makes a new version.
TRACKED = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "date_of_birth",
    "birth_year",
    "address",
    "city",
    "region",
    "signup_date",
    "income_band",
    "credit_score_band",
)

SILVER_CUSTOMERS = TableContract(
    name="silver.customers",
    version=1,
    owner="customer-data",
    description="Customer dimension, SCD2: one row per version with valid_from/valid_to/"
    "is_current; names, contacts, address and date of birth tokenized or masked",
    primary_key=("customer_id", "valid_from"),
    pii={
        "first_name": "tokenize",
        "last_name": "tokenize",
        "email": "tokenize",
        "phone": "mask",
        "date_of_birth": "tokenize",
        "address": "tokenize",
    },
    schema=T.StructType(
        [
            T.StructField("customer_id", T.StringType(), nullable=False),
            T.StructField("first_name", T.StringType(), nullable=True),
            T.StructField("last_name", T.StringType(), nullable=True),
            T.StructField("email", T.StringType(), nullable=True),
            T.StructField("phone", T.StringType(), nullable=True),
            T.StructField("date_of_birth", T.StringType(), nullable=True),
            # Age bands and models need the year, not the date of birth.
            T.StructField("birth_year", T.IntegerType(), nullable=True),
            T.StructField("address", T.StringType(), nullable=True),
            T.StructField("city", T.StringType(), nullable=True),
            T.StructField("region", T.StringType(), nullable=True),
            T.StructField("signup_date", T.DateType(), nullable=True),
            T.StructField("income_band", T.StringType(), nullable=True),
            T.StructField("credit_score_band", T.StringType(), nullable=True),
            T.StructField("valid_from", T.TimestampType(), nullable=False),
            T.StructField("valid_to", T.TimestampType(), nullable=True),
            T.StructField("is_current", T.BooleanType(), nullable=False),
        ]
    ),
)
