"""What `lakehouse features list` shows: every registered view and how fresh its tables are.
Read with delta-rs, without Spark."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table as RichTable

from feature_store.core import FEATURE_DATE, FeatureView
from feature_store.registry import Registry
from lakehouse.delta import Warehouse
from lakehouse.errors import TableNotFoundError

__all__ = ["print_views", "view_catalog"]


def view_catalog(registry: Registry, warehouse: Warehouse) -> list[dict]:
    """One dict per view: name, kind, entity, features, TTL, source, last materialized date."""
    rows = []
    for view in registry.views.values():
        stored = isinstance(view, FeatureView)
        rows.append(
            {
                "name": view.name,
                "kind": view.kind if stored else "on_demand",
                "entity": view.entity.name if stored else view.sources[0].entity.name,
                "features": list(view.feature_names),
                "ttl_hours": view.ttl.total_seconds() / 3600 if stored else None,
                "source": view.source.name
                if stored
                else ", ".join(["request", *(s.name for s in view.sources)]),
                "owner": view.owner,
                "last_materialized": _last_date(warehouse, view) if stored else None,
            }
        )
    return rows


def _last_date(warehouse: Warehouse, view: FeatureView) -> dt.date | None:
    try:
        delta = warehouse.table(view.offline_table).delta()
    except TableNotFoundError:
        return None
    actions = pa.table(delta.get_add_actions(flatten=True))
    column = f"partition.{FEATURE_DATE}"
    if not actions.num_rows or column not in actions.column_names:
        return None
    latest = pc.max(actions.column(column)).as_py()
    return latest if isinstance(latest, dt.date) else dt.date.fromisoformat(str(latest))


def print_views(rows: list[dict], console: Console) -> None:
    view = RichTable(title="feature views (feature_store/repo.py; definitions: docs/features.md)")
    view.add_column("view", no_wrap=True)
    for column in ("kind", "entity", "features", "TTL", "source", "last materialized"):
        view.add_column(column)
    for r in rows:
        view.add_row(
            r["name"],
            r["kind"].replace("daily_snapshot", "daily").replace("_", " "),
            r["entity"],
            f"{len(r['features'])}: {', '.join(r['features'][:2])}"
            + (", ..." if len(r["features"]) > 2 else ""),
            "-" if r["ttl_hours"] is None else _hours(r["ttl_hours"]),
            r["source"],
            "-" if r["kind"] == "on_demand" else str(r["last_materialized"] or "never"),
        )
    console.print(view)
    console.print("every feature: lakehouse features list --json", style="dim")


def _hours(hours: float) -> str:
    return f"{hours / 24:g} d" if hours >= 24 and hours % 24 == 0 else f"{hours:g} h"
