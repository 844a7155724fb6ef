"""The data generator: determinism, layout, defect rates and truth, checked by independent parsing.

Expectations are written by hand (headers, formats, kinds, tolerances) or come from reading the
output files with the stdlib csv module; none is recomputed with the generator's own code.
"""

from __future__ import annotations

import csv
import hashlib
import re
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakehouse.generate import GeneratedData, GeneratorSpec, GeneratorSpecError, generate

pytestmark = pytest.mark.unit

SPEC = GeneratorSpec(customers=1000, days=30, seed=7, start_date=date(2024, 3, 1), defect_rate=0.01)
HEADERS = {
    "transactions": "txn_id,customer_id,account_id,txn_ts,amount,currency,merchant_raw,category,"
    "mode,location,remarks",
    "customers": "customer_id,first_name,last_name,email,phone,date_of_birth,address,city,region,"
    "signup_date,income_band,credit_score_band,updated_at",
    "accounts": "account_id,customer_id,product_code,opened_date,status,updated_at",
}
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
FILE_NAME = re.compile(r"^(transactions|customers|accounts)_(\d{8})(_part\d+)?\.csv$")
ROW_KINDS = {
    "malformed_date", "non_numeric_amount", "missing_key", "duplicate", "out_of_range",
    "unknown_currency", "late_row", "bad_quoting", "wrong_column_count",
}  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> GeneratedData:
    root = tmp_path_factory.mktemp("generated")
    return generate(SPEC, landing=root / "landing", truth=root / "truth")


@pytest.fixture(scope="module")
def parsed(run: GeneratedData) -> dict:
    return parse_landing(run.landing)


