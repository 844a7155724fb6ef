"""SIGKILL during ingest leaves every table at a consistent version, silver at the state before
or after the killed run (never between), and the re-run completes with exactly the rows of a
clean run.

The real jobs run as subprocesses (`lakehouse ingest csv`, `lakehouse silver transactions`
through cli_driver.py) on generator data in a private LAKEHOUSE_HOME. SIGKILL goes to the whole
process session (driver, JVM, Spark's Python workers) at each point where a write can be cut:

- the bronze write of ingest_csv, in the middle of its Spark job (one task holds its first
  batch, another has finished its file);
- ingest_csv with bronze committed but its quarantine and file registry not yet written;
- the silver merge of build_silver_transactions, in the middle of its Spark job;
- the same merge with its files published into the table but the Delta commit not written.

The oracle is a clean run of the same jobs on the same drops in another home (in this process),
snapshotted after every step: after a kill each table equals the snapshot before or after the
killed step, and after the re-run every table equals the clean run's, row for row (run ids
aside): 0 rows lost, 0 duplicated.
"""

from __future__ import annotations

import datetime as dt
import shutil
import signal
from collections import Counter
from pathlib import Path

import pytest
from deltalake import DeltaTable

from jobs import build_silver_customers, build_silver_transactions, ingest_csv
from lakehouse import Warehouse, load_config
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.run import RunContext
from lakehouse.runs import RUN_HISTORY

from .processes import driver_argv, kill_session, run, start, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START = dt.date(2024, 4, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(3)]
SPEC = GeneratorSpec(customers=300, days=3, seed=23, start_date=START, defect_rate=0.02)
TOKEN_KEY = "ingest-crash-test-key"  # both homes tokenize alike, so their rows compare
RUN_ID_COLUMNS = ("run_id", "_run_id")

# The daily batch, step by step, in the order the demo and the DAG run it.
JOBS = ("ingest customers", "silver customers", "ingest transactions", "silver transactions")
STEPS = [(day, job) for day in DAYS for job in JOBS]
CLI = {
    "ingest customers": ("ingest", "csv", "--source", "customers"),
    "ingest transactions": ("ingest", "csv", "--source", "transactions"),
    "silver customers": ("silver", "customers"),
    "silver transactions": ("silver", "transactions"),
}
INGEST_D2 = STEPS.index((DAYS[1], "ingest transactions"))
SILVER_D2 = STEPS.index((DAYS[1], "silver transactions"))


def run_step(spark, cfg, step: tuple[dt.date, str]) -> None:
    day, job = step
    kind, _, source = job.partition(" ")
    if kind == "ingest":
        context = RunContext.start("ingest_csv", day)
        ingest_csv.run(spark, cfg, source=source, context=context)
    else:
        module = {"customers": build_silver_customers, "transactions": build_silver_transactions}
        job_name = module[source].__name__.rpartition(".")[2]
        module[source].run(spark, cfg, context=RunContext.start(job_name, day))


def cli_args(step: tuple[dt.date, str]) -> list[str]:
    day, job = step
    return [*CLI[job], "--run-date", day.isoformat()]


# -- what the tables hold -----------------------------------------------------------------------
def table_dirs(root: Path) -> dict[str, Path]:
    return {
        f"{p.parent.parent.name}.{p.parent.name}": p.parent for p in root.glob("*/*/_delta_log")
    }


def snapshot(root: Path) -> dict[str, Counter]:
    """Every data table's latest version as a multiset of rows (delta-rs), run ids left out.

    The run history is not compared: it records processes, not data (the clean run's steps run
    in this process and record nothing; a killed run records nothing, its re-run records itself).
    """
    tables = {}
    for name, path in table_dirs(root).items():
        if name == RUN_HISTORY:
            continue
        rows = DeltaTable(str(path)).to_pyarrow_table().to_pylist()
        tables[name] = Counter(
            tuple((c, row[c]) for c in sorted(row) if c not in RUN_ID_COLUMNS) for row in rows
        )
    return tables


def differences(got: Counter | None, want: Counter | None) -> str:
    if got == want:
        return ""
    got, want = got or Counter(), want or Counter()
    lost, extra = want - got, got - want
    return (
        f"{sum(lost.values())} rows missing, {sum(extra.values())} extra "
        f"(e.g. missing {list(lost)[:1]}, extra {list(extra)[:1]})"
    )


def assert_state(root: Path, want: dict[str, Counter], *, when: str) -> None:
    got = snapshot(root)
    problems = {
        name: differences(got.get(name), want.get(name))
        for name in sorted(set(got) | set(want))
        if got.get(name) != want.get(name)
    }
    assert not problems, f"{when}: tables differ from the clean run: {problems}"


