"""No raw PII anywhere in silver, gold, scores or logs: the daily batch runs through the CLI on
generator data, then every table outside bronze (found on disk: every directory holding a
_delta_log, every other Parquet data set, every version and uncommitted file of each) and every
other file the runs left (captured stdout/stderr, Delta logs, anything Spark wrote) is searched
for every raw PII value the generator produced. Bronze holds data as received, by design; the
landing area and the generator's truth are inputs, not outputs.

The batch (CSV and MySQL ingest, silver, gold) runs in one `lakehouse` process (cli_driver.py:
the CLI's main per command, one Spark session): day 1 job by job, day 2 as `lakehouse batch`, a
retry, and a third day whose customer drop breaks the quality gate; the broken day runs again as
its own `lakehouse ... --verbose` process with Spark logging at WARN, so error messages and
tracebacks are scanned too. The scanner is shown to find values planted in a throwaway
table and the raw values bronze holds, so this test cannot pass by finding nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakehouse import load_config
from lakehouse.daily import CSV_SOURCES, MYSQL_TABLES
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.generate.command import load_into_mysql
from lakehouse.generate.mysql_sink import PRIMARY_KEYS

from .pii_scan import PiiScanner, datasets, public_values, raw_pii_values, text_files
from .processes import Job, cli_argv, driver_argv, run

pytestmark = pytest.mark.integration

START = dt.date(2024, 6, 3)
SPEC = GeneratorSpec(customers=300, days=3, seed=31, start_date=START, defect_rate=0.03)
CLEAN_DAYS = [START, START + dt.timedelta(days=1)]
BROKEN_DAY = START + dt.timedelta(days=2)
PII_KINDS = {"first_name", "last_name", "email", "phone", "address", "date_of_birth"}


@dataclass
class Lake:
    home: Path
    warehouse: Path
    scanner: PiiScanner
    batch: Job
    verbose: Job
    commands: list[list[str]]

    @property
    def not_outputs(self) -> list[Path]:
        """Inputs and raw-by-design data: the drops, the generator's truth, bronze, the key."""
        return [
            self.home / "landing",
            self.home / "truth",
            self.home / "secrets",
            self.warehouse / "bronze",
        ]


def break_signup_dates(drop: Path) -> int:
    """Every row of the day's customer files gets a signup date that is not a date: far above
    the gate's failure limit. The PII in those rows stays raw, as the source sent it."""
    broken = 0
    for path in drop.glob("*.csv"):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        header = rows[0]
        for row in rows[1:]:
            if len(row) == len(header):
                row[header.index("signup_date")] = "sometime"
                broken += 1
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        path.write_text(out.getvalue(), encoding="utf-8")
    return broken


def daily_batch() -> list[list[str]]:
    """The CLI commands: day 1 job by job in the daily batch's order (lakehouse/daily.py), day 2
    as `lakehouse batch` (so steps added to the batch later run here too), a retry, the broken
    day, then the commands that show what was built."""
    date = ["--run-date", CLEAN_DAYS[0].isoformat()]
    commands = [["ingest", "csv", "--source", source, *date] for source in CSV_SOURCES]
    commands += [["ingest", "mysql", "--table", table, *date] for table in MYSQL_TABLES]
    commands += [["silver", "customers", *date], ["silver", "transactions", *date]]
    commands += [["silver", table, *date] for table in MYSQL_TABLES]
    commands += [["gold", *date]]
    commands += [["batch", "--run-date", day.isoformat()] for day in CLEAN_DAYS[1:]]
    commands.append(["silver", "transactions", *date])  # a retry
    broken = ["--run-date", BROKEN_DAY.isoformat()]
    commands += [["ingest", "csv", "--source", "customers", *broken]]
    commands += [["silver", "customers", *broken]]  # fails the gate
    commands += [["tables"], ["tables", "--json"], ["config"], ["quality"], ["quality", "--json"]]
    commands += [["table", "history", name] for name in ("silver.customers", "ops.quarantine")]
    return commands


