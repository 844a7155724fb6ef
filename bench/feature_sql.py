"""The customer features of docs/features.md in DuckDB SQL: an independent check of the Spark ones.

Written from the specification alone, never from ``feature_store/transforms.py``: two
implementations that agree on generated data are evidence that both read the page the same
way. ``feature_tables`` computes every view for one as-of date; ``compare`` lists where two
results of a view differ (missing or extra keys, values, schema).

    con = duckdb.connect()
    views = feature_tables(
        con,
        transactions="read_parquet('silver/transactions/**/*.parquet', hive_partitioning=true)",
        orders=None,
        order_versions=None,
        as_of=dt.date(2024, 3, 31),
    )
    assert compare(views["customer_spend"], spark_result, keys=["customer_id"]) == []

Reading of the page where a choice had to be made:
- money is summed as double (the page converts amounts to double), but the two tests that
  decide on a sign or a threshold (the cashflow's running balance below 0, a recurring
  series' ``max - min <= 0.25 * max``) use the exact decimal amounts, so a boundary case is
  decided by the recorded cents and not by rounding;
- a row's event date is its ``txn_date`` (``order_date`` for orders, ``to_date(updated_at)``
  for order versions); rows without a customer id belong to no customer and are left out;
- ``transaction_risk`` is computed per request, not stored, so it has no table here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

__all__ = [
    "CATEGORIES",
    "KEYS",
    "SOURCES",
    "Differences",
    "compare",
    "feature_tables",
    "find_differences",
]

CATEGORIES = (
    "groceries",
    "dining",
    "transport",
    "fuel",
    "shopping",
    "electronics",
    "travel",
    "luxury",
    "health",
    "entertainment",
    "cash",
    "kids",
    "education",
)
LIFESTYLE_SHARES = {"travel": "travel", "luxury": "luxury", "health": "health", "emi": "loan_emi"}
SPEND_WINDOWS = (7, 30, 90)
SECONDS_PER_HOUR = 3_600
SECONDS_PER_DAY = 86_400
MICROS_PER_SECOND = 1_000_000
HOME_CURRENCY = "EUR"

# The source each view reads, by the name of the feature_tables argument that supplies it.
SOURCES: dict[str, str] = {
    "customer_spend": "transactions",
    "customer_lifestyle": "transactions",
    "customer_activity": "transactions",
    "customer_cashflow": "transactions",
    "customer_income": "transactions",
    "customer_fraud_profile": "transactions",
    "customer_velocity": "transactions",
    "customer_orders": "orders",
    "customer_returns": "order_versions",
}
KEYS: dict[str, tuple[str, ...]] = {
    view: ("customer_id", "feature_ts") if view == "customer_velocity" else ("customer_id",)
    for view in SOURCES
}
# The temporary views feature_tables puts over the caller's relations for the time of a call.
_RELATIONS = {
    "transactions": "_feature_sql_transactions",
    "orders": "_feature_sql_orders",
    "order_versions": "_feature_sql_order_versions",
}


def feature_tables(
    con: duckdb.DuckDBPyConnection,
    *,
    transactions: str,
    orders: str | None,
    order_versions: str | None,
    as_of: dt.date,
    velocity_days: int = 1,
    views: Collection[str] | None = None,
) -> dict[str, pa.Table]:
    """Every view of docs/features.md as of ``as_of``: view name -> Arrow table, rows sorted by key.

    ``transactions``, ``orders`` and ``order_versions`` are DuckDB relation expressions written
    by the caller (a view name or ``read_parquet(...)``; they are pasted into SQL, so never pass
    text from outside the program) with the columns of silver.transactions, silver.orders and
    bronze.shop_orders. Views whose source is None are left out, and so are views not in
    ``views`` when it is given. ``customer_velocity`` holds the transactions dated
    ``as_of - velocity_days + 1 .. as_of``.
    """
    if velocity_days < 1:
        raise ValueError(f"feature_tables: velocity_days={velocity_days}; use 1 or more")
    unknown = sorted(set(views or ()) - set(SOURCES))
    if unknown:
        raise ValueError(f"feature_tables: unknown views {unknown}; choose from {sorted(SOURCES)}")
    given = {"transactions": transactions, "orders": orders, "order_versions": order_versions}
    sources = {name: relation for name, relation in given.items() if relation is not None}
    params = _parameters(as_of, velocity_days=velocity_days)
    try:
        for name, relation in sources.items():
            con.execute(f"CREATE OR REPLACE TEMP VIEW {_RELATIONS[name]} AS FROM {relation}")
        return {
            view: _query(con, _VIEW_SQL[view](), params)
            for view, source in SOURCES.items()
            if source in sources and (views is None or view in views)
        }
    finally:
        for name in sources:
            con.execute(f"DROP VIEW IF EXISTS {_RELATIONS[name]}")


def _parameters(as_of: dt.date, *, velocity_days: int) -> dict[str, object]:
    day = dt.timedelta(days=1)
    cutoff = dt.datetime.combine(as_of + day, dt.time(), tzinfo=dt.UTC)
    return {
        "as_of": as_of,
        "next_day": as_of + day,
        "cutoff_us": int(cutoff.timestamp()) * MICROS_PER_SECOND,
        **{f"from_{n}d": as_of - (n - 1) * day for n in SPEND_WINDOWS},
        # spend_trend_30d's earlier stretch, D-89 .. D-30
        "earlier_until": as_of - 30 * day,
        "velocity_from": as_of - (velocity_days - 1) * day,
        "velocity_lookback_from": as_of - velocity_days * day,
    }


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> pa.Table:
    used = set(re.findall(r"\$(\w+)", sql))
    return con.execute(sql, {k: v for k, v in params.items() if k in used}).to_arrow_table()


def _transactions(first_day: str) -> str:
    """The transactions dated ``first_day`` .. as_of, with the derived columns every view uses.
    ``txn_ts`` becomes microseconds since the epoch, whether it was read as TIMESTAMP (naive
    UTC) or TIMESTAMPTZ."""
    return f"""
    txns AS (
        SELECT
            customer_id,
            CAST(txn_date AS DATE) AS txn_date,
            epoch_us(txn_ts) AS ts_us,
            CAST(amount AS DOUBLE) AS amount,
            amount AS exact_amount,
            CASE WHEN amount < 0 THEN -CAST(amount AS DOUBLE) END AS spend,
            currency,
            merchant,
            category,
            location
        FROM {_RELATIONS["transactions"]}
        WHERE txn_date BETWEEN ${first_day} AND $as_of AND customer_id IS NOT NULL
    )"""


def _spend_sql() -> str:
    inner, outer = [], []
    for n in SPEND_WINDOWS:
        in_window = f"txn_date >= $from_{n}d"
        inner += [
            f"coalesce(sum(spend) FILTER (WHERE {in_window}), 0) AS spend_sum_{n}d",
            f"count(spend) FILTER (WHERE {in_window}) AS spend_count_{n}d",
            f"stddev_samp(spend) FILTER (WHERE {in_window}) AS spend_std_{n}d",
        ]
        outer += [
            f"spend_sum_{n}d",
            f"spend_count_{n}d",
            f"spend_sum_{n}d / NULLIF(spend_count_{n}d, 0) AS spend_mean_{n}d",
            f"spend_std_{n}d",
        ]
    for category in CATEGORIES:  # module constants, not input
        column = f"spend_{category}_30d"
        inner.append(
            f"coalesce(sum(spend) FILTER (WHERE category = '{category}' "
            f"AND txn_date >= $from_30d), 0) AS {column}"
        )
        outer.append(column)
    return f"""
    WITH {_transactions("from_90d")},
    sums AS (SELECT customer_id, {", ".join(inner)} FROM txns GROUP BY customer_id)
    SELECT customer_id, {", ".join(outer)} FROM sums ORDER BY customer_id
    """


def _lifestyle_sql() -> str:
    shares = [
        f"coalesce(sum(spend) FILTER (WHERE category = '{category}'), 0) "
        f"/ NULLIF(sum(spend), 0) AS share_{name}_90d"
        for name, category in LIFESTYLE_SHARES.items()  # module constants, not input
    ]
    return f"""
    WITH {_transactions("from_90d")}
    SELECT customer_id, {", ".join(shares)}
    FROM txns GROUP BY customer_id ORDER BY customer_id
    """


def _activity_sql() -> str:
    return f"""
    WITH {_transactions("from_90d")},
    per_customer AS (
        SELECT
            customer_id,
            count(*) FILTER (WHERE txn_date >= $from_30d) AS txn_count_30d,
            count(DISTINCT txn_date) FILTER (WHERE txn_date >= $from_30d) AS active_days_30d,
            CAST($cutoff_us - max(ts_us) AS DOUBLE) / {SECONDS_PER_DAY * MICROS_PER_SECOND}
                AS days_since_last_txn,
            coalesce(sum(spend) FILTER (WHERE txn_date >= $from_30d), 0) AS spend_30d,
            coalesce(sum(spend) FILTER (WHERE txn_date <= $earlier_until), 0) AS spend_earlier
        FROM txns GROUP BY customer_id
    )
    SELECT
        customer_id,
        txn_count_30d,
        active_days_30d,
        days_since_last_txn,
        spend_30d / NULLIF(spend_earlier / 2, 0) AS spend_trend_30d
    FROM per_customer ORDER BY customer_id
    """


def _cashflow_sql() -> str:
    # A day without transactions keeps the balance of the last day that had some: each
    # transaction day's balance holds until the next transaction day (or the end of the window).
    return f"""
    WITH {_transactions("from_30d")},
    flows AS (
        SELECT
            customer_id,
            coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS inflow_30d,
            coalesce(sum(spend), 0) AS outflow_30d
        FROM txns GROUP BY customer_id
    ),
    daily AS (
        SELECT customer_id, txn_date, sum(exact_amount) AS day_amount
        FROM txns GROUP BY customer_id, txn_date
    ),
    running AS (
        SELECT
            customer_id,
            sum(day_amount) OVER days AS balance,
            coalesce(lead(txn_date) OVER days, $next_day) - txn_date AS days_held
        FROM daily
        WINDOW days AS (PARTITION BY customer_id ORDER BY txn_date)
    ),
    overdrawn AS (
        SELECT customer_id, sum(days_held) FILTER (WHERE balance < 0) AS days
        FROM running GROUP BY customer_id
    )
    SELECT
        customer_id,
        inflow_30d,
        outflow_30d,
        inflow_30d - outflow_30d AS net_flow_30d,
        CAST(coalesce(overdrawn.days, 0) AS BIGINT) AS overdraft_days_30d
    FROM flows LEFT JOIN overdrawn USING (customer_id)
    ORDER BY customer_id
    """


def _income_sql() -> str:
    return f"""
    WITH {_transactions("from_90d")},
    series AS (
        SELECT
            customer_id,
            merchant,
            amount > 0 AS is_credit,
            count(*) AS n,
            count(DISTINCT date_trunc('month', txn_date)) AS months,
            sum(abs(amount)) AS total,
            max(abs(exact_amount)) AS largest,
            min(abs(exact_amount)) AS smallest
        FROM txns
        WHERE merchant IS NOT NULL AND amount <> 0
        GROUP BY customer_id, merchant, amount > 0
    ),
    regular AS (
        SELECT *, NOT is_credit AND largest - smallest <= 0.25 * largest AS is_recurring_payment
        FROM series WHERE months >= 2 AND n <= months + 1
    ),
    per_customer AS (
        SELECT
            customer_id,
            coalesce(sum(total) FILTER (WHERE is_credit), 0) / 3 AS regular_income_90d,
            count(*) FILTER (WHERE is_recurring_payment) AS recurring_payment_count_90d,
            coalesce(sum(total) FILTER (WHERE is_recurring_payment), 0) / 3
                AS recurring_outflow_90d
        FROM regular GROUP BY customer_id
    ),
    customers AS (
        SELECT customer_id, count(DISTINCT merchant) AS merchant_count_90d
        FROM txns GROUP BY customer_id
    )
    SELECT
        customer_id,
        coalesce(regular_income_90d, 0) AS regular_income_90d,
        coalesce(regular_income_90d, 0) > 0 AS has_regular_income,
        coalesce(recurring_payment_count_90d, 0) AS recurring_payment_count_90d,
        coalesce(recurring_outflow_90d, 0) AS recurring_outflow_90d,
        merchant_count_90d
    FROM customers LEFT JOIN per_customer USING (customer_id)
    ORDER BY customer_id
    """


def _fraud_profile_sql() -> str:
    return f"""
    WITH {_transactions("from_90d")},
    homes AS (
        SELECT customer_id, location AS home_location
        FROM txns
        WHERE location IS NOT NULL AND location <> ''
        GROUP BY customer_id, location
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY count(*) DESC, location) = 1
    ),
    shares AS (
        SELECT
            customer_id,
            CAST(count(*) FILTER (WHERE currency <> '{HOME_CURRENCY}') AS DOUBLE) / count(*)
                AS foreign_txn_share_90d
        FROM txns GROUP BY customer_id
    )
    SELECT customer_id, home_location, foreign_txn_share_90d
    FROM shares LEFT JOIN homes USING (customer_id)
    ORDER BY customer_id
    """


def _velocity_sql() -> str:
    # One row per (customer, second) first: the window (ts - W, ts] then counts whole seconds,
    # and every transaction at the same second gets the same figures.
    hour_us = SECONDS_PER_HOUR * MICROS_PER_SECOND - 1
    day_us = SECONDS_PER_DAY * MICROS_PER_SECOND - 1
    return f"""
    WITH {_transactions("velocity_lookback_from")},
    per_instant AS (
        SELECT customer_id, ts_us, max(txn_date) AS txn_date, count(*) AS n, sum(spend) AS spend
        FROM txns GROUP BY customer_id, ts_us
    ),
    windowed AS (
        SELECT
            customer_id,
            ts_us,
            txn_date,
            sum(n) OVER last_hour AS txn_count_1h,
            sum(n) OVER last_day AS txn_count_24h,
            sum(spend) OVER last_day AS spend_24h
        FROM per_instant
        WINDOW
            last_hour AS (PARTITION BY customer_id ORDER BY ts_us
                          RANGE BETWEEN {hour_us} PRECEDING AND CURRENT ROW),
            last_day AS (PARTITION BY customer_id ORDER BY ts_us
                         RANGE BETWEEN {day_us} PRECEDING AND CURRENT ROW)
    )
    SELECT
        customer_id,
        make_timestamp(ts_us) AS feature_ts,
        CAST(txn_count_1h AS BIGINT) AS txn_count_1h,
        CAST(txn_count_24h AS BIGINT) AS txn_count_24h,
        coalesce(spend_24h, 0) AS spend_24h
    FROM windowed
    WHERE txn_date >= $velocity_from
    ORDER BY customer_id, feature_ts
    """


def _orders_sql() -> str:
    return f"""
    WITH placed AS (
        SELECT customer_id, CAST(total_amount AS DOUBLE) AS total_amount
        FROM {_RELATIONS["orders"]}
        WHERE order_date BETWEEN $from_90d AND $as_of AND customer_id IS NOT NULL
    ),
    per_customer AS (
        SELECT
            customer_id,
            count(*) AS order_count_90d,
            coalesce(sum(total_amount), 0) AS order_value_90d
        FROM placed GROUP BY customer_id
    )
    SELECT
        customer_id,
        order_count_90d,
        order_value_90d,
        order_value_90d / NULLIF(order_count_90d, 0) AS avg_order_value_90d
    FROM per_customer ORDER BY customer_id
    """


def _returns_sql() -> str:
    return f"""
    WITH versions AS (
        SELECT customer_id, order_id, status
        FROM {_RELATIONS["order_versions"]}
        WHERE CAST(make_timestamp(epoch_us(updated_at)) AS DATE) BETWEEN $from_90d AND $as_of
          AND customer_id IS NOT NULL
    )
    SELECT
        customer_id,
        count(DISTINCT order_id) FILTER (WHERE status = 'returned') AS return_count_90d,
        count(DISTINCT order_id) FILTER (WHERE status = 'cancelled') AS cancel_count_90d
    FROM versions GROUP BY customer_id ORDER BY customer_id
    """


_VIEW_SQL = {
    "customer_spend": _spend_sql,
    "customer_lifestyle": _lifestyle_sql,
    "customer_activity": _activity_sql,
    "customer_cashflow": _cashflow_sql,
    "customer_income": _income_sql,
    "customer_fraud_profile": _fraud_profile_sql,
    "customer_velocity": _velocity_sql,
    "customer_orders": _orders_sql,
    "customer_returns": _returns_sql,
}


# --- comparing two results of a view -------------------------------------------------------


@dataclass(frozen=True)
class Differences:
    """``total`` differences found; ``shown`` describes the first ``limit`` of each kind."""

    total: int
    shown: tuple[str, ...]

    def messages(self) -> list[str]:
        hidden = self.total - len(self.shown)
        more = [f"... and {hidden:,} more differences not shown"] if hidden else []
        return [*self.shown, *more]


def compare(
    expected: pa.Table,
    got: pa.Table,
    *,
    keys: Sequence[str],
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-9,
    limit: int = 20,
) -> list[str]:
    """The differences between two results of one view, one readable line each; [] when equal.

    Rows are matched by ``keys``; row and column order do not matter. NULL equals NULL, NaN
    equals NaN, doubles are equal within ``math.isclose(rel_tol, abs_tol)``. Reported: columns
    missing or extra, column types of a different kind, duplicate keys, keys missing or extra,
    and differing values (at most ``limit`` lines of each kind, then a count of the rest).
    """
    return find_differences(
        expected, got, keys=keys, rel_tol=rel_tol, abs_tol=abs_tol, limit=limit
    ).messages()


def find_differences(
    expected: pa.Table,
    got: pa.Table,
    *,
    keys: Sequence[str],
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-9,
    limit: int = 20,
) -> Differences:
    """``compare``'s findings with their total count (see there)."""
    keys = list(keys)
    expected, got = _plain(expected), _plain(got)
    shown: list[str] = []
    total = 0
    expected_types = {f.name: f.type for f in expected.schema}
    got_types = {f.name: f.type for f in got.schema}
    for name in expected_types.keys() - got_types.keys():
        shown.append(f"column {name!r} ({expected_types[name]}) missing from got")
    for name in got_types.keys() - expected_types.keys():
        shown.append(f"column {name!r} ({got_types[name]}) only in got")
    common = [name for name in expected_types if name in got_types]
    for name in common:
        if _kind(expected_types[name]) != _kind(got_types[name]):
            shown.append(
                f"column {name!r}: type {expected_types[name]} expected, {got_types[name]} got"
            )
    total = len(shown)
    absent_keys = [k for k in keys if k not in common]
    if absent_keys:
        return Differences(total=total, shown=tuple(shown))
    con = duckdb.connect()
    try:
        con.register("expected_rows", expected)
        con.register("got_rows", got)
        for side in ("expected_rows", "got_rows"):
            found, lines = _duplicate_keys(con, side, keys, limit=limit)
            total += found
            shown += lines
        values = [n for n in common if n not in keys]
        numeric = {
            n: _kind(expected_types[n]) in _NUMBER_KINDS and _kind(got_types[n]) in _NUMBER_KINDS
            for n in values
        }
        found, lines = _row_differences(
            con, keys, values, numeric=numeric, rel_tol=rel_tol, abs_tol=abs_tol, limit=limit
        )
        total += found
        shown += lines
    finally:
        con.close()
    return Differences(total=total, shown=tuple(shown))


