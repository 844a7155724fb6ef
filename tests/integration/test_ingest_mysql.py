"""MySQL -> bronze by updated_at watermark: the first pull takes everything, later pulls take
exactly the rows changed in their window (checked against the generator's own versions), a
re-run pulls the same window, --full reloads, and the read is split into parallel queries."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from jobs import ingest_mysql
from lakehouse import Warehouse, load_config
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.generate.command import load_into_mysql
from lakehouse.generate.mysql_sink import state_as_of
from lakehouse.run import RunContext
from schemas.shop import SHOP_TABLES

pytestmark = pytest.mark.integration

START = dt.date(2024, 9, 1)
SPEC = GeneratorSpec(customers=400, days=4, seed=13, start_date=START, defect_rate=0.0)


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)


def changed_between(orders: pa.Table, low: dt.datetime, high: dt.datetime) -> set[str]:
    """From the generator: orders whose version as of ``high`` changed in (low, high]."""
    state = state_as_of(orders, ("order_id",), high.date() - dt.timedelta(days=1))
    updated = state["updated_at"]
    kept = pc.and_(
        pc.greater(updated, pa.scalar(low, updated.type)),
        pc.less_equal(updated, pa.scalar(high, updated.type)),
    )
    return set(state.filter(kept)["order_id"].to_pylist())


@pytest.fixture(scope="module")
def shop(spark, tmp_path_factory, test_environ, local_services):
    """Module data; each test that loads MariaDB also asks for ``empty_shop_db``."""
    home = tmp_path_factory.mktemp("mysql-home")
    data = generate(SPEC, landing=home / "landing", truth=home / "truth")
    cfg = load_config("local", environ={**test_environ, "LAKEHOUSE_HOME": str(home)})
    return cfg, data


def pull(spark, cfg, day: dt.date, *, full: bool = False):
    return ingest_mysql.run(
        spark, cfg, table="orders", context=RunContext.start("ingest_mysql", day), full=full
    )


def bronze_ids(spark, cfg, day: dt.date) -> set[str]:
    table = Warehouse.from_config(cfg).table("bronze.shop_orders")
    return {
        r["order_id"] for r in table.to_spark(spark, filters=[("_run_date", "=", day)]).collect()
    }


def test_pulls_follow_the_watermark_day_by_day(spark, shop, empty_shop_db):
    cfg, data = shop
    day1, day2, day3 = START, START + dt.timedelta(days=1), START + dt.timedelta(days=2)
    load_into_mysql(data, cfg, up_to=day1)
    first = pull(spark, cfg, day1)
    assert first.low is None
    assert bronze_ids(spark, cfg, day1) == set(
        state_as_of(data.orders, ("order_id",), day1)["order_id"].to_pylist()
    )

    for previous, day in ((day1, day2), (day2, day3)):
        load_into_mysql(data, cfg, up_to=day)
        result = pull(spark, cfg, day)
        assert (result.low, result.high) == (end_of(previous), end_of(day))
        want = changed_between(data.orders, end_of(previous), end_of(day))
        assert want, "no order changed: the test would prove nothing"
        assert bronze_ids(spark, cfg, day) == want

    # A re-run must not re-pull: the source has moved on (day 3 changed day-2 orders).
    kept = bronze_ids(spark, cfg, day2)
    again = pull(spark, cfg, day2)
    assert again.skipped
    assert (again.low, again.high) == (end_of(day1), end_of(day2))
    assert bronze_ids(spark, cfg, day2) == kept


def test_full_reload_takes_every_row(spark, shop, empty_shop_db):
    cfg, data = shop
    day = START + dt.timedelta(days=3)
    load_into_mysql(data, cfg, up_to=day)
    result = pull(spark, cfg, day, full=True)
    assert result.low is None
    assert bronze_ids(spark, cfg, day) == set(
        state_as_of(data.orders, ("order_id",), day)["order_id"].to_pylist()
    )


def test_the_read_is_split_into_parallel_range_queries(spark, shop):
    cfg, _ = shop
    frame = ingest_mysql.read_window(
        spark, cfg, SHOP_TABLES["orders"], low=None, high=end_of(START)
    )
    assert frame.rdd.getNumPartitions() == cfg.mysql.read_partitions
    assert [f.dataType.simpleString() for f in frame.schema.fields][:3] == [
        "string",
        "string",
        "timestamp",
    ]


def test_an_unknown_table_is_a_clear_error(spark, shop):
    from lakehouse.errors import SourceUnavailableError

    cfg, _ = shop
    with pytest.raises(SourceUnavailableError, match="known: "):
        ingest_mysql.run(spark, cfg, table="nope", context=RunContext.start("ingest_mysql", START))
