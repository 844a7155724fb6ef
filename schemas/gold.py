"""Gold: the aggregates the BI layer (Tableau) reads, each partitioned by date; a run replaces
the partitions its run date owns (lakehouse.gold.owned_dates). Built by jobs/build_gold.py."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract

_S, _D, _L = T.StringType(), T.DateType(), T.LongType()
_MONEY = T.DecimalType(18, 2)


def _fields(*spec: tuple[str, T.DataType]) -> T.StructType:
    return T.StructType([T.StructField(name, dtype, nullable=False) for name, dtype in spec])


DAILY_SALES = TableContract(
    name="gold.daily_sales",
    owner="retail-analytics",
    description="Shop sales per order date, customer region (as of the order) and product "
    "category, in the order currency; cancelled orders excluded; the last 7 order dates "
    "restated each run",
    partition_by=("order_date",),
    primary_key=("order_date", "region", "category", "currency"),
    schema=_fields(
        ("order_date", _D),
        ("region", _S),
        ("category", _S),
        ("currency", _S),
        ("orders", _L),
        ("units", _L),
        ("revenue", _MONEY),
        ("customers", _L),
    ),
)

CUSTOMER_MONTHLY = TableContract(
    name="gold.customer_monthly",
    owner="payments-analytics",
    description="Per customer and calendar month (to date): card and account cash flow "
    "(inflow, outflow, net), transactions, active days and the top spending category",
    partition_by=("month",),
    primary_key=("month", "customer_id"),
    schema=T.StructType(
        [
            *_fields(
                ("month", _D),
                ("customer_id", _S),
                ("transactions", _L),
                ("inflow", _MONEY),
                ("outflow", _MONEY),
                ("net", _MONEY),
                ("active_days", _L),
            ).fields,
            T.StructField("top_category", _S, nullable=True),
        ]
    ),
)

ORDER_FUNNEL = TableContract(
    name="gold.order_funnel",
    owner="retail-analytics",
    description="Orders per order date and channel and how many reached each stage so far "
    "(cancelled, shipped, delivered, returned); the last 30 order dates restated each run",
    partition_by=("order_date",),
    primary_key=("order_date", "channel"),
    schema=_fields(
        ("order_date", _D),
        ("channel", _S),
        ("placed", _L),
        ("cancelled", _L),
        ("shipped", _L),
        ("delivered", _L),
        ("returned", _L),
    ),
)

TOP_CUSTOMERS = TableContract(
    name="gold.top_customers",
    owner="payments-analytics",
    description="For each snapshot date: the customers with the highest card and account "
    "spend over the 30 days up to it, ranked, with their shop orders and the region and "
    "income band they had that day",
    partition_by=("as_of_date",),
    primary_key=("as_of_date", "customer_id"),
    schema=T.StructType(
        [
            *_fields(
                ("as_of_date", _D),
                ("rank", T.IntegerType()),
                ("customer_id", _S),
                ("spend_30d", _MONEY),
                ("transactions_30d", _L),
                ("orders_30d", _L),
            ).fields,
            T.StructField("region", _S, nullable=True),
            T.StructField("income_band", _S, nullable=True),
        ]
    ),
)

GOLD_TABLES = {c.entity: c for c in (DAILY_SALES, CUSTOMER_MONTHLY, ORDER_FUNNEL, TOP_CUSTOMERS)}
