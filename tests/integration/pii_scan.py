"""Search data files and text for raw PII values, with DuckDB as an independent reader.

A value is found two ways, both case-insensitive:

- as a field: each text is split at separators (``, " ' : ; = | / \\ { } [ ]``, tab, line end)
  and a field equal to a raw value is a hit. Every value is searched this way, short first names
  included: a CSV line, a JSON record, ``key=value`` log text or a partition path all put
  separators around a value.
- as a substring: values distinctive enough to be found inside free text (6+ characters with a
  digit, ``@`` or a space: emails, phones, addresses, account numbers, dates of birth, full
  names) are searched inside every text with one RE2 alternation of all of them, which RE2 runs
  as an automaton: one pass over each text whatever the number of values (Aho-Corasick style).

A raw value that is also a public value of the generated data (a first name that is a city, a
surname inside a merchant's name) is left out, since a match could not tell a leak from data;
``PiiScanner.excluded`` lists them.

Parquet files are read with every column that is not a number or a boolean cast to text (dates,
timestamps, nested values too), plus the file's path relative to the scanned root.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

__all__ = ["Hit", "PiiScanner", "datasets", "public_values", "raw_pii_values", "text_files"]

SEPARATORS = r"""[,"':;=|/\\{}\[\]\t\r\n]"""
SQL_SEPARATORS = SEPARATORS.replace("'", "''")  # inside a SQL string literal
SUBSTRING_MIN_LENGTH = 6
PATTERN_CHUNK = 1000  # values per RE2 alternation
NOT_TEXT = re.compile(
    r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|U\w*INT|FLOAT|DOUBLE|DECIMAL.*)$"
)


@dataclass(frozen=True)
class Hit:
    source: str  # the table, dataset or file
    column: str  # the column (or ``line``)
    value: str  # the raw value found
    what: str  # whose value it is, e.g. "email of C00000001"
    text: str  # the text that holds it, shortened

    def __str__(self) -> str:
        return f"{self.source} [{self.column}]: {self.what} {self.value!r} in {self.text!r}"


# -- what to look for -----------------------------------------------------------------------------
def raw_pii_values(data) -> dict[str, str]:
    """Every raw PII value the generator produced (``GeneratedData``), with whose it is: names,
    full names, emails, phones, addresses, dates of birth as text, account numbers."""
    values: dict[str, str] = {}
    customers = data.customers.to_pylist()
    for row in customers:
        who = row["customer_id"]
        for column in ("first_name", "last_name", "email", "phone", "address"):
            if row[column]:
                values.setdefault(row[column], f"{column} of {who}")
        if row["first_name"] and row["last_name"]:
            values.setdefault(f"{row['first_name']} {row['last_name']}", f"full name of {who}")
        if row["date_of_birth"]:
            born = row["date_of_birth"]
            values.setdefault(born.isoformat(), f"date_of_birth of {who}")
            values.setdefault(born.strftime("%d/%m/%Y"), f"date_of_birth (d/m/y) of {who}")
    for table in (data.accounts, data.transactions):
        for account, who in zip(
            table.column("account_id").to_pylist(),
            table.column("customer_id").to_pylist(),
            strict=True,
        ):
            if account:
                values.setdefault(account, f"account number of {who}")
    return values


def public_values(data, *, truth: Path | None = None) -> set[str]:
    """Texts of the generated data that are not PII: cities, regions, merchants, categories,
    remarks, products, ids, dates... A raw value equal to one of them proves nothing."""
    pii_columns = {"first_name", "last_name", "email", "phone", "address", "date_of_birth"}
    tables = [
        data.customers.drop_columns([c for c in data.customers.column_names if c in pii_columns]),
        data.transactions.drop_columns(["account_id"]),
        data.accounts.drop_columns(["account_id"]),
        data.products,
        data.suppliers,
        data.regions,
        data.bank_products,
    ]
    if truth is not None and (truth / "merchants.parquet").exists():
        import pyarrow.parquet as pq

        tables.append(pq.read_table(truth / "merchants.parquet"))
    public: set[str] = set()
    for table in tables:
        for column in table.columns:
            if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
                continue
            public |= {str(v) for v in column.to_pylist() if v is not None}
    return public


# -- where to look --------------------------------------------------------------------------------
def datasets(root: Path, *, skip: Iterable[Path] = ()) -> dict[str, list[Path]]:
    """Every Parquet data set under ``root``, found on disk: each directory holding a
    ``_delta_log`` is a table (all its Parquet files: every version, and files no version
    committed), and Parquet files elsewhere group by their directory above partition folders.
    Directories in ``skip`` (and everything below them) are left out."""
    skipped = [p.resolve() for p in skip]
    tables = sorted(p.parent for p in root.rglob("_delta_log") if p.is_dir())
    found: dict[str, list[Path]] = {}

    def excluded(path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved == s or s in resolved.parents for s in skipped)

    for parquet in sorted(root.rglob("*.parquet")):
        if excluded(parquet) or "_delta_log" in parquet.parts:
            continue
        owner = next((t for t in tables if t in parquet.parents), None)
        if owner is None:
            owner = parquet.parent
            while "=" in owner.name:
                owner = owner.parent
        found.setdefault(owner.relative_to(root).as_posix(), []).append(parquet)
    return found


def text_files(root: Path, *, skip: Iterable[Path] = ()) -> list[Path]:
    """Every file under ``root`` that is not Parquet, outside ``skip``: logs, Delta log
    commits, captured output, anything a job or Spark wrote."""
    skipped = [p.resolve() for p in skip]
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix != ".parquet"
        and not any(s == p.resolve() or s in p.resolve().parents for s in skipped)
    )


