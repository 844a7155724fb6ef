"""What the gates should let through, computed from the generator's files and manifest in
plain Python: the independent side of the silver tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator

import pyarrow.parquet as pq

# Defects that leave a line valid: a second copy of a row, or a row in a later drop.
HARMLESS = ("duplicate", "late_row")


def manifest(data) -> list[dict]:
    return pq.read_table(data.truth / "defects.parquet").to_pylist()


def drop_lines(data, source: str, day: dt.date) -> Iterator[tuple[str, int, str]]:
    """(path relative to the landing root, physical line number, line) of a day's drop; a
    re-sent copy of an earlier file is not ingested again, so it has no lines here."""
    resent = {d["file"] for d in manifest(data) if d["defect_kind"] == "resent_file"}
    for path in sorted((data.landing / source / day.isoformat()).glob("*.csv")):
        relative = path.relative_to(data.landing).as_posix()
        if relative in resent:
            continue
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        for number, line in enumerate(lines[1:], start=2):
            yield relative, number, line


def known_customers(data, days: Iterable[dt.date]) -> set[str]:
    """Customer ids with at least one line the gate lets through in the drops of ``days``."""
    broken = {(d["file"], d["line_no"]) for d in manifest(data) if d["defect_kind"] not in HARMLESS}
    return {
        line.split(",", 1)[0]
        for day in days
        for relative, number, line in drop_lines(data, "customers", day)
        if (relative, number) not in broken and line.split(",", 1)[0]
    }
