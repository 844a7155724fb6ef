"""TPC-H contracts against DuckDB's own schema, their suites against the contracts, and the
CSV drops the generator writes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lakehouse.generate.spec import GeneratorSpecError
from lakehouse.generate.tpch import TPCH_TABLES, connect, drop_dir, write_tpch_drops
from lakehouse.quality import load_suite
from schemas.tpch import TPCH_TABLES as CONTRACTS
from schemas.tpch import YEAR_OF, source_schema

pytestmark = pytest.mark.unit

DAY = dt.date(2024, 5, 1)
DUCKDB_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "int",
    "DECIMAL(15,2)": "decimal(15,2)",
    "VARCHAR": "string",
    "DATE": "date",
}


@pytest.fixture(scope="module")
def duckdb_schema() -> dict[str, list[tuple[str, str]]]:
    con = connect()
    con.execute("CALL dbgen(sf = 0)")  # the 8 tables, empty
    try:
        return {
            t: [
                (name, DUCKDB_TYPES[kind]) for name, kind, *_ in con.sql(f"DESCRIBE {t}").fetchall()
            ]
            for t in TPCH_TABLES
        }
    finally:
        con.close()


def test_there_is_a_contract_for_each_of_the_8_tables():
    assert sorted(CONTRACTS) == sorted(TPCH_TABLES)
    assert {c.name for c in CONTRACTS.values()} == {f"tpch.{t}" for t in TPCH_TABLES}


@pytest.mark.parametrize("table", TPCH_TABLES)
def test_the_csv_columns_are_duckdbs_with_the_same_types(duckdb_schema, table):
    fields = source_schema(CONTRACTS[table]).fields
    assert [(f.name, f.dataType.simpleString()) for f in fields] == duckdb_schema[table]


def test_the_large_tables_are_partitioned_by_a_year_derived_from_a_date():
    assert CONTRACTS["lineitem"].partition_by == ("l_shipyear",)
    assert CONTRACTS["orders"].partition_by == ("o_orderyear",)
    assert YEAR_OF == {"l_shipyear": "l_shipdate", "o_orderyear": "o_orderdate"}


@pytest.mark.parametrize("table", TPCH_TABLES)
def test_each_suite_guards_every_not_null_column_and_names_only_real_columns(cfg, table):
    contract = CONTRACTS[table]
    suite = load_suite(cfg.conf_dir, contract.name)
    not_null = {r.column for r in suite.rules if r.check == "not_null"}
    required = {f.name for f in source_schema(contract).fields if not f.nullable}
    # A NULL in a NOT NULL column would stop the write; the suite quarantines it instead.
    assert required <= not_null
    assert {r.column for r in suite.rules} <= set(contract.column_names)
    assert all(r.check not in ("unique", "references") for r in suite.rules), "one scan only"


def test_drops_are_laid_out_like_csv_drops_with_a_manifest(tmp_path):
    drops = write_tpch_drops(tmp_path, scale_factor=0.001, run_date=DAY, tables=["nation"])
    drop = drop_dir(tmp_path, "nation", DAY)
    assert drop == tmp_path / "tpch_nation" / "2024-05-01"
    assert [d.path for d in drops] == [drop / "nation.csv"]
    lines = (drop / "nation.csv").read_text().splitlines()
    assert lines[0] == "n_nationkey,n_name,n_regionkey,n_comment"
    assert len(lines) == 1 + 25 == 1 + drops[0].rows
    assert json.loads((drop / "tpch.json").read_text())["scale_factor"] == 0.001


def test_a_drop_of_the_same_scale_factor_is_reused_and_another_replaces_it(tmp_path):
    first = write_tpch_drops(tmp_path, scale_factor=0.001, run_date=DAY, tables=["region"])
    again = write_tpch_drops(tmp_path, scale_factor=0.001, run_date=DAY, tables=["region"])
    other = write_tpch_drops(tmp_path, scale_factor=0.002, run_date=DAY, tables=["region"])
    assert [d.generated for d in (*first, *again, *other)] == [True, False, True]
    assert sorted(p.name for p in drop_dir(tmp_path, "region", DAY).iterdir()) == [
        "region.csv",
        "tpch.json",
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scale_factor": 0}, "scale factor 0 is out of range"),
        ({"scale_factor": 0.01, "tables": ["lineitems"]}, "unknown TPC-H table"),
    ],
)
def test_bad_generator_options_say_what_to_use(tmp_path, options, message):
    with pytest.raises(GeneratorSpecError, match=message):
        write_tpch_drops(tmp_path, run_date=DAY, **options)
