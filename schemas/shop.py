"""The e-commerce arm's OLTP tables (the MySQL source), as pulled into bronze: one contract
per table, each row a version pulled by the updated_at watermark, plus ingest metadata."""

from pyspark.sql import types as T

from lakehouse.contracts import TableContract

_S, _D, _TS, _I = T.StringType(), T.DateType(), T.TimestampType(), T.IntegerType()
_META = [
    T.StructField("_run_id", _S, nullable=False),
    T.StructField("_run_date", _D, nullable=False),
]


def _pulled(
    table: str, key: tuple[str, ...], columns: list[tuple[str, T.DataType]]
) -> TableContract:
    fields = [T.StructField(name, dtype, nullable=name not in key) for name, dtype in columns]
    return TableContract(
        name=f"bronze.shop_{table}",
        owner="retail-data",
        description=f"Rows of shop.{table} changed since the last pull; jobs/ingest_mysql.py",
        partition_by=("_run_date",),
        schema=T.StructType([*fields, T.StructField("updated_at", _TS, nullable=False), *_META]),
        properties={"lakehouse.sourceTable": table, "lakehouse.sourceKey": ",".join(key)},
    )


SHOP_TABLES: dict[str, TableContract] = {
    "orders": _pulled(
        "orders",
        ("order_id",),
        [
            ("order_id", _S),
            ("customer_id", _S),
            ("order_ts", _TS),
            ("status", _S),
            ("channel", _S),
            ("currency", _S),
            ("total_amount", T.DecimalType(14, 2)),
        ],
    ),
    "order_items": _pulled(
        "order_items",
        ("order_id", "line_no"),
        [
            ("order_id", _S),
            ("line_no", _I),
            ("product_id", _S),
            ("quantity", _I),
            ("unit_price", T.DecimalType(12, 2)),
        ],
    ),
    "products": _pulled(
        "products",
        ("product_id",),
        [
            ("product_id", _S),
            ("name", _S),
            ("category", _S),
            ("supplier_id", _S),
            ("unit_price", T.DecimalType(12, 2)),
        ],
    ),
    "accounts": _pulled(
        "accounts",
        ("account_id",),
        [
            ("account_id", _S),
            ("customer_id", _S),
            ("product_code", _S),
            ("opened_date", _D),
            ("status", _S),
        ],
    ),
}

WATERMARKS = TableContract(
    name="ops.watermarks",
    owner="data-platform",
    description="Incremental pull windows per source table and run date: (low, high] on updated_at",
    primary_key=("source_table", "run_date"),
    schema=T.StructType(
        [
            T.StructField("source_table", _S, nullable=False),
            T.StructField("run_date", _D, nullable=False),
            T.StructField("low", _TS, nullable=True),
            T.StructField("high", _TS, nullable=False),
            T.StructField("rows", T.LongType(), nullable=False),
            T.StructField("run_id", _S, nullable=False),
        ]
    ),
)


def _silver(
    table: str,
    *,
    description: str,
    derived: tuple[T.StructField, ...] = (),
    partition_by: tuple[str, ...] = (),
    pii: dict | None = None,
) -> TableContract:
    """The silver table of a shop table: the pulled columns (latest version per key) plus
    ``derived`` ones, keyed like the source."""
    pulled = SHOP_TABLES[table]
    fields = [f for f in pulled.schema.fields if not f.name.startswith("_")]
    return TableContract(
        name=f"silver.{table}",
        owner=pulled.owner,
        description=description,
        primary_key=tuple(pulled.properties["lakehouse.sourceKey"].split(",")),
        partition_by=partition_by,
        pii=pii or {},
        schema=T.StructType([*fields, *derived, T.StructField("_run_id", _S, nullable=False)]),
    )


SILVER_SHOP: dict[str, TableContract] = {
    "orders": _silver(
        "orders",
        description="Orders, latest status per order (newest updated_at wins), by order date",
        derived=(T.StructField("order_date", _D, nullable=False),),
        partition_by=("order_date",),
    ),
    "order_items": _silver(
        "order_items", description="Order lines, latest version per (order_id, line_no)"
    ),
    "products": _silver("products", description="Product catalogue, latest version per product"),
    "accounts": _silver(
        "accounts",
        description="Bank accounts held by customers, latest status; account numbers tokenized",
        pii={"account_id": "tokenize"},
    ),
}