_NUMBER_KINDS = {"integer", "floating", "decimal"}


def _kind(dtype: pa.DataType) -> str:
    """The type's kind as the spec names it; integer widths and string encodings still differ
    in kind from each other only where the spec would notice (long vs int is reported)."""
    if pa.types.is_floating(dtype):
        return "floating"
    if pa.types.is_integer(dtype):
        return f"integer{dtype.bit_width}" if dtype.bit_width != 64 else "integer"
    if pa.types.is_decimal(dtype):
        return "decimal"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    return str(dtype)


def _plain(table: pa.Table) -> pa.Table:
    """Timestamps as naive UTC (Spark writes them tz-aware, DuckDB naive); dictionary and
    view strings decoded, so both sides reach DuckDB in the same physical types."""
    columns = []
    for column in table.columns:
        dtype = column.type
        if pa.types.is_dictionary(dtype):
            column = column.cast(dtype.value_type)
            dtype = column.type
        if pa.types.is_timestamp(dtype) and dtype.tz is not None:
            column = column.cast(pa.timestamp(dtype.unit))
        if pa.types.is_string_view(dtype):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _describe_key(keys: Sequence[str], values: Sequence[object]) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in zip(keys, values, strict=True)) + ")"


def _duplicate_keys(
    con: duckdb.DuckDBPyConnection, side: str, keys: list[str], *, limit: int
) -> tuple[int, list[str]]:
    key_list = ", ".join(_ident(k) for k in keys)
    rows = con.execute(
        f"SELECT {key_list}, count(*) AS n, count(*) OVER () AS groups FROM {side} "
        f"GROUP BY {key_list} HAVING count(*) > 1 ORDER BY {key_list} LIMIT {int(limit)}"
    ).fetchall()
    if not rows:
        return 0, []
    where = "expected" if side == "expected_rows" else "got"
    lines = [
        f"key {_describe_key(keys, row[: len(keys)])}: {row[len(keys)]} rows in {where}"
        for row in rows
    ]
    return rows[0][-1], lines


