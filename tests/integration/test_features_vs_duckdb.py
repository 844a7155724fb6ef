"""The Spark feature transforms agree with the independent DuckDB SQL of docs/features.md.

Both read the same silver-shaped Parquet from the generator (400 customers, 120 days), as of
two dates: ten days in (the 30- and 90-day windows only partly filled, no earlier spend for
spend_trend_30d) and the last day; then hand-written rows at the edges of each definition.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyspark.sql.pandas.types import to_arrow_schema

from bench.feature_sql import KEYS, SOURCES, compare, feature_tables
from bench.features import duckdb_relations, spark_frames, write_silver_parquet
from lakehouse.generate import GeneratorSpec
from schemas.shop import SHOP_TABLES, SILVER_SHOP
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.integration

SPEC = GeneratorSpec(customers=400, days=120, seed=11, defect_rate=0.0)
AS_OF_DATES = (SPEC.start_date + dt.timedelta(days=9), SPEC.end_date)
VELOCITY_DAYS = 3


@pytest.fixture(scope="module")
def silver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("features-silver")
    write_silver_parquet(SPEC, root)
    return root


@pytest.fixture(scope="module")
def frames(spark, silver: Path) -> dict:
    return spark_frames(spark, silver)


@pytest.fixture(scope="module")
def transforms():
    from feature_store.transforms import TRANSFORMS

    return TRANSFORMS


def test_spark_has_a_transform_for_every_view_of_the_spec(transforms):
    assert sorted(set(SOURCES) - set(transforms)) == []


@pytest.mark.parametrize("view", sorted(SOURCES))
@pytest.mark.parametrize("as_of", AS_OF_DATES, ids=str)
def test_spark_view_equals_duckdb_sql(silver, frames, transforms, view, as_of):
    if view not in transforms:
        pytest.fail(f"feature_store.transforms.TRANSFORMS has no {view!r}")
    fn, _lookback_days = transforms[view]
    source = frames[SOURCES[view]]
    if view == "customer_velocity":
        got = fn(source, as_of=as_of, days=VELOCITY_DAYS).toArrow()
    else:
        got = fn(source, as_of=as_of).toArrow()
    con = duckdb.connect()
    (expected,) = feature_tables(
        con, **duckdb_relations(silver), as_of=as_of, velocity_days=VELOCITY_DAYS, views=[view]
    ).values()
    assert expected.num_rows > 0
    assert compare(expected, got, keys=KEYS[view]) == []


# --- hand-written edge cases ------------------------------------------------------------------

EDGE_AS_OF = dt.date(2024, 3, 31)


def _ts(day_offset: int, clock: str = "12:00:00") -> dt.datetime:
    """A UTC instant ``day_offset`` days from EDGE_AS_OF at ``clock``."""
    day = EDGE_AS_OF + dt.timedelta(days=day_offset)
    return dt.datetime.combine(day, dt.time.fromisoformat(clock), tzinfo=dt.UTC)


def _txn(customer, when, amount, *, merchant="Shop", category="groceries", **more) -> dict:
    return {
        "customer_id": customer,
        "txn_ts": when,
        "amount": Decimal(amount),
        "merchant": merchant,
        "category": category,
        "currency": more.get("currency", "EUR"),
        "location": more.get("location", "Lyon"),
    }


EDGE_TRANSACTIONS = [
    # E1: the ends of every window (D-90 and D+1 are outside all of them)
    *(
        _txn("E1", _ts(offset), "-10.00", category="travel")
        for offset in (-90, -89, -30, -29, -7, -6, 0, 1)
    ),
    # E2: credits only (no spend: means, shares, trend NULL), a salary in two months
    _txn("E2", _ts(-40), "2500.00", merchant="Employer", category="salary"),
    _txn("E2", _ts(-10), "2500.00", merchant="Employer", category="salary"),
    # E3: a zero amount, a NULL merchant, empty and NULL locations, a single debit
    _txn("E3", _ts(-3), "0.00", location=""),
    _txn("E3", _ts(-2), "-5.00", merchant=None, location=None),
    _txn("E3", _ts(-1), "7.00", merchant=None, location=""),
    # E4: two locations equally frequent (alphabetically first wins), foreign currency
    _txn("E4", _ts(-5), "-1.00", location="Bergamo", currency="USD"),
    _txn("E4", _ts(-4), "-1.00", location="Augsburg"),
    _txn("E4", _ts(-3), "-1.00", location="Bergamo", currency="GBP"),
    _txn("E4", _ts(-2), "-1.00", location="Augsburg"),
    # E5: velocity bounds: (ts - 1h, ts] and (ts - 24h, ts], two rows at the same second
    _txn("E5", _ts(-1, "10:00:00"), "-1.00"),
    _txn("E5", _ts(-1, "10:00:01"), "-2.00"),
    _txn("E5", _ts(0, "09:00:00"), "-4.00"),
    _txn("E5", _ts(0, "09:00:01"), "-8.00"),
    _txn("E5", _ts(0, "10:00:00"), "-16.00"),
    _txn("E5", _ts(0, "10:00:00"), "32.00"),
    # E6: regular series: 'Gym' spread exactly 25% (recurring), 'Phone' n = m + 1 spread over
    # 25% (regular, not recurring), 'Cafe' weekly (not regular), 'Bonus' one month (not regular)
    _txn("E6", _ts(-60), "-40.00", merchant="Gym"),
    _txn("E6", _ts(-30), "-30.00", merchant="Gym"),
    _txn("E6", _ts(-45), "-20.00", merchant="Phone"),
    _txn("E6", _ts(-44), "-20.00", merchant="Phone"),
    _txn("E6", _ts(-14), "-14.99", merchant="Phone"),
    *(_txn("E6", _ts(-7 * week), "-3.50", merchant="Cafe") for week in range(5)),
    _txn("E6", _ts(-20), "100.00", merchant="Bonus"),
    _txn("E6", _ts(-19), "100.00", merchant="Bonus"),
    # E7: balance back to exactly 0.00 (not overdrawn), then below 0 until D
    _txn("E7", _ts(-29), "-100.00"),
    _txn("E7", _ts(-20), "100.00"),
    _txn("E7", _ts(-5), "-0.01"),
    # E8: active only in D-89 .. D-30: no cashflow row, no 30-day spend
    _txn("E8", _ts(-50), "-12.00"),
    _txn("E8", _ts(-35), "-13.00"),
]


def _edge_transactions() -> pa.Table:
    rows = [
        {
            "txn_id": f"T{number:04d}",
            "account_id": None,
            "txn_date": row["txn_ts"].date(),
            "merchant_raw": row["merchant"],
            "merchant_category": None,
            "mode": "card",
            "remarks": None,
            "_run_id": "edge",
            **row,
        }
        for number, row in enumerate(EDGE_TRANSACTIONS)
    ]
    return pa.Table.from_pylist(rows, schema=_arrow_schema(SILVER_TRANSACTIONS))


def _edge_orders() -> tuple[pa.Table, pa.Table]:
    """silver.orders and bronze.shop_orders rows: orders placed at the window's ends, and an
    order returned in two versions, one cancelled too early to count, one after D."""

    def order(order_id, placed, status, updated, amount="10.00"):
        return {
            "order_id": order_id,
            "customer_id": "E1",
            "order_ts": _ts(placed),
            "status": status,
            "channel": "web",
            "currency": "EUR",
            "total_amount": Decimal(amount),
            "updated_at": _ts(updated),
            "_run_id": "edge",
        }

    latest = [
        order("O1", -90, "delivered", -88),
        order("O2", -89, "returned", -60, "25.50"),
        order("O3", 0, "placed", 0, "4.25"),
        order("O4", 1, "placed", 1),
        order("O5", -95, "cancelled", -90),
    ]
    versions = [
        order("O2", -89, "placed", -89, "25.50"),
        order("O2", -89, "returned", -70, "25.50"),
        order("O2", -89, "returned", -60, "25.50"),
        order("O5", -95, "cancelled", -90),
        order("O4", 1, "cancelled", 1),
        order("O3", 0, "placed", 0, "4.25"),
    ]
    orders = [{**o, "order_date": o["order_ts"].date()} for o in latest]
    versions = [{**v, "_run_date": v["updated_at"].date()} for v in versions]
    return (
        pa.Table.from_pylist(orders, schema=_arrow_schema(SILVER_SHOP["orders"])),
        pa.Table.from_pylist(versions, schema=_arrow_schema(SHOP_TABLES["orders"])),
    )


def _arrow_schema(contract) -> pa.Schema:
    # UTC instants, as Spark writes TimestampType.
    return to_arrow_schema(contract.schema, timezone="UTC")


@pytest.fixture(scope="module")
def edge_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("features-edges")
    orders, versions = _edge_orders()
    tables = {"transactions": _edge_transactions(), "orders": orders, "order_versions": versions}
    for name, table in tables.items():
        pq.write_table(table, root / f"{name}.parquet")
    return {name: root / f"{name}.parquet" for name in tables}


@pytest.mark.parametrize("view", sorted(SOURCES))
def test_spark_view_equals_duckdb_sql_on_edge_cases(spark, edge_files, transforms, view):
    if view not in transforms:
        pytest.fail(f"feature_store.transforms.TRANSFORMS has no {view!r}")
    fn, _lookback_days = transforms[view]
    source = spark.read.parquet(str(edge_files[SOURCES[view]]))
    if view == "customer_velocity":
        got = fn(source, as_of=EDGE_AS_OF, days=1).toArrow()
    else:
        got = fn(source, as_of=EDGE_AS_OF).toArrow()
    relations = {name: f"read_parquet('{path}')" for name, path in edge_files.items()}
    (expected,) = feature_tables(
        duckdb.connect(), **relations, as_of=EDGE_AS_OF, velocity_days=1, views=[view]
    ).values()
    assert compare(expected, got, keys=KEYS[view]) == []
