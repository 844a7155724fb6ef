"""Gold transforms on tiny DataFrames: point-in-time regions, month bounds, funnel stages,
ranking."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from lakehouse import gold

pytestmark = pytest.mark.unit

D = dt.date(2024, 3, 10)
T = dt.datetime
ORDERS = "order_id string, customer_id string, order_ts timestamp, order_date date, status string, channel string, currency string"  # noqa: E501
CUSTOMERS = "customer_id string, region string, income_band string, valid_from timestamp, valid_to timestamp, is_current boolean"  # noqa: E501
TXNS = "customer_id string, txn_date date, amount decimal(18,2), merchant_category string, category string"  # noqa: E501


def orders(spark, rows):
    return spark.createDataFrame(rows, ORDERS)


def customers(spark):
    moved = T(2024, 3, 10, 12)
    return spark.createDataFrame(
        [
            ("c1", "North", "40-70k", T(2020, 1, 1), moved, False),
            ("c1", "South", "40-70k", moved, None, True),
            ("c2", "East", "<20k", T(2020, 1, 1), None, True),
        ],
        CUSTOMERS,
    )


def test_daily_sales_restate_7_days_by_region_as_of_the_order_without_cancelled(spark):
    placed = orders(
        spark,
        [
            ("o1", "c1", T(2024, 3, 10, 9), D, "placed", "web", "EUR"),  # before the move
            ("o2", "c1", T(2024, 3, 10, 15), D, "shipped", "web", "EUR"),  # after it
            ("o3", "c2", T(2024, 3, 10, 8), D, "cancelled", "app", "EUR"),
            ("o4", "c2", T(2024, 3, 9, 8), D - dt.timedelta(days=1), "placed", "app", "EUR"),
            ("o5", "zz", T(2024, 3, 10, 8), D, "placed", "app", "GBP"),  # unknown customer
            ("o6", "c2", T(2024, 3, 3, 8), dt.date(2024, 3, 3), "placed", "app", "EUR"),  # old
        ],
    )
    items = spark.createDataFrame(
        [("o1", 1, "p1", 2, Decimal("5.00")), ("o2", 1, "p2", 1, Decimal("7.50")),
         ("o3", 1, "p1", 9, Decimal("5.00")), ("o4", 1, "p1", 1, Decimal("5.00")),
         ("o5", 1, "p9", 1, Decimal("1.00")), ("o6", 1, "p1", 1, Decimal("5.00"))],
        "order_id string, line_no int, product_id string, quantity int, unit_price decimal(12,2)",
    )  # fmt: skip
    products = spark.createDataFrame(
        [("p1", "home"), ("p2", "toys")], "product_id string, category string"
    )
    got = gold.daily_sales(placed, items, products, customers(spark), run_date=D).collect()
    rows = {
        (r["region"], r["category"], r["currency"]): (r["orders"], r["units"], r["revenue"])
        for r in got
    }
    assert rows == {
        ("East", "home", "EUR"): (1, 1, Decimal("5.00")),  # o4, the day before: restated
        ("North", "home", "EUR"): (1, 2, Decimal("10.00")),
        ("South", "toys", "EUR"): (1, 1, Decimal("7.50")),
        ("unknown", "unknown", "GBP"): (1, 1, Decimal("1.00")),
    }


def test_customer_monthly_counts_the_month_to_date(spark):
    txns = spark.createDataFrame(
        [
            ("c1", dt.date(2024, 2, 29), Decimal("-99.00"), "travel", None),  # last month
            ("c1", dt.date(2024, 3, 1), Decimal("2000.00"), None, "salary"),
            ("c1", dt.date(2024, 3, 2), Decimal("-30.00"), "groceries", None),
            ("c1", dt.date(2024, 3, 2), Decimal("-30.00"), "dining", None),  # tie: alphabetical
            ("c1", dt.date(2024, 3, 11), Decimal("-500.00"), "travel", None),  # after run date
        ],
        TXNS,
    )
    (row,) = gold.customer_monthly(txns, run_date=D).collect()
    assert row["month"] == dt.date(2024, 3, 1)
    assert (row["transactions"], row["inflow"], row["outflow"], row["net"]) == (
        3, Decimal("2000.00"), Decimal("60.00"), Decimal("1940.00"),
    )  # fmt: skip
    assert (row["active_days"], row["top_category"]) == (2, "dining")


def test_order_funnel_stages_imply_the_earlier_ones(spark):
    o = orders(
        spark,
        [
            (f"o{i}", "c1", T(2024, 3, 1), dt.date(2024, 3, 1), status, "web", "EUR")
            for i, status in enumerate(["placed", "cancelled", "shipped", "delivered", "returned"])
        ]
        + [("old", "c1", T(2024, 2, 9), dt.date(2024, 2, 9), "placed", "web", "EUR")],
    )
    (row,) = gold.order_funnel(o, run_date=D).collect()
    assert (row["placed"], row["cancelled"], row["shipped"], row["delivered"], row["returned"]) == (
        5, 1, 3, 2, 1,
    )  # fmt: skip
    assert row["order_date"] == dt.date(2024, 3, 1)


def test_top_customers_rank_by_30_day_outflow(spark):
    txns = spark.createDataFrame(
        [
            ("c1", D, Decimal("-10.00"), "x", None),
            ("c2", D, Decimal("-50.00"), "x", None),
            ("c2", D, Decimal("900.00"), None, "salary"),  # inflow is not spend
            ("c3", D - dt.timedelta(days=40), Decimal("-999.00"), "x", None),  # too old
        ],
        TXNS,
    )
    o = orders(spark, [("o1", "c1", T(2024, 3, 9), dt.date(2024, 3, 9), "placed", "web", "EUR")])
    got = gold.top_customers(txns, o, customers(spark), run_date=D, top=1).collect()
    assert [
        (r["rank"], r["customer_id"], r["spend_30d"], r["orders_30d"], r["region"]) for r in got
    ] == [(1, "c2", Decimal("50.00"), 0, "East")]