# -- the scanner ----------------------------------------------------------------------------------
class PiiScanner:
    def __init__(self, values: Mapping[str, str], *, public: Iterable[str] = ()) -> None:
        self._con = duckdb.connect()
        self._con.register("_raw", pa.table({"value": list(values), "what": list(values.values())}))
        self._con.register("_public", pa.table({"txt": sorted(set(public))}))
        # A raw value that is a public value, a field of one, or (for long values) inside one.
        self._con.execute(
            f"""
            CREATE TEMP TABLE pii AS
            WITH public_fields AS (
                SELECT DISTINCT lower(trim(f)) AS field
                FROM _public, unnest(regexp_split_to_array(txt, '{SQL_SEPARATORS}')) AS t(f)
                UNION SELECT lower(txt) FROM _public
            ),
            raw AS (
                SELECT value, what, lower(value) AS key,
                       length(value) >= {SUBSTRING_MIN_LENGTH}
                       AND regexp_matches(value, '[0-9@ ]') AS long
                FROM _raw
            )
            SELECT raw.*, (
                key IN (SELECT field FROM public_fields)
                OR key IN (
                    SELECT r.key FROM raw AS r JOIN _public AS p
                    ON r.long AND contains(lower(p.txt), r.key))
            ) AS public
            FROM raw
            """
        )
        self.values = self._con.execute("SELECT count(*) FROM pii WHERE NOT public").fetchone()[0]
        self.excluded = [
            r[0]
            for r in self._con.execute("SELECT value FROM pii WHERE public ORDER BY 1").fetchall()
        ]
        long = [
            r[0]
            for r in self._con.execute(
                "SELECT key FROM pii WHERE long AND NOT public ORDER BY length(key) DESC, key"
            ).fetchall()
        ]
        self._patterns = [
            "|".join(re.escape(v) for v in long[i : i + PATTERN_CHUNK])
            for i in range(0, len(long), PATTERN_CHUNK)
        ]

    def scan_parquet(self, source: str, files: Sequence[Path], *, root: Path) -> list[Hit]:
        """Every text column of every file (read together, by column name), and the paths."""
        paths = [str(f) for f in files]
        scan = (
            f"read_parquet({paths!r}, union_by_name = true, filename = true, "
            "hive_partitioning = false)"
        )
        columns = self._con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
        texts = [
            f'CAST("{name.replace(chr(34), chr(34) * 2)}" AS VARCHAR) AS "c{i}"'
            for i, (name, kind, *_) in enumerate(columns)
            if name != "filename" and not NOT_TEXT.match(kind)
        ]
        names = {
            f"c{i}": name
            for i, (name, kind, *_) in enumerate(columns)
            if name != "filename" and not NOT_TEXT.match(kind)
        }
        names["_path"] = "(file path)"
        prefix = (str(root.resolve()).rstrip("/") + "/").replace("'", "''")
        select = ", ".join([*texts, f"replace(filename, '{prefix}', '') AS _path"])
        self._con.execute(
            f"CREATE OR REPLACE TEMP TABLE cells AS "
            f"SELECT * FROM (UNPIVOT (SELECT {select} FROM {scan}) "
            f"ON COLUMNS(*) INTO NAME col VALUE txt)"
        )
        return [
            Hit(source, names[col], value, what, text) for col, value, what, text in self._hits()
        ]

    def scan_text(self, source: str, text: str) -> list[Hit]:
        lines = text.splitlines() or [""]
        self._con.register(
            "_lines",
            pa.table({"col": [f"line {i}" for i in range(1, len(lines) + 1)], "txt": lines}),
        )
        self._con.execute("CREATE OR REPLACE TEMP TABLE cells AS SELECT col, txt FROM _lines")
        self._con.unregister("_lines")
        return [Hit(source, col, value, what, text) for col, value, what, text in self._hits()]

    def scan_file(self, path: Path, *, root: Path) -> list[Hit]:
        text = path.read_bytes().decode("utf-8", errors="replace")
        return self.scan_text(path.relative_to(root).as_posix(), text)

    def _hits(self) -> list[tuple[str, str, str, str]]:
        """(column, value, what, text) for each raw value found in the ``cells`` table."""
        found = self._con.execute(
            f"""
            WITH fields AS (
                SELECT col, txt, lower(trim(f)) AS field
                FROM cells, unnest(regexp_split_to_array(txt, '{SQL_SEPARATORS}')) AS t(f)
            )
            SELECT col, value, what, any_value(txt)
            FROM fields JOIN pii ON fields.field = pii.key
            WHERE NOT pii.public
            GROUP BY ALL
            """
        ).fetchall()
        for pattern in self._patterns:
            found += self._con.execute(
                """
                WITH found AS (
                    SELECT col, txt, unnest(regexp_extract_all(lower(txt), ?)) AS key
                    FROM cells
                )
                SELECT col, value, what, any_value(txt)
                FROM found JOIN pii USING (key)
                WHERE NOT pii.public
                GROUP BY ALL
                """,
                [pattern],
            ).fetchall()
        unique = {
            (col, value): (col, value, what, _around(txt, value)) for col, value, what, txt in found
        }
        return sorted(unique.values())


def _around(text: str, value: str, width: int = 60) -> str:
    at = text.lower().find(value.lower())
    if at < 0 or len(text) <= 2 * width + len(value):
        return text[: 2 * width + len(value)]
    return "…" + text[max(0, at - width) : at + len(value) + width] + "…"
