"""TPC-H data from DuckDB's tpch extension, delivered as CSV drops.

    drops = write_tpch_drops(cfg.path("landing"), scale_factor=0.1, run_date=date(2024, 5, 1))

writes ``<landing>/tpch_<table>/<run date>/<table>.csv`` (header, RFC 4180 quoting, ISO dates,
decimals as printed by DuckDB) plus a ``tpch.json`` manifest saying which scale factor the drop
holds, so a re-run for the same scale factor reuses the files instead of generating again.

The extension comes from the PyPI wheel ``duckdb-extension-tpch`` and is loaded from that
wheel's own file: ``INSTALL tpch`` would try to download it, and this machine has no such
network access.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lakehouse.errors import SourceUnavailableError
from lakehouse.generate.spec import GeneratorSpecError

__all__ = ["TPCH_TABLES", "TpchDrop", "connect", "drop_dir", "extension_path", "write_tpch_drops"]

TPCH_TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")
MANIFEST = "tpch.json"


@dataclass(frozen=True)
class TpchDrop:
    table: str
    path: Path
    rows: int
    scale_factor: float
    generated: bool  # False: an existing drop of the same scale factor was reused


def extension_path() -> Path:
    """The tpch extension file shipped in the ``duckdb-extension-tpch`` wheel for the
    installed DuckDB version."""
    import duckdb

    hint = f"pip install 'duckdb-extension-tpch=={duckdb.__version__}' (it ships the file)"
    try:
        import duckdb_extension_tpch
    except ImportError:
        raise SourceUnavailableError(f"DuckDB's tpch extension is not installed: {hint}") from None
    shipped = Path(duckdb_extension_tpch.__file__).parent / "extensions"
    path = shipped / f"v{duckdb.__version__}" / "tpch.duckdb_extension"
    if not path.is_file():
        found = sorted(p.name for p in shipped.glob("v*")) if shipped.is_dir() else []
        raise SourceUnavailableError(
            f"no tpch extension for DuckDB {duckdb.__version__} in {shipped} (found {found}); "
            f"{hint}"
        )
    return path


def connect(*, scale_factor: float | None = None):
    """An in-memory DuckDB with the tpch extension loaded (and, given ``scale_factor``, the 8
    tables generated). Extensions are never fetched over the network."""
    import duckdb

    con = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    con.execute(f"LOAD '{extension_path()}'")
    if scale_factor is not None:
        _check_scale_factor(scale_factor)
        con.execute("CALL dbgen(sf = ?)", [scale_factor])
    return con


def drop_dir(landing: Path, table: str, run_date: dt.date) -> Path:
    """Where a table's drop lives, laid out like every CSV drop: <source>/<date>/."""
    return Path(landing) / f"tpch_{table}" / run_date.isoformat()


def write_tpch_drops(
    landing: Path,
    *,
    scale_factor: float,
    run_date: dt.date,
    tables: Sequence[str] = TPCH_TABLES,
    reuse: bool = True,
) -> list[TpchDrop]:
    """Write the CSV drop of each of ``tables`` for ``run_date``. With ``reuse``, drops that
    already hold this scale factor are kept; otherwise the day's drop is replaced whole."""
    _check_scale_factor(scale_factor)
    unknown = sorted(set(tables) - set(TPCH_TABLES))
    if unknown:
        raise GeneratorSpecError(f"unknown TPC-H table(s) {unknown}; known: {TPCH_TABLES}")
    existing = {t: _existing(landing, t, run_date, scale_factor) for t in tables}
    missing = [t for t in tables if not (reuse and existing[t])]
    con = connect(scale_factor=scale_factor) if missing else None
    try:
        return [
            existing[t]
            if t not in missing
            else _write_drop(con, landing, t, run_date, scale_factor)
            for t in tables
        ]
    finally:
        if con is not None:
            con.close()


def _write_drop(con, landing: Path, table: str, run_date: dt.date, sf: float) -> TpchDrop:
    drop = drop_dir(landing, table, run_date)
    drop.mkdir(parents=True, exist_ok=True)
    for stale in [*drop.glob("*.csv"), drop / MANIFEST]:
        stale.unlink(missing_ok=True)
    target = drop / f"{table}.csv"
    partial = drop / f".{table}.csv.partial"  # not *.csv: an ingest never sees half a file
    # Table names come from TPCH_TABLES (checked above), never from user text.
    con.execute(f"COPY {table} TO '{partial}' (FORMAT csv, HEADER true)")
    os.replace(partial, target)
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    manifest = {"table": table, "scale_factor": sf, "rows": rows, "file": target.name}
    (drop / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return TpchDrop(table, target, rows, sf, generated=True)


def _existing(landing: Path, table: str, run_date: dt.date, sf: float) -> TpchDrop | None:
    drop = drop_dir(landing, table, run_date)
    try:
        manifest = json.loads((drop / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    path = drop / str(manifest.get("file"))
    if manifest.get("scale_factor") != sf or not path.is_file():
        return None
    return TpchDrop(table, path, int(manifest["rows"]), sf, generated=False)


def _check_scale_factor(scale_factor: float) -> None:
    if not 0 < scale_factor <= 1000:
        raise GeneratorSpecError(
            f"TPC-H scale factor {scale_factor} is out of range; use a number in (0, 1000], "
            "e.g. 0.01 for tests, 1 for ~6M lineitem rows"
        )
