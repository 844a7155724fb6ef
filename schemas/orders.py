"""silver.orders: the latest version of each retail order."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract

ORDERS = TableContract(
    name="silver.orders",
    version=1,
    owner="retail-data",
    description="Latest version of each order, one row per order_id, partitioned by order date",
    primary_key=("order_id",),
    partition_by=("order_date",),
    schema=T.StructType(
        [
            T.StructField("order_id", T.StringType(), nullable=False),
            T.StructField("customer_id", T.LongType(), nullable=False),
            T.StructField("order_ts", T.TimestampType(), nullable=False),
            T.StructField("order_date", T.DateType(), nullable=False),
            T.StructField("status", T.StringType(), nullable=False),
            T.StructField("channel", T.StringType(), nullable=True),
            T.StructField("currency", T.StringType(), nullable=False),
            T.StructField("total_amount", T.DecimalType(18, 2), nullable=False),
            T.StructField("item_count", T.IntegerType(), nullable=False),
            T.StructField("updated_ts", T.TimestampType(), nullable=False),
        ]
    ),
)
