"""Daily CSV drops: ``<landing>/<source>/<YYYY-MM-DD>/<source>_<YYYYMMDD>[_partN].csv``.

Each day's rows are formatted column-wise with pyarrow; only defective rows (about
``defect_rate`` of them) are rebuilt one by one. Late rows travel to the drop two days later,
and after the last day a few files are sent again, byte for byte, in a later drop.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate._text import Stream, csv_lines, dates_to_text, rng_for, ts_to_text
from lakehouse.generate.defects import (
    MANIFEST_SCHEMA,
    SOURCES,
    SourceLayout,
    choose_defects,
    mutate,
    quote,
)
from lakehouse.generate.txn_parts import day_date

LATE_BY_DAYS = 2


def text_columns(table: pa.Table, columns: tuple[str, ...]) -> list[pa.Array]:
    """Every column as text the way the source system prints it (ISO dates, Z timestamps)."""
    out = []
    for name in columns:
        col = (
            table[name].combine_chunks()
            if isinstance(table[name], pa.ChunkedArray)
            else table[name]
        )
        if pa.types.is_date32(col.type):
            col = dates_to_text(pc.cast(col, pa.int32()).to_numpy(zero_copy_only=False))
        elif pa.types.is_timestamp(col.type):
            col = ts_to_text(pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False))
        else:
            col = pc.cast(col, pa.string())
        out.append(col)
    return out


@dataclass
class DropWriter:
    """Writes one source's daily files and records every defect it injects."""

    layout: SourceLayout
    landing: Path
    seed: int
    rate: float
    last_day: int
    max_rows: int
    late: dict[int, list[tuple[str, str]]] = field(default_factory=lambda: defaultdict(list))
    manifest: list[dict] = field(default_factory=list)
    files: dict[int, list[Path]] = field(default_factory=lambda: defaultdict(list))

    @property
    def source_index(self) -> int:
        return [s.name for s in SOURCES].index(self.layout.name)

    def write_day(self, day: int, table: pa.Table) -> int:
        """Write the drop for ``day``; returns the number of data lines written."""
        rng = rng_for(self.seed, Stream.DEFECTS, self.source_index, day)
        columns = text_columns(table, self.layout.columns)
        lines = csv_lines(columns) if table.num_rows else np.array([], dtype=object)
        keys = columns[self.layout.columns.index(self.layout.key)].to_numpy(zero_copy_only=False)
        hit, kinds = choose_defects(rng, table.num_rows, self.rate, self.layout)
        # Rows of the last two days cannot arrive two days late inside the window.
        kinds = np.where(
            (kinds == "late_row") & (day + LATE_BY_DAYS > self.last_day), "duplicate", kinds
        )
        meta: dict[int, tuple[str, str | None]] = {}
        rows = [c.take(pa.array(hit)).to_pylist() for c in columns] if hit.size else []
        for j, (row, kind) in enumerate(zip(hit, kinds, strict=True)):
            if kind in ("duplicate", "late_row"):
                continue
            fields = ["" if r[j] is None else r[j] for r in rows]
            lines[row], column = mutate(self.layout, fields, str(kind), rng)
            meta[int(row)] = (str(kind), column)
        late = hit[kinds == "late_row"]
        for row in late:
            self.late[day + LATE_BY_DAYS].append((lines[row], keys[row]))
        out_lines, out_meta = self._assemble(
            lines, keys, hit[kinds == "duplicate"], late, meta, day
        )
        self._write(day, out_lines, out_meta)
        return len(out_lines)

    def _assemble(self, lines, keys, duplicates, late, meta, day):
        """Output lines in order, plus (output position, key, kind, column) of each defect."""
        kept = np.flatnonzero(~np.isin(np.arange(len(lines)), late))
        # Position key: a duplicate sits right after its original.
        position = np.concatenate([kept, duplicates + 0.5])
        source_row = np.concatenate([kept, duplicates]).astype(np.int64)
        order = np.argsort(position, kind="stable")
        where = np.empty(order.size, dtype=np.int64)
        where[order] = np.arange(order.size)  # output position of each entry
        out_lines = list(lines[source_row[order]])
        defects = [
            (int(where[np.searchsorted(kept, row)]), keys[row], kind, column)
            for row, (kind, column) in meta.items()
        ]
        defects += [
            (int(where[kept.size + j]), keys[row], "duplicate", None)
            for j, row in enumerate(duplicates)
        ]
        for line, key in self.late.pop(day, []):
            defects.append((len(out_lines), key, "late_row", None))
            out_lines.append(line)
        return out_lines, sorted(defects)

    def _write(self, day: int, lines: list[str], defects: list) -> None:
        name = self.layout.name
        stamp = day_date(day)
        folder = self.landing / name / stamp.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        header = ",".join(quote(c) for c in self.layout.columns)
        parts = max(1, -(-len(lines) // self.max_rows))
        for part in range(parts):
            suffix = f"_part{part + 1}" if parts > 1 else ""
            path = folder / f"{name}_{stamp:%Y%m%d}{suffix}.csv"
            chunk = lines[part * self.max_rows : (part + 1) * self.max_rows]
            body = "\n".join([header, *chunk]) + "\n"
            path.write_bytes(body.encode("utf-8"))
            self.files[day].append(path)
        for position, key, kind, column in defects:
            part, offset = divmod(position, self.max_rows)
            suffix = f"_part{part + 1}" if parts > 1 else ""
            relative = f"{name}/{stamp.isoformat()}/{name}_{stamp:%Y%m%d}{suffix}.csv"
            self.manifest.append(
                {
                    "source": name,
                    "file": relative,
                    "line_no": offset + 2,
                    "row_key": key,
                    "defect_kind": kind,
                    "column": column,
                }
            )


def resend_files(
    writers: list[DropWriter],
    *,
    landing: Path,
    seed: int,
    rate: float,
    first_day: int,
    last_day: int,
) -> list[dict]:
    """Copy a few files, byte for byte, into a later drop of the same source (same file name)."""
    candidates = [
        (w.layout.name, d, p)
        for w in writers
        for d in sorted(w.files)
        if d < last_day
        for p in w.files[d]
    ]
    if rate <= 0 or not candidates:
        return []
    rng = rng_for(seed, Stream.RESENT)
    count = max(1, round(rate * len(candidates)))
    manifest = []
    for pick in sorted(
        rng.choice(len(candidates), size=min(count, len(candidates)), replace=False)
    ):
        source, day, path = candidates[int(pick)]
        later = min(last_day, day + int(rng.integers(1, 4)))
        target = landing / source / day_date(later).isoformat() / path.name
        target.write_bytes(path.read_bytes())
        manifest.append(
            {
                "source": source,
                "file": target.relative_to(landing).as_posix(),
                "line_no": None,
                "row_key": None,
                "defect_kind": "resent_file",
                "column": None,
            }
        )
    return manifest


def manifest_table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=MANIFEST_SCHEMA)