def assert_each_table_before_or_after(
    root: Path, before: dict[str, Counter], after: dict[str, Counter], *, when: str
) -> dict[str, str]:
    """Each table equals the clean run's state before or after the killed step; returns which."""
    got, states = snapshot(root), {}
    for name in sorted(set(got) | set(before) | set(after)):
        if got.get(name) == before.get(name):
            states[name] = "before"
        elif got.get(name) == after.get(name):
            states[name] = "after"
        else:
            pytest.fail(
                f"{when}: {name} is neither the state before the step "
                f"({differences(got.get(name), before.get(name))}) nor after it "
                f"({differences(got.get(name), after.get(name))})"
            )
    return states


def assert_every_table_reads_cleanly(spark, root: Path) -> None:
    """The latest version of every table: all its files exist, and Spark (through the table
    layer), delta-rs and the log's statistics count the same rows."""
    warehouse = Warehouse(str(root))
    for name, path in table_dirs(root).items():
        delta = DeltaTable(str(path))
        missing = [uri for uri in delta.file_uris() if not Path(uri).is_file()]
        assert not missing, f"{name} v{delta.version()} references missing files {missing[:2]}"
        by_delta_rs = delta.to_pyarrow_dataset().count_rows()
        by_stats = sum(delta.get_add_actions(flatten=True).column("num_records").to_pylist())
        by_spark = warehouse.table(name).to_spark(spark).count()
        assert by_spark == by_delta_rs == by_stats, (
            f"{name} v{delta.version()}: Spark {by_spark}, delta-rs {by_delta_rs}, "
            f"log statistics {by_stats} rows"
        )


def versions(root: Path) -> dict[str, int]:
    return {name: DeltaTable(str(path)).version() for name, path in table_dirs(root).items()}


def uncommitted_files(table: Path) -> list[Path]:
    """Parquet files in the table's partitions that no version of its log added (the log's
    own checkpoints are not data files)."""
    delta = DeltaTable(str(table))
    added = set()
    for version in range(delta.version() + 1):
        added |= {Path(u).resolve() for u in DeltaTable(str(table), version=version).file_uris()}
    return [
        p
        for p in table.rglob("*.parquet")
        if not {"_staging", "_delta_log"} & set(p.parts) and p.resolve() not in added
    ]


# -- fixtures -------------------------------------------------------------------------------------
class Lake:
    """The home the jobs are killed in, and the clean run's state after every step."""

    def __init__(self, home: Path, env: dict[str, str], reference: list[dict[str, Counter]]):
        self.home, self.env, self.reference = home, env, reference
        self.cfg = load_config("local", environ=env)
        self.root = home / "warehouse"
        self.logs = home / "logs"
        self.done = -1  # the last step completed in this home

    def before(self, step: int) -> dict[str, Counter]:
        return self.reference[step - 1] if step else {}

    def kill_mid_write(self, step: int, table: str, name: str):
        """Start the step's job with a stalled Spark write into ``table``; once the write is
        under way (a task stalled, another's file in the staging directory), SIGKILL it."""
        marker = self.logs / f"{name}.stalled"
        staging = self.root.joinpath(*table.split(".")) / "_staging"
        crash = ["--stall-write", table, "--marker", str(marker)]
        job = start(
            driver_argv(cli_args(STEPS[step]), crash=crash), self.env, logs=self.logs, name=name
        )
        wait_until(job, marker.exists, timeout=600, what=f"stalled write into {table}")
        wait_until(job, lambda: any(staging.rglob("*.parquet")), timeout=120, what="a staged file")
        kill_session(job)
        assert job.proc.returncode == -signal.SIGKILL, job.output()
        return job

    def run_killing_itself(self, step: int, crash: list[str], name: str):
        argv = driver_argv(cli_args(STEPS[step]), crash=crash)
        job = start(argv, self.env, logs=self.logs, name=name)
        job.wait(timeout=900)
        kill_session(job)  # anything of its session still alive
        assert job.proc.returncode == -signal.SIGKILL, job.output()
        assert "DYING:" in job.output()
        return job

    def rerun(self, step: int, name: str):
        job = run(driver_argv(cli_args(STEPS[step])), self.env, logs=self.logs, name=name)
        assert job.proc.returncode == 0, job.output()
        self.done = step
        return job


@pytest.fixture(scope="module")
def lake(spark, test_environ, tmp_path_factory) -> Lake:
    homes = {k: tmp_path_factory.mktemp(f"ingest-crash-{k}") for k in ("killed", "reference")}
    envs = {
        k: {**test_environ, "LAKEHOUSE_HOME": str(h), "LAKEHOUSE__PII__TOKEN_KEY": TOKEN_KEY}
        for k, h in homes.items()
    }
    cfgs = {k: load_config("local", environ=env) for k, env in envs.items()}  # both: same drops
    for cfg in cfgs.values():
        generate(SPEC, landing=cfg.path("landing"), truth=cfg.path("truth"))
    reference = []
    for number, step in enumerate(STEPS):
        run_step(spark, cfgs["reference"], step)
        reference.append(snapshot(homes["reference"] / "warehouse"))
        if number == INGEST_D2 - 1:  # day 1 and day 2's customers: where the kills start
            shutil.copytree(homes["reference"] / "warehouse", homes["killed"] / "warehouse")
    lake = Lake(homes["killed"], envs["killed"], reference)
    lake.done = INGEST_D2 - 1
    assert_state(lake.root, reference[lake.done], when="set-up, before any kill")
    return lake