def exit_codes(job: Job) -> dict[str, list[int]]:
    codes: dict[str, list[int]] = {}
    for line in job.stdout.read_text().splitlines():
        if line.startswith("=== lakehouse "):
            command, _, rc = line[len("=== lakehouse ") :].rpartition(" -> rc ")
            codes.setdefault(command, []).append(int(rc))
    return codes


def load_shop_database(data, cfg, *, up_to: dt.date) -> None:
    """The MariaDB source holding this data set only, as it stands on ``up_to``."""
    import pymysql

    m = cfg.mysql
    conn = pymysql.connect(host=m.host, port=m.port, user=m.user, password="", database=m.database)
    try:
        with conn.cursor() as cur:
            for table in PRIMARY_KEYS:  # the sink's own table names
                cur.execute(f"DROP TABLE IF EXISTS `{table}`")
    finally:
        conn.close()
    load_into_mysql(data, cfg, up_to=up_to)


@pytest.fixture(scope="module")
def lake(test_environ, tmp_path_factory, local_services) -> Lake:
    home = tmp_path_factory.mktemp("pii-scan")
    env = {**test_environ, "LAKEHOUSE_HOME": str(home)}  # the key: created under home/secrets
    cfg = load_config("local", environ=env)
    data = generate(SPEC, landing=cfg.path("landing"), truth=cfg.path("truth"))
    assert break_signup_dates(cfg.path("landing") / "customers" / BROKEN_DAY.isoformat()) > 0
    load_shop_database(data, cfg, up_to=CLEAN_DAYS[-1])
    scanner = PiiScanner(raw_pii_values(data), public=public_values(data, truth=cfg.path("truth")))
    commands = daily_batch()
    logs = home / "logs"
    batch = run(driver_argv(*commands), env, logs=logs, name="daily-batch")
    verbose = run(
        cli_argv("silver", "customers", "--run-date", BROKEN_DAY.isoformat(), "--verbose"),
        {**env, "LAKEHOUSE__SPARK__LOG_LEVEL": "WARN"},  # the default level, not the tests' ERROR
        logs=logs,
        name="broken-day-verbose",
    )
    return Lake(home, Path(cfg.warehouse_uri), scanner, batch, verbose, commands)


def test_the_batch_ran_and_the_broken_day_failed_loudly(lake):
    codes = exit_codes(lake.batch)
    broken = f"silver customers --run-date {BROKEN_DAY.isoformat()}"
    for command in (" ".join(c) for c in lake.commands):
        want = 0 if command != broken else 2
        assert set(codes.get(command, [None])) == {want}, (command, codes, lake.batch.output())
    assert "nothing was written downstream" in lake.batch.output()
    assert lake.verbose.proc.returncode == 2, lake.verbose.output()
    assert "Traceback" in lake.verbose.output()
    assert "QualityGateError" in lake.verbose.output()


def test_no_raw_pii_in_any_table_outside_bronze(lake):
    found = datasets(lake.home, skip=lake.not_outputs)
    built = {"silver/customers", "silver/transactions", "silver/accounts", "ops/quarantine"}
    built |= {"gold/top_customers", "gold/customer_monthly"}
    assert {f"warehouse/{t}" for t in built} <= set(found), sorted(found)
    assert not any(name.startswith("warehouse/bronze") for name in found)
    quarantine = DeltaTable(str(lake.warehouse / "ops" / "quarantine")).to_pyarrow_table()
    kinds = {(r["table_name"], r["rule"]) for r in quarantine.to_pylist()}
    # raw_record of each kind is scanned: malformed lines of both drops, gate rows of both tables
    malformed = {(f"bronze.{source}", "malformed_csv") for source in CSV_SOURCES}
    assert malformed <= kinds, kinds
    assert {"silver.customers", "silver.transactions"} <= {table for table, _ in kinds}

    leaks = [
        hit
        for name, files in sorted(found.items())
        for hit in lake.scanner.scan_parquet(name, files, root=lake.home)
    ]
    assert not leaks, f"{len(leaks)} raw PII values stored:\n" + "\n".join(map(str, leaks[:20]))


