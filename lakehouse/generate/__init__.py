"""Deterministic, seeded data for a retail bank with an e-commerce arm.

    from lakehouse.generate import GeneratorSpec, generate
    data = generate(GeneratorSpec(customers=1000, days=30, seed=7),
                    landing=cfg.path("landing"), truth=cfg.path("truth"))

writes the daily CSV drops under ``landing`` and the oracle under ``truth``, and returns the
MariaDB tables in memory (``mysql_sink.load_mysql`` loads them; ``kafka_sink`` streams the
transactions). The same spec always gives byte-identical files.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter
from typing import Literal

import numpy as np
import pyarrow as pa

from lakehouse.generate._text import SECONDS_PER_DAY
from lakehouse.generate.accounts import bank_products_table
from lakehouse.generate.defects import SOURCES
from lakehouse.generate.drops import DropWriter, manifest_table, resend_files
from lakehouse.generate.spec import GeneratedData, GeneratorSpec, GeneratorSpecError
from lakehouse.generate.truth import TRUTH_FILES, truth_tables, write_truth

__all__ = [
    "SOURCES",
    "TRUTH_FILES",
    "GeneratedData",
    "GeneratorSpec",
    "GeneratorSpecError",
    "build",
    "generate",
]


def generate(
    spec: GeneratorSpec,
    *,
    landing: Path,
    truth: Path,
    progress: bool = False,
    if_exists: Literal["replace", "error"] = "replace",
) -> GeneratedData:
    """Generate ``spec`` into ``landing`` (CSV drops) and ``truth`` (Parquet oracle).

    ``if_exists="replace"`` removes this generator's earlier output first (only the
    ``transactions``, ``customers`` and ``accounts`` folders of ``landing`` and the truth
    files), so a re-run leaves exactly one data set; ``"error"`` refuses instead.
    """
    started = perf_counter()
    landing, truth = Path(landing), Path(truth)
    _prepare(landing, truth, if_exists=if_exists)
    with _progress_bar(enabled=progress, days=spec.days) as advance:
        from lakehouse.generate.orders import build_orders
        from lakehouse.generate.world import build_world

        world = build_world(spec)
        orders = build_orders(world)
        advance("world", 1)
        transactions, fraud, manifest, counts = _write_drops(world, landing, advance)
        defects = pa.concat_tables([manifest_table(manifest), orders.defects])
        tables = truth_tables(world, fraud=pa.concat_tables(fraud), defects=defects)
        truth_files = write_truth(tables, truth)
        advance("truth", 1)
    files = sorted(p for s in SOURCES for p in (landing / s.name).rglob("*.csv"))
    return GeneratedData(
        spec=spec,
        customers=world.customers.versions,
        accounts=world.accounts.versions,
        orders=orders.orders,
        order_items=orders.order_items,
        products=world.retail.products,
        suppliers=world.retail.suppliers,
        regions=world.retail.regions,
        bank_products=bank_products_table(),
        transactions=pa.concat_tables(transactions),
        landing=landing,
        truth=truth,
        files=tuple(files + truth_files),
        row_counts={**{f"csv.{k}": v for k, v in counts.items()}, "orders": orders.orders.num_rows},
        seconds=perf_counter() - started,
    )


def _write_drops(world, landing: Path, advance) -> tuple[list, list, list[dict], dict[str, int]]:
    """Generate and write every day's drops; returns the clean transaction tables, the fraud
    rows, the CSV defect manifest and the lines written per source."""
    from lakehouse.generate.transactions import day_transactions

    spec, start, end = world.spec, world.state.start, world.state.end
    writers = [
        DropWriter(layout, landing, spec.seed, spec.defect_rate, end, spec.max_rows_per_file)
        for layout in SOURCES
    ]
    versions = {"customers": world.customers.versions, "accounts": world.accounts.versions}
    version_day = {k: _day_of(v["updated_at"]) for k, v in versions.items()}
    counts = dict.fromkeys([s.name for s in SOURCES], 0)
    transactions, fraud = [], []
    for day in range(start, end + 1):
        day_txns = day_transactions(world, day)
        transactions.append(day_txns.table)
        fraud.append(day_txns.fraud)
        for writer in writers:
            name = writer.layout.name
            if name == "transactions":
                rows = day_txns.table
            else:
                # The first drop is the full extract; later drops carry that day's changes.
                due = version_day[name] <= day if day == start else version_day[name] == day
                rows = versions[name].filter(pa.array(due))
            counts[name] += writer.write_day(day, rows)
        advance("days", 1, rows=day_txns.table.num_rows)
    manifest = [row for w in writers for row in w.manifest]
    manifest += resend_files(
        writers,
        landing=landing,
        seed=spec.seed,
        rate=spec.defect_rate,
        first_day=start,
        last_day=end,
    )
    return transactions, fraud, manifest, counts


def build(spec: GeneratorSpec):
    """The in-memory world (hidden state, customers, accounts, schedules) without any files."""
    from lakehouse.generate.world import build_world

    return build_world(spec)


def _day_of(updated_at: pa.ChunkedArray) -> np.ndarray:
    return updated_at.cast(pa.int64()).to_numpy() // SECONDS_PER_DAY


def _prepare(landing: Path, truth: Path, *, if_exists: str) -> None:
    existing = [landing / s.name for s in SOURCES if (landing / s.name).exists()]
    existing += [truth / f"{n}.parquet" for n in TRUTH_FILES if (truth / f"{n}.parquet").exists()]
    if existing and if_exists == "error":
        raise GeneratorSpecError(
            f"{existing[0]} already exists; pass if_exists='replace' or choose empty directories"
        )
    for path in existing:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()


@contextmanager
def _progress_bar(*, enabled: bool, days: int):
    """Yields advance(task, steps, rows=0): a rich progress bar when enabled, else a no-op."""
    if not enabled:
        yield lambda *args, **kwargs: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rows]:>12,} transactions"),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as bar:
        totals = {
            "world": ("customers, accounts, orders", 1),
            "days": ("daily drops", days),
            "truth": ("truth", 1),
        }
        tasks = {
            k: bar.add_task(label, total=total, rows=0) for k, (label, total) in totals.items()
        }
        rows_done = dict.fromkeys(tasks, 0)

        def advance(name: str, steps: int, rows: int = 0) -> None:
            rows_done[name] += rows
            bar.update(tasks[name], advance=steps, rows=rows_done[name])

        yield advance