def require(lake: Lake, step: int) -> None:
    if lake.done != step - 1:
        pytest.skip(f"an earlier test stopped before step {step - 1} ({STEPS[step - 1]})")


# -- tests ----------------------------------------------------------------------------------------
def test_killed_bronze_write_leaves_bronze_and_silver_as_before_and_rerun_loads_once(spark, lake):
    require(lake, INGEST_D2)
    before, after = lake.before(INGEST_D2), lake.reference[INGEST_D2]
    assert before["bronze.transactions"] != after["bronze.transactions"]

    # 1. Killed while Spark writes the day's bronze files.
    versions_before = versions(lake.root)
    lake.kill_mid_write(INGEST_D2, "bronze.transactions", "ingest-killed-mid-write")
    assert_every_table_reads_cleanly(spark, lake.root)
    assert versions(lake.root) == versions_before
    assert_state(lake.root, before, when="ingest killed during the bronze write")

    # 2. Killed after bronze committed, before the quarantine and the file registry.
    lake.run_killing_itself(
        INGEST_D2, ["--die-after-commit", "bronze.transactions"], "ingest-killed-after-bronze"
    )
    assert_every_table_reads_cleanly(spark, lake.root)
    states = assert_each_table_before_or_after(
        lake.root, before, after, when="ingest killed after the bronze commit"
    )
    assert states["bronze.transactions"] == "after"
    assert states["ops.ingested_files"] == "before"  # the re-run must redo the day
    assert states["silver.transactions"] == "before"

    # 3. The re-run completes: every table as in the clean run, nothing loaded twice.
    lake.rerun(INGEST_D2, "ingest-rerun")
    assert_every_table_reads_cleanly(spark, lake.root)
    assert_state(lake.root, after, when="ingest re-run after two kills")


def test_killed_silver_merge_leaves_silver_as_before_and_rerun_merges_exactly(spark, lake):
    require(lake, SILVER_D2)
    before, after = lake.before(SILVER_D2), lake.reference[SILVER_D2]
    silver = lake.root / "silver" / "transactions"
    assert before["silver.transactions"] != after["silver.transactions"]
    version = DeltaTable(str(silver)).version()

    # 1. Killed while Spark writes the merged files.
    lake.kill_mid_write(SILVER_D2, "silver.transactions", "silver-killed-mid-write")
    assert_every_table_reads_cleanly(spark, lake.root)
    states = assert_each_table_before_or_after(
        lake.root, before, after, when="silver killed during the merge write"
    )
    assert states["silver.transactions"] == "before"
    assert DeltaTable(str(silver)).version() == version

    # 2. Killed with the merged files published into the table, before the commit.
    lake.run_killing_itself(
        SILVER_D2, ["--die-before-commit", "silver.transactions"], "silver-killed-before-commit"
    )
    assert uncommitted_files(silver), "the killed merge had published no files"
    assert_every_table_reads_cleanly(spark, lake.root)
    states = assert_each_table_before_or_after(
        lake.root, before, after, when="silver killed before its commit"
    )
    assert states["silver.transactions"] == "before"
    assert DeltaTable(str(silver)).version() == version

    # 3. The re-run completes with exactly the clean run's rows.
    lake.rerun(SILVER_D2, "silver-rerun")
    assert_every_table_reads_cleanly(spark, lake.root)
    assert_state(lake.root, after, when="silver re-run after two kills")
    assert DeltaTable(str(silver)).version() == version + 1
    ids = DeltaTable(str(silver)).to_pyarrow_table(columns=["txn_id"]).column("txn_id")
    assert len(ids) == len(set(ids.to_pylist())), "a transaction is in silver twice"


def test_later_days_and_vacuum_after_the_crashes_match_the_clean_run(spark, lake):
    require(lake, SILVER_D2 + 1)
    for step in range(SILVER_D2 + 1, len(STEPS)):  # day 3, in-process
        run_step(spark, lake.cfg, STEPS[step])
    lake.done = len(STEPS) - 1
    final = lake.reference[-1]
    assert_state(lake.root, final, when="day 3 after the crashes")

    warehouse = Warehouse(str(lake.root))
    for name in table_dirs(lake.root):
        warehouse.table(name).vacuum(retention_hours=0)
    assert_every_table_reads_cleanly(spark, lake.root)
    assert_state(lake.root, final, when="after vacuum")
    for name, path in table_dirs(lake.root).items():
        assert not uncommitted_files(path), f"{name}: vacuum left uncommitted files"
        assert not any((path / "_staging").rglob("*")), f"{name}: vacuum left staging files"