def test_no_raw_pii_in_logs_or_any_other_file(lake):
    files = text_files(lake.home, skip=lake.not_outputs)
    logs = {f.name for f in files if f.parent == lake.home / "logs"}
    assert {"daily-batch.stdout", "daily-batch.stderr"} <= logs
    assert {"broken-day-verbose.stdout", "broken-day-verbose.stderr"} <= logs
    assert any("_delta_log" in f.parts for f in files)
    leaks = [hit for f in files for hit in lake.scanner.scan_file(f, root=lake.home)]
    assert not leaks, f"{len(leaks)} raw PII values written:\n" + "\n".join(map(str, leaks[:20]))


def test_few_raw_values_are_left_out_as_public(lake):
    assert lake.scanner.values > 1000
    assert len(lake.scanner.excluded) < 0.02 * lake.scanner.values, lake.scanner.excluded


def test_the_scanner_finds_the_raw_values_bronze_holds(lake):
    """Bronze keeps PII as received: the scan must find every kind of value there."""
    bronze = {
        name: files
        for name, files in datasets(lake.warehouse / "bronze").items()
        if name in ("customers", "transactions")
    }
    assert len(bronze) == 2
    hits = [h for n, f in bronze.items() for h in lake.scanner.scan_parquet(n, f, root=lake.home)]
    found = {h.what.split(" of ")[0].split(" (")[0] for h in hits}
    assert found >= PII_KINDS | {"account number"}, found


def test_the_scanner_finds_planted_values_and_nothing_in_clean_data(tmp_path):
    values = {
        "Wilhelmina": "first_name of P1",
        "Oyelaran": "last_name of P1",
        "Wilhelmina Oyelaran": "full name of P1",
        "w.oyelaran@example.org": "email of P1",
        "+44 20 7946 0958": "phone of P1",
        "1987-11-23": "date_of_birth of P1",
        "A000990001": "account number of P1",
    }
    scanner = PiiScanner(values, public=["Oyelaran", "EUR"])
    assert scanner.excluded == ["Oyelaran"]  # also a city's name: a match proves nothing
    table = tmp_path / "gold" / "planted"
    write_deltalake(
        str(table),
        pa.table(
            {
                "note": ["call Wilhelmina Oyelaran back", "nothing here", "x"],
                "record": ['{"first_name":"Wilhelmina"}', "{}", "{}"],
                "contact": ["W.OYELARAN@EXAMPLE.ORG", None, "tok_1f79"],
                "born": [dt.date(1987, 11, 23), None, dt.date(2001, 1, 1)],
                "phone": ["***********0958", "ring +44 20 7946 0958", None],
                "amount": [1.5, 2.5, 3.5],
                "account": ["A000990001", "A000990001", "A000990001"],
            }
        ),
        partition_by=["account"],
    )
    hits = scanner.scan_parquet("gold/planted", list(table.rglob("*.parquet")), root=tmp_path)
    assert {(h.column, h.value) for h in hits} == {
        ("note", "Wilhelmina Oyelaran"),
        ("record", "Wilhelmina"),
        ("contact", "w.oyelaran@example.org"),
        ("born", "1987-11-23"),
        ("phone", "+44 20 7946 0958"),
        ("(file path)", "A000990001"),
    }
    assert {h.source for h in hits} == {"gold/planted"}
    log = "INFO merge done\nERROR bad row first_name=Wilhelmina, call +44 20 7946 0958 now\n"
    found = {(h.column, h.value) for h in scanner.scan_text("job.log", log)}
    assert found == {("line 2", "Wilhelmina"), ("line 2", "+44 20 7946 0958")}
    clean = tmp_path / "clean"
    write_deltalake(str(clean), pa.table({"city": ["Oyelaran", "Wilhelmina Street"]}))
    assert not scanner.scan_parquet("clean", list(clean.rglob("*.parquet")), root=tmp_path)
    assert not scanner.scan_text("clean.log", "all good: 12 rows from Oyelaran, 1987 EUR")
