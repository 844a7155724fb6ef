"""lakehouse: the shared library of the Spark batch + streaming lakehouse."""

from lakehouse.config import Config, load_config
from lakehouse.contracts import TableContract
from lakehouse.delta import AppTransaction, Table, Warehouse, WriteResult
from lakehouse.errors import LakehouseError
from lakehouse.session import build_spark

__version__ = "0.1.0"

__all__ = [
    "AppTransaction",
    "Config",
    "LakehouseError",
    "Table",
    "TableContract",
    "Warehouse",
    "WriteResult",
    "build_spark",
    "load_config",
]
