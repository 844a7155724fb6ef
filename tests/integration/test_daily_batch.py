"""The whole daily batch (lakehouse/daily.py) for three days on generator data.

Silver from the MySQL pulls is checked against a plain Python replay of the generator's
versions: the latest passing version per key, rows of unknown customers, orders or products
held back, negative quantities quarantined, account numbers tokenized, and a re-run of an
earlier day never rolls a row back. Gold is checked against DuckDB SQL over the silver tables
as delta-rs reads them. (Re-running a day, every table's row count unchanged, is shown by the
daily_batch DAG's test, tests/integration/test_dags.py.)"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.compute as pc
import pytest

from jobs import build_silver_shop
from lakehouse import Warehouse, load_config
from lakehouse.daily import MYSQL_TABLES, run_daily_batch
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.generate.command import load_into_mysql
from lakehouse.generate.mysql_sink import state_as_of
from lakehouse.run import RunContext

from .oracles import known_customers

pytestmark = pytest.mark.integration

START = dt.date(2024, 10, 1)
DAYS = [START + dt.timedelta(days=i) for i in range(3)]
SPEC = GeneratorSpec(customers=1500, days=3, seed=21, start_date=START, defect_rate=0.03)
ORDER = MYSQL_TABLES  # the daily build order
KEYS = {
    "orders": ("order_id",),
    "order_items": ("order_id", "line_no"),
    "products": ("product_id",),
    "accounts": ("account_id",),
}


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
    results = {}
    for day in DAYS:
        load_into_mysql(data, cfg, up_to=day)  # the live source as it stands that evening
        results[day] = run_daily_batch(spark, cfg, day)
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
    assert sum(r.steps[f"silver {table}"].quarantined_rows for r in results.values()) == held
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
    assert again.quarantined_rows == results[DAYS[0]].steps["silver orders"].quarantined_rows
    after = {t: sorted(map(str, silver(spark, cfg, t))) for t in ORDER}
    strip = lambda rows: [r.split("_run_id")[0] for r in rows]  # noqa: E731
    assert strip(after["orders"]) == strip(before["orders"])


def test_an_unpulled_table_is_a_clear_error(spark, cfg):
    from lakehouse.errors import SourceUnavailableError

    with pytest.raises(SourceUnavailableError, match="pull it first"):
        build_silver_shop.run(
            spark, cfg, table="products", context=RunContext.start("build_silver_shop", START)
        )


# -- gold against DuckDB over the silver tables as delta-rs reads them --------------------------
def duck(cfg):
    import duckdb
    from deltalake import DeltaTable

    con = duckdb.connect()
    warehouse = Warehouse.from_config(cfg)
    for name in ("transactions", "customers", "orders", "order_items", "products"):
        arrow = DeltaTable(warehouse.table(f"silver.{name}").uri).to_pyarrow_table()
        con.register(name, arrow)
    con.execute("SET TimeZone = 'UTC'")
    return con


GOLD_SQL = {
    "daily_sales": """
        SELECT o.order_date, coalesce(c.region, 'unknown') AS region,
               coalesce(p.category, 'unknown') AS category, o.currency,
               count(DISTINCT o.order_id) AS orders, sum(i.quantity) AS units,
               sum(i.quantity * i.unit_price) AS revenue,
               count(DISTINCT o.customer_id) AS customers
        FROM orders o
        JOIN order_items i ON i.order_id = o.order_id
        LEFT JOIN products p ON p.product_id = i.product_id
        LEFT JOIN customers c ON c.customer_id = o.customer_id
             AND c.valid_from <= o.order_ts AND (c.valid_to IS NULL OR o.order_ts < c.valid_to)
        WHERE o.status <> 'cancelled' AND o.order_date BETWEEN $day - INTERVAL 6 DAY AND $day
        GROUP BY ALL""",
    "customer_monthly": """
        WITH m AS (SELECT * FROM transactions
                   WHERE txn_date BETWEEN date_trunc('month', $day)::DATE AND $day),
        cat AS (SELECT customer_id,
                       arg_min(c, (-s, c)) AS top_category
                FROM (SELECT customer_id,
                             coalesce(merchant_category, category, 'unknown') AS c,
                             sum(-amount) AS s
                      FROM m WHERE amount < 0 GROUP BY ALL)
                GROUP BY customer_id)
        SELECT date_trunc('month', $day)::DATE AS month, m.customer_id,
               count(*) AS transactions,
               sum(CASE WHEN amount >= 0 THEN amount ELSE 0 END) AS inflow,
               sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS outflow,
               sum(amount) AS net, count(DISTINCT txn_date) AS active_days,
               any_value(cat.top_category) AS top_category
        FROM m LEFT JOIN cat USING (customer_id) GROUP BY ALL""",
    "order_funnel": """
        SELECT order_date, channel, count(*) AS placed,
               count(*) FILTER (status = 'cancelled') AS cancelled,
               count(*) FILTER (status IN ('shipped', 'delivered', 'returned')) AS shipped,
               count(*) FILTER (status IN ('delivered', 'returned')) AS delivered,
               count(*) FILTER (status = 'returned') AS returned
        FROM orders WHERE order_date BETWEEN $day - INTERVAL 29 DAY AND $day GROUP BY ALL""",
    "top_customers": """
        WITH s AS (SELECT customer_id, sum(-amount) AS spend_30d, count(*) AS transactions_30d
                   FROM transactions
                   WHERE amount < 0 AND txn_date BETWEEN $day - INTERVAL 29 DAY AND $day
                   GROUP BY ALL),
        r AS (SELECT *, row_number() OVER (ORDER BY spend_30d DESC, customer_id) AS rank FROM s)
        SELECT $day AS as_of_date, rank, r.customer_id, spend_30d, transactions_30d,
               (SELECT count(*) FROM orders o WHERE o.customer_id = r.customer_id
                AND o.order_date BETWEEN $day - INTERVAL 29 DAY AND $day) AS orders_30d,
               c.region, c.income_band
        FROM r
        LEFT JOIN customers c ON c.customer_id = r.customer_id
             AND c.valid_from < $day + INTERVAL 1 DAY
             AND (c.valid_to IS NULL OR c.valid_to >= $day + INTERVAL 1 DAY)
        WHERE rank <= 100""",
}


def _normal(rows) -> list[tuple]:
    from decimal import Decimal

    def value(v):
        if isinstance(v, dt.datetime):
            return v.date()
        if isinstance(v, float | Decimal):
            return round(Decimal(str(v)), 2)
        return v

    return sorted(tuple(value(v) for v in row) for row in rows)


@pytest.mark.parametrize("name", sorted(GOLD_SQL))
def test_gold_equals_duckdb_over_silver(spark, built, name):
    from pyspark.sql import functions as F

    from lakehouse.gold import owned_dates
    from schemas.gold import GOLD_TABLES

    cfg, _, _ = built
    day = DAYS[-1]  # built last, from the silver that exists now
    contract = GOLD_TABLES[name]
    first, last = owned_dates(name, day)
    ours = Warehouse.from_config(cfg).table(contract.name).to_spark(spark)
    column = F.col(contract.partition_by[0])
    ours = ours.where(column.between(first, last)).select(*contract.column_names).collect()
    theirs = duck(cfg).execute(GOLD_SQL[name], {"day": day}).fetchall()
    assert ours, f"gold.{name} is empty for {day}: the test would prove nothing"
    assert _normal(ours) == _normal(theirs)
