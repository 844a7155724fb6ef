"""The Delta table layer: Spark writes and reads the Parquet files, delta-rs commits the log.

wh = Warehouse.from_config(cfg)
txns = wh.create(SILVER_TRANSACTIONS)
txns.write(df, mode="replace_where", predicate="txn_date = '2024-05-01'")
txns.merge(changes, delete_if="op = 'D'")
txns.to_spark(spark, version=3, filters=[("txn_date", ">=", "2024-05-01")])
"""

from lakehouse.delta._filters import Filter
from lakehouse.delta._log import ActiveFile
from lakehouse.delta._merge import MergeResult
from lakehouse.delta.table import AppTransaction, Table, WriteMode, WriteResult
from lakehouse.delta.warehouse import TableInfo, Warehouse

__all__ = [
    "ActiveFile",
    "AppTransaction",
    "Filter",
    "MergeResult",
    "Table",
    "TableInfo",
    "Warehouse",
    "WriteMode",
    "WriteResult",
]
