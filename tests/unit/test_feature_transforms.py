"""Customer feature transforms (docs/features.md) on tiny DataFrames typed by the silver and
bronze contracts. Every expected value is worked out by hand from the rows above it."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import statistics
from decimal import Decimal

import pytest
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

from feature_store.transforms import (
    SPEND_CATEGORIES,
    TRANSFORMS,
    customer_activity,
    customer_cashflow,
    customer_fraud_profile,
    customer_income,
    customer_lifestyle,
    customer_orders,
    customer_returns,
    customer_spend,
    customer_velocity,
)
from schemas.shop import SHOP_TABLES, SILVER_SHOP
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.unit

D = dt.date(2024, 3, 31)  # as_of; its 90-day window is 2024-01-02 .. 2024-03-31
UTC = dt.UTC
CATEGORIES = (
    "groceries", "dining", "transport", "fuel", "shopping", "electronics", "travel", "luxury",
    "health", "entertainment", "cash", "kids", "education",
)  # fmt: skip
SPEND = ", ".join(
    [
        "customer_id string",
        *(
            f"spend_{stat}_{n}d {'long' if stat == 'count' else 'double'}"
            for n in (7, 30, 90)
            for stat in ("sum", "count", "mean", "std")
        ),
        *(f"spend_{c}_30d double" for c in CATEGORIES),
    ]
)
LIFESTYLE = "customer_id string, share_travel_90d double, share_luxury_90d double, share_health_90d double, share_emi_90d double"  # noqa: E501
ACTIVITY = "customer_id string, txn_count_30d long, active_days_30d long, days_since_last_txn double, spend_trend_30d double"  # noqa: E501
CASHFLOW = "customer_id string, inflow_30d double, outflow_30d double, net_flow_30d double, overdraft_days_30d long"  # noqa: E501
INCOME = "customer_id string, regular_income_90d double, has_regular_income boolean, recurring_payment_count_90d long, recurring_outflow_90d double, merchant_count_90d long"  # noqa: E501
FRAUD = "customer_id string, home_location string, foreign_txn_share_90d double"
VELOCITY = "customer_id string, feature_ts timestamp, txn_count_1h long, txn_count_24h long, spend_24h double"  # noqa: E501
ORDERS = (
    "customer_id string, order_count_90d long, order_value_90d double, avg_order_value_90d double"
)
RETURNS = "customer_id string, return_count_90d long, cancel_count_90d long"

_txn_ids = itertools.count(1)


def day(days_before: int) -> dt.date:
    return D - dt.timedelta(days=days_before)


def at(date: dt.date, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    # Aware UTC: PySpark reads a naive datetime in the machine's local time zone.
    return dt.datetime.combine(date, dt.time(hour, minute, second), tzinfo=UTC)


def txn(customer, when, amount, *, merchant=None, category=None, location=None, currency="EUR"):
    """A silver.transactions row; ``when`` is a date (noon UTC) or an aware datetime."""
    ts = when if isinstance(when, dt.datetime) else at(when)
    return (
        f"T{next(_txn_ids)}", customer, "acct-token", ts, ts.date(), Decimal(amount), currency,
        merchant and merchant.upper(), merchant, None, category, "card", location, None, "run-1",
    )  # fmt: skip


def transactions(spark, *rows):
    return spark.createDataFrame(list(rows), SILVER_TRANSACTIONS.schema)


def frame(spark, ddl, rows):
    return spark.createDataFrame(rows, ddl)


def spend_row(customer, stats, categories=None):
    """``stats``: (sum, count, mean, std) for 7, 30 and 90 days; ``categories``: the non-zero
    30-day spend by category."""
    categories = categories or {}
    per_category = [categories.get(c, 0.0) for c in CATEGORIES]
    return (customer, *stats[7], *stats[30], *stats[90], *per_category)


# --- the registry ------------------------------------------------------------------------


def test_registry_lists_every_view_with_the_days_of_source_it_reads():
    assert dict(TRANSFORMS) == {
        "customer_spend": (customer_spend, 90),
        "customer_lifestyle": (customer_lifestyle, 90),
        "customer_activity": (customer_activity, 90),
        "customer_cashflow": (customer_cashflow, 30),
        "customer_income": (customer_income, 90),
        "customer_fraud_profile": (customer_fraud_profile, 90),
        "customer_velocity": (customer_velocity, 2),
        "customer_orders": (customer_orders, 90),
        "customer_returns": (customer_returns, 90),
    }


def test_spend_categories_are_the_thirteen_of_the_definition():
    assert SPEND_CATEGORIES == CATEGORIES


@pytest.mark.parametrize(
    ("transform", "contract", "ddl"),
    [
        pytest.param(customer_spend, SILVER_TRANSACTIONS, SPEND, id="spend"),
        pytest.param(customer_lifestyle, SILVER_TRANSACTIONS, LIFESTYLE, id="lifestyle"),
        pytest.param(customer_activity, SILVER_TRANSACTIONS, ACTIVITY, id="activity"),
        pytest.param(customer_cashflow, SILVER_TRANSACTIONS, CASHFLOW, id="cashflow"),
        pytest.param(customer_income, SILVER_TRANSACTIONS, INCOME, id="income"),
        pytest.param(customer_fraud_profile, SILVER_TRANSACTIONS, FRAUD, id="fraud_profile"),
        pytest.param(customer_velocity, SILVER_TRANSACTIONS, VELOCITY, id="velocity"),
        pytest.param(customer_orders, SILVER_SHOP["orders"], ORDERS, id="orders"),
        pytest.param(customer_returns, SHOP_TABLES["orders"], RETURNS, id="returns"),
    ],
)
def test_output_is_customer_id_then_the_features_in_their_order_and_types(
    spark, transform, contract, ddl
):
    source = spark.createDataFrame([], contract.schema)
    got = transform(source, as_of=D).schema
    assertSchemaEqual(got, frame(spark, ddl, []).schema)


# --- customer_spend ----------------------------------------------------------------------


def test_spend_windows_count_d_minus_6_in_7_days_not_d_minus_7_nor_after_as_of(spark):
    rows = transactions(
        spark,
        txn("c1", day(0), "-10.00", category="groceries"),
        txn("c1", day(0), "500.00", category="groceries"),  # a credit: no spend
        txn("c1", day(6), "-20.00", category="dining"),  # last day of the 7-day window
        txn("c1", day(7), "-40.00", category="groceries"),  # first day outside it
        txn("c1", day(29), "-100.00", category="travel"),  # last day of the 30-day window
        txn("c1", day(30), "-1000.00", category="travel"),
        txn("c1", day(89), "-5.00", category="kids"),  # last day of the 90-day window
        txn("c1", day(90), "-7777.00", category="kids"),
        txn("c1", day(-1), "-999.00", category="groceries"),  # after as_of
    )
    std_30d = math.sqrt((32.5**2 + 22.5**2 + 2.5**2 + 57.5**2) / 3)  # 10, 20, 40, 100
    want = spend_row(
        "c1",
        {
            7: (30.0, 2, 15.0, math.sqrt(50)),
            30: (170.0, 4, 42.5, std_30d),
            90: (1175.0, 6, 1175 / 6, statistics.stdev([10, 20, 40, 100, 1000, 5])),
        },
        {"groceries": 50.0, "dining": 20.0, "travel": 100.0},
    )
    assertDataFrameEqual(customer_spend(rows, as_of=D), frame(spark, SPEND, [want]))


def test_spend_std_is_null_below_two_debits(spark):
    rows = transactions(
        spark,
        txn("c1", day(0), "-10.00", category="cash"),
        txn("c1", day(1), "100.00"),
        txn("c1", day(40), "-30.00"),  # second debit: only the 90-day std exists
    )
    want = spend_row(
        "c1",
        {
            7: (10.0, 1, 10.0, None),
            30: (10.0, 1, 10.0, None),
            90: (40.0, 2, 20.0, math.sqrt(200)),
        },
        {"cash": 10.0},
    )
    assertDataFrameEqual(customer_spend(rows, as_of=D), frame(spark, SPEND, [want]))


def test_spend_mean_is_null_without_debits_but_the_customer_keeps_a_row(spark):
    rows = transactions(spark, txn("c2", day(3), "50.00"), txn("c2", day(3), "0.00"))
    no_debits = (0.0, 0, None, None)
    want = spend_row("c2", {7: no_debits, 30: no_debits, 90: no_debits})
    assertDataFrameEqual(customer_spend(rows, as_of=D), frame(spark, SPEND, [want]))


# --- customer_lifestyle ------------------------------------------------------------------


def test_lifestyle_shares_divide_by_all_90_day_spend(spark):
    rows = transactions(
        spark,
        txn("c1", day(1), "-30.00", category="travel"),
        txn("c1", day(80), "-10.00", category="luxury"),
        txn("c1", day(2), "-20.00", category="loan_emi"),
        txn("c1", day(3), "-40.00", category=None),  # counts in all spend only
        txn("c1", day(4), "900.00", category="travel"),  # a refund is not spend
        txn("c1", day(95), "-500.00", category="health"),  # outside 90 days
        txn("c2", day(5), "100.00", category="travel"),  # no spend at all
    )
    want = [("c1", 0.3, 0.1, 0.0, 0.2), ("c2", None, None, None, None)]
    assertDataFrameEqual(customer_lifestyle(rows, as_of=D), frame(spark, LIFESTYLE, want))


# --- customer_activity -------------------------------------------------------------------


def test_activity_counts_all_transactions_and_distinct_days_in_30_days(spark):
    rows = transactions(
        spark,
        txn("c1", at(day(0), 10), "-5.00", merchant="Aldi"),
        txn("c1", at(day(0), 18), "100.00", merchant="Acme"),  # credits count
        txn("c1", at(day(29), 8), "0.00", merchant="Aldi"),  # so do zero amounts
        txn("c1", day(30), "-50.00", merchant="Shell"),
        txn("c1", day(60), "-30.00"),  # no merchant
        txn("c1", day(89), "-20.00", merchant="Lidl"),
    )
    # last txn D 18:00 -> 6 h before the cutoff; trend 5 / ((50 + 30 + 20) / 2)
    want = [("c1", 3, 2, 0.25, 0.1)]
    assertDataFrameEqual(customer_activity(rows, as_of=D), frame(spark, ACTIVITY, want))


def test_days_since_last_txn_runs_from_the_cutoff_and_counts_in_90_days_only(spark):
    rows = transactions(
        spark,
        txn("c2", at(day(45), 12), "-10.00", merchant="Aldi"),
        txn("c2", at(day(-1), 9), "-10.00", merchant="Aldi"),  # after as_of: unseen
    )
    # nothing in 30 days: counts 0, trend 0 / (10 / 2) = 0; 45.5 days before D+1 00:00
    want = [("c2", 0, 0, 45.5, 0.0)]
    assertDataFrameEqual(customer_activity(rows, as_of=D), frame(spark, ACTIVITY, want))


def test_spend_trend_is_null_without_spend_in_the_60_days_before(spark):
    rows = transactions(
        spark,
        txn("c3", at(day(2), 12), "-10.00"),
        txn("c3", at(day(40), 12), "200.00"),  # a credit earlier: still no earlier spend
    )
    want = [("c3", 1, 1, 2.5, None)]
    assertDataFrameEqual(customer_activity(rows, as_of=D), frame(spark, ACTIVITY, want))


# --- customer_cashflow -------------------------------------------------------------------


def test_cashflow_separates_credits_from_debits_and_ignores_zero_amounts(spark):
    rows = transactions(
        spark,
        txn("c1", day(29), "100.00"),
        txn("c1", day(10), "-30.00"),
        txn("c1", day(0), "-20.00"),
        txn("c1", day(5), "0.00"),
        txn("c1", day(30), "-500.00"),  # outside 30 days
    )
    want = [("c1", 100.0, 50.0, 50.0, 0)]
    assertDataFrameEqual(customer_cashflow(rows, as_of=D), frame(spark, CASHFLOW, want))


def test_overdraft_days_count_the_empty_days_of_a_negative_balance(spark):
    rows = transactions(
        spark,
        txn("c1", day(30), "-1000.00"),  # before the window: it opens at 0
        txn("c1", day(29), "-10.00"),  # -10 from D-29 ..
        txn("c1", day(20), "30.00"),  # .. to D-21 (9 days); +20 from D-20
        txn("c1", day(5), "-25.00"),  # -5 from D-5 to D (6 days)
        txn("c2", day(3), "-50.00"),  # out and back in on one day: the day ends at 0
        txn("c2", day(3), "50.00"),
    )
    want = [("c1", 30.0, 35.0, -5.0, 15), ("c2", 50.0, 50.0, 0.0, 0)]
    assertDataFrameEqual(customer_cashflow(rows, as_of=D), frame(spark, CASHFLOW, want))


def test_a_balance_of_exactly_zero_is_not_overdrawn(spark):
    # As doubles 0.3 - 0.1 - 0.2 is -2.8e-17; the balance is in exact cents.
    rows = transactions(
        spark,
        txn("c1", day(0), "0.30"),
        txn("c1", day(0), "-0.10"),
        txn("c1", day(0), "-0.20"),
    )
    want = [("c1", 0.3, 0.3, 0.0, 0)]
    assertDataFrameEqual(customer_cashflow(rows, as_of=D), frame(spark, CASHFLOW, want))


# --- customer_income ---------------------------------------------------------------------


def test_monthly_credits_in_three_months_are_regular_income(spark):
    rows = transactions(
        spark,
        txn("c1", dt.date(2024, 1, 25), "3000.00", merchant="Acme"),
        txn("c1", dt.date(2024, 2, 25), "3000.00", merchant="Acme"),
        txn("c1", dt.date(2024, 3, 25), "3300.00", merchant="Acme"),
        txn("c2", dt.date(2024, 1, 25), "3000.00"),  # no counterparty: never regular
        txn("c2", dt.date(2024, 2, 25), "3000.00"),
        txn("c2", dt.date(2024, 3, 25), "3000.00"),
    )
    want = [("c1", 3100.0, True, 0, 0.0, 1), ("c2", 0.0, False, 0, 0.0, 0)]
    assertDataFrameEqual(customer_income(rows, as_of=D), frame(spark, INCOME, want))


def test_weekly_credits_are_not_regular_income(spark):
    weekly = [dt.date(2024, 1, 5) + dt.timedelta(weeks=w) for w in range(12)]  # Jan .. Mar
    rows = transactions(spark, *(txn("c1", d, "500.00", merchant="Gigs") for d in weekly))
    want = [("c1", 0.0, False, 0, 0.0, 1)]
    assertDataFrameEqual(customer_income(rows, as_of=D), frame(spark, INCOME, want))


def test_one_credit_more_than_months_is_still_regular(spark):
    rows = transactions(
        spark,
        txn("c1", dt.date(2024, 2, 1), "100.00", merchant="Acme"),
        txn("c1", dt.date(2024, 2, 29), "100.00", merchant="Acme"),
        txn("c1", dt.date(2024, 3, 28), "100.00", merchant="Acme"),  # 3 rows in 2 months
    )
    want = [("c1", 100.0, True, 0, 0.0, 1)]
    assertDataFrameEqual(customer_income(rows, as_of=D), frame(spark, INCOME, want))


def test_credits_in_a_single_month_are_not_regular(spark):
    rows = transactions(
        spark,
        txn("c1", dt.date(2024, 3, 1), "900.00", merchant="Acme"),
        txn("c1", dt.date(2024, 3, 29), "900.00", merchant="Acme"),
        txn("c1", dt.date(2024, 1, 1), "900.00", merchant="Acme"),  # before the window
    )
    want = [("c1", 0.0, False, 0, 0.0, 1)]
    assertDataFrameEqual(customer_income(rows, as_of=D), frame(spark, INCOME, want))


def test_recurring_payments_spread_at_most_a_quarter_of_the_largest(spark):
    rows = transactions(
        spark,
        # 10.40 - 7.80 is exactly 0.25 * 10.40 (as doubles it would be a hair more): recurring
        txn("c1", dt.date(2024, 1, 3), "-10.40", merchant="Gym"),
        txn("c1", dt.date(2024, 2, 3), "-7.80", merchant="Gym"),
        txn("c1", dt.date(2024, 3, 3), "-10.40", merchant="Gym"),
        # spread 2.61 > 2.60: regular, but not recurring
        txn("c1", dt.date(2024, 1, 9), "-10.40", merchant="Phone"),
        txn("c1", dt.date(2024, 2, 9), "-7.79", merchant="Phone"),
        txn("c1", dt.date(2024, 1, 10), "-1000.00", merchant="Landlord"),
        txn("c1", dt.date(2024, 2, 10), "-1000.00", merchant="Landlord"),
        # the same counterparty's credit is a separate series, and not regular
        txn("c1", dt.date(2024, 2, 11), "50.00", merchant="Landlord"),
    )
    want = [("c1", 0.0, False, 2, (28.60 + 2000.00) / 3, 3)]
    assertDataFrameEqual(customer_income(rows, as_of=D), frame(spark, INCOME, want))


def test_merchant_count_takes_every_direction_and_zero_amounts_but_no_null(spark):
    rows = transactions(
        spark,
        txn("c1", day(0), "-5.00", merchant="Aldi"),
        txn("c1", day(0), "100.00", merchant="Acme"),  # credits count
        txn("c1", day(29), "0.00", merchant="Aldi"),  # zero amounts too (Aldi once)
        txn("c1", day(30), "0.00", merchant="Shell"),
        txn("c1", day(60), "-30.00"),  # no merchant
        txn("c1", day(89), "-20.00", merchant="Lidl"),
        txn("c1", day(90), "-20.00", merchant="Rewe"),  # before the 90 days
    )
    want = [("c1", 0.0, False, 0, 0.0, 4)]
    assertDataFrameEqual(customer_income(rows, as_of=D), frame(spark, INCOME, want))


# --- customer_fraud_profile --------------------------------------------------------------


def test_home_location_is_the_most_frequent_with_ties_to_the_alphabetically_first(spark):
    rows = transactions(
        spark,
        *(txn("c1", day(1), "-1.00", location=place) for place in ["Berlin", "Aachen"] * 2),
        txn("c1", day(2), "-1.00", location="Zurich"),
        *(txn("c1", day(3), "-1.00", location=place) for place in [None, ""] * 3),  # unknown
        *(txn("c2", day(1), "-1.00", location=place) for place in ["Zurich", "Zurich", "Bern"]),
        txn("c3", day(1), "-1.00", location=""),
        txn("c3", day(1), "-1.00", location=None),
        txn("c3", day(95), "-1.00", location="Oslo"),  # outside 90 days
    )
    want = [("c1", "Aachen", 0.0), ("c2", "Zurich", 0.0), ("c3", None, 0.0)]
    assertDataFrameEqual(customer_fraud_profile(rows, as_of=D), frame(spark, FRAUD, want))


def test_foreign_share_counts_every_transaction_not_in_euros(spark):
    rows = transactions(
        spark,
        txn("c1", day(1), "-10.00", currency="USD", location="Paris"),
        txn("c1", day(2), "2000.00", currency="GBP", location="Paris"),  # credits count too
        txn("c1", day(3), "-10.00", location="Paris"),
        txn("c1", day(4), "0.00", location="Paris"),
        txn("c1", day(91), "-10.00", currency="USD"),  # outside 90 days
    )
    want = [("c1", "Paris", 0.5)]
    assertDataFrameEqual(customer_fraud_profile(rows, as_of=D), frame(spark, FRAUD, want))


# --- customer_velocity -------------------------------------------------------------------


def test_velocity_ranges_are_half_open_and_hold_every_transaction_of_the_same_second(spark):
    rows = transactions(
        spark,
        txn("c1", at(day(1), 10, 0, 0), "-1000.00"),  # exactly 24 h before 10:00:00: out
        txn("c1", at(day(1), 10, 0, 1), "-2.00"),
        txn("c1", at(day(0), 10, 0, 0), "-10.00"),
        txn("c1", at(day(0), 10, 0, 0), "-5.00"),  # same second: one row, both counted
        txn("c1", at(day(0), 10, 59, 59), "100.00"),  # a credit counts but is no spend
        txn("c1", at(day(0), 11, 0, 0), "-20.00"),  # 10:00:00 is exactly 1 h back: out
        txn("c2", at(day(0), 11, 0, 0), "-7.00"),  # another customer's
        txn("c1", at(day(-1), 0, 0, 0), "-1.00"),  # after as_of
    )
    want = [
        ("c1", at(day(0), 10, 0, 0), 2, 3, 17.0),
        ("c1", at(day(0), 10, 59, 59), 3, 3, 15.0),  # D-1 10:00:01 is over 24 h back
        ("c1", at(day(0), 11, 0, 0), 2, 4, 35.0),
        ("c2", at(day(0), 11, 0, 0), 1, 1, 7.0),
    ]
    assertDataFrameEqual(customer_velocity(rows, as_of=D), frame(spark, VELOCITY, want))


def test_velocity_looks_back_across_midnight_but_has_rows_for_the_run_date_only(spark):
    rows = transactions(
        spark,
        txn("c1", at(day(2), 23, 59, 59), "-100.00"),  # more than 24 h before: out
        txn("c1", at(day(1), 0, 30, 0), "-1.00"),
        txn("c1", at(day(1), 23, 30, 0), "-7.00"),
        txn("c1", at(day(0), 0, 15, 0), "-3.00"),
    )
    want = [("c1", at(day(0), 0, 15, 0), 2, 3, 11.0)]
    assertDataFrameEqual(customer_velocity(rows, as_of=D), frame(spark, VELOCITY, want))


def test_velocity_over_several_days_has_rows_for_each_and_looks_back_before_the_first(spark):
    rows = transactions(
        spark,
        txn("c1", at(day(2), 23, 0, 0), "-4.00"),  # the day before the first: lookback only
        txn("c1", at(day(1), 22, 30, 0), "-1.00"),
        txn("c1", at(day(0), 22, 0, 0), "-2.00"),
    )
    want = [
        ("c1", at(day(1), 22, 30, 0), 1, 2, 5.0),
        ("c1", at(day(0), 22, 0, 0), 1, 2, 3.0),
    ]
    got = customer_velocity(rows, as_of=D, days=2)
    assertDataFrameEqual(got, frame(spark, VELOCITY, want))


def test_velocity_refuses_fewer_than_one_day(spark):
    with pytest.raises(ValueError, match="days=0"):
        customer_velocity(transactions(spark), as_of=D, days=0)


# --- customer_orders, customer_returns ---------------------------------------------------


def order(order_id, customer, placed: dt.date, status, amount, *, updated: dt.date):
    return (
        order_id, customer, at(placed, 9), status, "web", "EUR", Decimal(amount),
        at(updated, 18), placed, "run-1",
    )  # fmt: skip


def version(order_id, customer, status, *, updated: dt.date, placed: dt.date):
    return (
        order_id, customer, at(placed, 9), status, "web", "EUR", Decimal("10.00"),
        at(updated, 18), "run-1", updated,
    )  # fmt: skip


def test_orders_count_every_order_placed_in_90_days_whatever_its_status(spark):
    orders = spark.createDataFrame(
        [
            order("o1", "c1", day(0), "placed", "10.00", updated=day(0)),
            order("o2", "c1", day(10), "cancelled", "20.00", updated=day(10)),
            order("o3", "c1", day(89), "returned", "30.50", updated=day(70)),
            order("o4", "c1", day(90), "delivered", "999.00", updated=day(80)),  # placed before
            order("o5", "c1", day(-1), "placed", "999.00", updated=day(-1)),  # after as_of
            order("o6", "c2", day(5), "delivered", "7.00", updated=day(1)),
        ],
        SILVER_SHOP["orders"].schema,
    )
    want = [("c1", 3, 60.5, 60.5 / 3), ("c2", 1, 7.0, 7.0)]
    assertDataFrameEqual(customer_orders(orders, as_of=D), frame(spark, ORDERS, want))


def test_returns_count_distinct_orders_by_the_date_their_version_was_updated(spark):
    versions = spark.createDataFrame(
        [
            # placed long before the window, returned inside it: counts
            version("o1", "c1", "placed", updated=day(100), placed=day(100)),
            version("o1", "c1", "returned", updated=day(80), placed=day(100)),
            # returned the day before the window opens: does not
            version("o2", "c1", "returned", updated=day(90), placed=day(95)),
            version("o2", "c1", "returned", updated=day(90), placed=day(95)),
            # two cancelled versions of one order: one order
            version("o3", "c1", "cancelled", updated=day(2), placed=day(2)),
            version("o3", "c1", "cancelled", updated=day(1), placed=day(2)),
            version("o4", "c1", "returned", updated=day(-1), placed=day(3)),  # after as_of
            version("o5", "c2", "delivered", updated=day(0), placed=day(4)),
        ],
        SHOP_TABLES["orders"].schema,
    )
    want = [("c1", 1, 1), ("c2", 0, 0)]
    assertDataFrameEqual(customer_returns(versions, as_of=D), frame(spark, RETURNS, want))
