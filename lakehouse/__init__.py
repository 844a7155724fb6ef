"""lakehouse: the shared library of the Spark batch + streaming lakehouse.

The public surface below is imported on first use (PEP 562), so importing one module of the
package (``lakehouse.errors``, which the Kafka source's Python processes need) does not import
the rest: all of it (Delta, pydantic, pandas through pyarrow.dataset) took ~0.45 s, paid again
by the source process every streaming query starts and by each Python worker.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AppTransaction": "lakehouse.delta",
    "Config": "lakehouse.config",
    "LakehouseError": "lakehouse.errors",
    "Table": "lakehouse.delta",
    "TableContract": "lakehouse.contracts",
    "Warehouse": "lakehouse.delta",
    "WriteResult": "lakehouse.delta",
    "build_spark": "lakehouse.session",
    "load_config": "lakehouse.config",
}

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

if TYPE_CHECKING:
    from lakehouse.config import Config, load_config
    from lakehouse.contracts import TableContract
    from lakehouse.delta import AppTransaction, Table, Warehouse, WriteResult
    from lakehouse.errors import LakehouseError
    from lakehouse.session import build_spark


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lakehouse' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