def _row_differences(
    con: duckdb.DuckDBPyConnection,
    keys: list[str],
    values: list[str],
    *,
    numeric: dict[str, bool],
    rel_tol: float,
    abs_tol: float,
    limit: int,
) -> tuple[int, list[str]]:
    on = " AND ".join(f"e.{_ident(k)} IS NOT DISTINCT FROM g.{_ident(k)}" for k in keys)
    key_cols = ", ".join(f"coalesce(e.{_ident(k)}, g.{_ident(k)}) AS {_ident(k)}" for k in keys)
    value_cols = "".join(
        f", e.{_ident(v)} AS {_ident('e_' + v)}, g.{_ident(v)} AS {_ident('g_' + v)}"
        for v in values
    )
    con.execute(
        f"CREATE TEMP TABLE joined AS SELECT {key_cols}, e._in_e, g._in_g{value_cols} "
        "FROM (SELECT *, true AS _in_e FROM expected_rows) e "
        f"FULL OUTER JOIN (SELECT *, true AS _in_g FROM got_rows) g ON {on}"
    )
    order = ", ".join(_ident(k) for k in keys)
    total, lines = 0, []
    for condition, what in (
        ("_in_g IS NULL", "missing from got"),
        ("_in_e IS NULL", "only in got"),
    ):
        found, rows = _select(con, f"SELECT {order} FROM joined WHERE {condition}", order, limit)
        total += found
        lines += [f"key {_describe_key(keys, row)}: {what}" for row in rows]
    both = "_in_e AND _in_g"
    for value in values:
        e, g = _ident("e_" + value), _ident("g_" + value)
        if numeric[value]:
            a, b = f"CAST({e} AS DOUBLE)", f"CAST({g} AS DOUBLE)"
            # math.isclose, with NULL = NULL and NaN = NaN (and an infinity equal to itself)
            same = (
                f"(({a} IS NULL AND {b} IS NULL) OR (isnan({a}) AND isnan({b})) OR {a} = {b} "
                f"OR abs({a} - {b}) <= greatest({float(abs_tol)!r}, "
                f"{float(rel_tol)!r} * greatest(abs({a}), abs({b}))))"
            )
            differs = f"NOT coalesce({same}, false)"
        else:
            differs = f"{e} IS DISTINCT FROM {g}"
        found, rows = _select(
            con, f"SELECT {order}, {e}, {g} FROM joined WHERE {both} AND {differs}", order, limit
        )
        total += found
        lines += [
            f"key {_describe_key(keys, row[: len(keys)])} column {value!r}: "
            f"expected {_show(row[-2])}, got {_show(row[-1])}"
            for row in rows
        ]
    con.execute("DROP TABLE joined")
    return total, lines


def _select(
    con: duckdb.DuckDBPyConnection, sql: str, order: str, limit: int
) -> tuple[int, list[tuple]]:
    (found,) = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    rows = con.execute(f"{sql} ORDER BY {order} LIMIT {int(limit)}").fetchall() if found else []
    return found, rows


def _show(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return "NULL" if value is None else repr(value)
