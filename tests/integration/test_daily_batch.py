"""MySQL pulls -> silver.orders / order_items / products / accounts, checked against a plain
Python replay of the generator's versions: the latest passing version per key, rows of unknown
customers, orders or products held back, negative quantities quarantined, account numbers
tokenized, and a re-run of an earlier day never rolls a row back."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.compute as pc
import pytest

from jobs import build_silver_customers, build_silver_shop, ingest_csv, ingest_mysql
from lakehouse import Warehouse, load_config
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.generate.command import load_into_mysql
from lakehouse.generate.mysql_sink import state_as_of
from lakehouse.run import RunContext

from .oracles import known_customers

pytestmark = pytest.mark.integration

START = dt.date(2024, 10, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(3)]
SPEC = GeneratorSpec(customers=1500, days=3, seed=21, start_date=START, defect_rate=0.03)
ORDER = ("products", "orders", "order_items", "accounts")  # the daily build order
KEYS = {
    "orders": ("order_id",),
    "order_items": ("order_id", "line_no"),
    "products": ("product_id",),
    "accounts": ("account_id",),
}


def build_day(spark, cfg, data, day: dt.date) -> dict:
    load_into_mysql(data, cfg, up_to=day)  # the live source as it stands that evening
    ingest_csv.run(spark, cfg, source="customers", context=RunContext.start("ingest_csv", day))
    build_silver_customers.run(spark, cfg, context=RunContext.start("build_silver_customers", day))
    results = {}
    for table in ORDER:
        ingest_mysql.run(spark, cfg, table=table, context=RunContext.start("ingest_mysql", day))
        results[table] = build_silver_shop.run(
            spark, cfg, table=table, context=RunContext.start("build_silver_shop", day)
        )
    return results


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory, test_environ, local_services):
    import pymysql

    home = tmp_path_factory.mktemp("shop-home")
    data = generate(SPEC, landing=home / "landing", truth=home / "truth")
    cfg = load_config("local", environ={**test_environ, "LAKEHOUSE_HOME": str(home)})
    m = cfg.mysql
    conn = pymysql.connect(host=m.host, port=m.port, user=m.user, password="", database=m.database)
    with conn.cursor() as cur:  # other modules' data sets must not leak into this one
        for table in ("customers", "accounts", "orders", "order_items", "products"):
            cur.execute(f"DROP TABLE IF EXISTS `{table}`")
    conn.close()
    results = {day: build_day(spark, cfg, data, day) for day in DAYS}
    return cfg, data, results


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def replay(data, *, count_held: bool = False) -> dict:
    """Day by day: the versions each pull sees, kept where the gate would pass them (or, with
    ``count_held``, the number of pulled rows it would hold back, per table)."""
    expected: dict[str, dict[tuple, dict]] = {t: {} for t in ORDER}
    held = dict.fromkeys(ORDER, 0)
    low = None
    for day in DAYS:
        known = known_customers(data, [d for d in DAYS if d <= day])
        for table in ORDER:
            state = state_as_of(getattr(data, table), KEYS[table], day)
            if low is not None:
                state = state.filter(pc.greater(state["updated_at"], low))
            for row in state.to_pylist():
                if _passes(table, row, known, expected):
                    expected[table][tuple(row[k] for k in KEYS[table])] = row
                else:
                    held[table] += 1
        low = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    return held if count_held else expected


def _passes(table: str, row: dict, known: set[str], expected: dict) -> bool:
    if table in ("orders", "accounts"):
        return row["customer_id"] in known
    if table == "order_items":
        return (
            1 <= row["quantity"] <= 1000
            and (row["order_id"],) in expected["orders"]
            and (row["product_id"],) in expected["products"]
        )
    return True


def silver(spark, cfg, table: str) -> list[dict]:
    rows = Warehouse.from_config(cfg).table(f"silver.{table}").to_spark(spark).collect()
    return [r.asDict() for r in rows]


@pytest.mark.parametrize("table", ["orders", "order_items", "products"])
def test_silver_holds_the_latest_passing_version_per_key(spark, built, table):
    cfg, data, _ = built
    want = replay(data)[table]
    got = {tuple(r[k] for k in KEYS[table]): r for r in silver(spark, cfg, table)}
    assert want, "nothing expected: the test would prove nothing"
    assert set(got) == set(want)
    for key, row in want.items():
        assert _utc(row["updated_at"]) == got[key]["updated_at"], key
    if table == "orders":
        assert all(r["status"] == want[k]["status"] for k, r in got.items())
        assert all(r["order_date"] == r["order_ts"].date() for r in got.values())


@pytest.mark.parametrize("table", ["orders", "accounts"])
def test_rows_of_unknown_customers_wait_in_quarantine(spark, built, table):
    cfg, data, results = built
    held = replay(data, count_held=True)[table]
    assert sum(r[table].quarantined_rows for r in results.values()) == held
    if table == "accounts":
        assert held > 0, "no orphan account: the test would prove nothing"
    quarantine = Warehouse.from_config(cfg).table("ops.quarantine").to_spark(spark)
    rules = {r["rule"] for r in quarantine.where(f"table_name = 'silver.{table}'").collect()}
    assert rules <= {"customer_known"}


def test_negative_quantities_are_quarantined_under_their_rule(spark, built):
    cfg, data, _ = built
    broken = {
        d["row_key"]
        for d in data.truth.joinpath("defects.parquet").exists() and _mysql_defects(data)
    }
    assert broken
    quarantine = Warehouse.from_config(cfg).table("ops.quarantine").to_spark(spark)
    flagged = {
        "{order_id}/{line_no}".format(**json.loads(r["raw_record"]))
        for r in quarantine.where(
            "table_name = 'silver.order_items' AND rule = 'quantity_positive'"
        ).collect()
    }
    assert flagged == broken


def _mysql_defects(data) -> list[dict]:
    from .oracles import manifest

    last = state_as_of(data.order_items, KEYS["order_items"], DAYS[-1])
    pulled = {f"{r['order_id']}/{r['line_no']}" for r in last.to_pylist()}
    return [d for d in manifest(data) if d["source"] == "mysql" and d["row_key"] in pulled]


def test_accounts_match_and_carry_tokens_not_account_numbers(spark, built):
    cfg, data, _ = built
    want = replay(data)["accounts"]
    got = silver(spark, cfg, "accounts")
    shape = lambda r: (r["customer_id"], r["product_code"], r["status"], _utc(r["updated_at"]))  # noqa: E731
    assert sorted(shape(r) for r in got) == sorted(shape(r) for r in want.values())
    raw_ids = {k[0] for k in want}
    assert all(r["account_id"].startswith("tok_") for r in got)
    assert not raw_ids & {r["account_id"] for r in got}


def test_rerunning_an_earlier_day_rolls_nothing_back(spark, built):
    cfg, _, results = built
    before = {t: sorted(map(str, silver(spark, cfg, t))) for t in ORDER}
    again = build_silver_shop.run(
        spark, cfg, table="orders", context=RunContext.start("build_silver_shop", DAYS[0])
    )
    assert again.stale_rows > 0
    assert again.quarantined_rows == results[DAYS[0]]["orders"].quarantined_rows
    after = {t: sorted(map(str, silver(spark, cfg, t))) for t in ORDER}
    strip = lambda rows: [r.split("_run_id")[0] for r in rows]  # noqa: E731
    assert strip(after["orders"]) == strip(before["orders"])


def test_an_unpulled_table_is_a_clear_error(spark, cfg):
    from lakehouse.errors import SourceUnavailableError

    with pytest.raises(SourceUnavailableError, match="pull it first"):
        build_silver_shop.run(
            spark, cfg, table="products", context=RunContext.start("build_silver_shop", START)
        )