def tree_hashes(*roots: Path) -> dict[str, str]:
    return {
        f"{root.name}/{p.relative_to(root)}": hashlib.sha256(p.read_bytes()).hexdigest()
        for root in roots
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- an independent reader of the landing area --------------------------------------------


def valid_ts(text: str) -> bool:
    if not TS.match(text):
        return False
    try:
        datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


def valid_day(text: str) -> bool:
    if not DAY.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def classify(source: str, fields: list[str], folder: date, first: date) -> str | None:
    """The first strict check a parsed row fails, named like the manifest's kinds."""
    header = HEADERS[source].split(",")
    if len(fields) != len(header):
        return "wrong_column_count"
    row = dict(zip(header, fields, strict=True))
    if row[header[0]] == "":
        return "missing_key"
    stamps = ["txn_ts"] if source == "transactions" else ["updated_at"]
    days = {"customers": ["date_of_birth", "signup_date"], "accounts": ["opened_date"]}.get(
        source, []
    )
    if not all(valid_ts(row[c]) for c in stamps) or not all(valid_day(row[c]) for c in days):
        return "malformed_date"
    if source == "transactions":
        if not AMOUNT.match(row["amount"]):
            return "non_numeric_amount"
        if abs(float(row["amount"])) > 1_000_000:
            return "out_of_range"
        if row["currency"] not in {"EUR", "USD", "GBP"}:
            return "unknown_currency"
    elif any(int(row[c][:4]) < 1900 for c in days):
        return "out_of_range"
    row_day = date.fromisoformat(row[stamps[0]][:10])
    if folder != first and row_day < folder:
        return "late_row"
    return None


def parse_landing(landing: Path) -> dict:
    """Every line of every CSV drop, classified; re-sent files (name date != folder) apart."""
    first = min(date.fromisoformat(p.name) for p in (landing / "transactions").iterdir())
    flagged: dict[tuple[str, int], str] = {}
    rows: dict[str, list[dict]] = defaultdict(list)
    resent: list[Path] = []
    for source in HEADERS:
        seen: set[str] = set()
        for path in sorted((landing / source).glob("*/*.csv")):
            folder = date.fromisoformat(path.parent.name)
            stamp = FILE_NAME.match(path.name).group(2)
            if stamp != folder.strftime("%Y%m%d"):
                resent.append(path)
                continue
            lines = path.read_text(encoding="utf-8").split("\n")
            assert lines[0] == HEADERS[source]
            assert lines[-1] == ""
            rel = path.relative_to(landing).as_posix()
            for line_no, line in enumerate(lines[1:-1], start=2):
                try:
                    fields = next(csv.reader([line], strict=True))
                    kind = classify(source, fields, folder, first)
                except csv.Error:
                    kind, fields = "bad_quoting", []
                if kind is None and line in seen:
                    kind = "duplicate"
                seen.add(line)
                if kind:
                    flagged[(rel, line_no)] = kind
                else:
                    rows[source].append(dict(zip(HEADERS[source].split(","), fields, strict=True)))
    return {"flagged": flagged, "rows": rows, "resent": resent, "first": first}


def manifest(run: GeneratedData) -> list[dict]:
    return pq.read_table(run.truth / "defects.parquet").to_pylist()


# --- determinism, speed, layout ---------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(run: GeneratedData, tmp_path: Path) -> None:
    again = generate(SPEC, landing=tmp_path / "landing", truth=tmp_path / "truth")

    first, second = tree_hashes(run.landing, run.truth), tree_hashes(again.landing, again.truth)
    assert len(first) > 90
    assert first == second


def test_different_seed_gives_different_files(run: GeneratedData, tmp_path: Path) -> None:
    other = GeneratorSpec(customers=1000, days=30, seed=8, start_date=date(2024, 3, 1))
    again = generate(other, landing=tmp_path / "landing", truth=tmp_path / "truth")

    first, second = tree_hashes(run.landing), tree_hashes(again.landing)
    differing = [name for name in first if first[name] != second.get(name)]
    assert len(differing) > 0.9 * len(first)


def test_thousand_customers_for_thirty_days_takes_seconds(tmp_path: Path) -> None:
    spec = GeneratorSpec(customers=1000, days=30, seed=1)
    started = time.perf_counter()
    data = generate(spec, landing=tmp_path / "landing", truth=tmp_path / "truth")
    elapsed = time.perf_counter() - started

    assert elapsed < 15
    assert data.transactions.num_rows > 30_000


def test_drops_have_one_folder_per_day_and_source_named_files(run: GeneratedData) -> None:
    want_days = {(date(2024, 3, 1) + timedelta(days=i)).isoformat() for i in range(30)}
    for source, header in HEADERS.items():
        folders = {p.name for p in (run.landing / source).iterdir()}
        assert folders == want_days
        for path in (run.landing / source).glob("*/*.csv"):
            assert FILE_NAME.match(path.name).group(1) == source
            assert path.read_text(encoding="utf-8").split("\n", 1)[0] == header


def test_large_days_split_into_numbered_parts(tmp_path: Path) -> None:
    spec = GeneratorSpec(customers=500, days=2, seed=3, max_rows_per_file=1000)
    data = generate(spec, landing=tmp_path / "l", truth=tmp_path / "t")

    names = sorted(p.name for p in (data.landing / "transactions" / "2024-01-01").iterdir())
    assert names[0] == "transactions_20240101_part1.csv"
    assert len(names) >= 2
    lines = [
        line
        for name in names
        for line in (data.landing / "transactions/2024-01-01" / name).read_text().splitlines()[1:]
    ]
    assert all(
        len(part.read_text().splitlines()) <= 1001
        for part in (data.landing / "transactions/2024-01-01").iterdir()
    )
    assert len(lines) > 1000


@pytest.mark.parametrize(
    ("field", "value"),
    [("customers", 0), ("days", 0), ("seed", -1), ("defect_rate", 0.5), ("products", 0)],
)
def test_invalid_spec_names_the_field(field: str, value: object) -> None:
    values = {"customers": 10, "days": 2, "seed": 1, field: value}

    with pytest.raises(GeneratorSpecError, match=f"GeneratorSpec.{field}="):
        GeneratorSpec(**values)


def test_existing_output_is_refused_when_asked(run: GeneratedData) -> None:
    with pytest.raises(GeneratorSpecError, match="already exists"):
        generate(SPEC, landing=run.landing, truth=run.truth, if_exists="error")


# --- defects ----------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["transactions", "customers", "accounts"])
def test_manifest_defect_rate_is_near_the_configured_rate(run: GeneratedData, source: str) -> None:
    clean_rows = {"transactions": run.transactions.num_rows}.get(source) or getattr(
        run, source
    ).num_rows
    defects = [m for m in manifest(run) if m["source"] == source and m["defect_kind"] in ROW_KINDS]

    rate = len(defects) / clean_rows
    tolerance = 0.2 if source == "transactions" else 0.6  # fewer rows, more noise
    assert abs(rate - 0.01) <= 0.01 * tolerance, rate


def test_independent_parse_finds_exactly_the_manifest_defects(
    run: GeneratedData, parsed: dict
) -> None:
    recorded = {
        (m["file"], m["line_no"]): m["defect_kind"]
        for m in manifest(run)
        if m["source"] in HEADERS and m["line_no"]
    }

    assert parsed["flagged"] == recorded
    assert set(Counter(parsed["flagged"].values())) == ROW_KINDS


def test_independent_parse_sees_the_configured_rate(parsed: dict) -> None:
    lines = len(parsed["flagged"]) + sum(len(r) for r in parsed["rows"].values())

    assert abs(len(parsed["flagged"]) / lines - 0.01) < 0.002


def test_resent_file_is_a_byte_identical_copy_in_a_later_drop(
    run: GeneratedData, parsed: dict
) -> None:
    resent = [m["file"] for m in manifest(run) if m["defect_kind"] == "resent_file"]

    assert resent
    assert sorted(resent) == sorted(p.relative_to(run.landing).as_posix() for p in parsed["resent"])
    for rel in resent:
        copy = run.landing / rel
        stamp = FILE_NAME.match(copy.name).group(2)
        original = copy.parents[1] / f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}" / copy.name
        assert copy.read_bytes() == original.read_bytes()
        assert copy.parent.name > original.parent.name


def test_mysql_side_carries_out_of_range_quantities_recorded_in_manifest(
    run: GeneratedData,
) -> None:
    recorded = {m["row_key"] for m in manifest(run) if m["source"] == "mysql"}
    negative = {
        f"{r['order_id']}/{r['line_no']}" for r in run.order_items.to_pylist() if r["quantity"] <= 0
    }

    assert negative == recorded
    assert negative


HASH_SCRIPT = """
import hashlib, sys, datetime as dt
from pathlib import Path
from lakehouse.generate import GeneratorSpec, generate
root = Path(sys.argv[1])
generate(GeneratorSpec(customers=150, days=10, seed=5), landing=root / "l", truth=root / "t")
digest = hashlib.sha256()
for path in sorted(root.rglob("*")):
    if path.is_file():
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
print(digest.hexdigest())
"""


def test_output_is_identical_across_processes_with_different_hash_seeds(tmp_path):
    """Python salts str hashes per process: set iteration must never drive random draws."""
    import os
    import subprocess
    import sys

    digests = set()
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT, str(tmp_path / hash_seed)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1
