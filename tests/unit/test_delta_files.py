"""Data-file helpers: partition values from paths, statistics as JSON, and read filters."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import pytest
from pyspark.sql import types as T

from lakehouse.delta._files import _json_value, partition_values_from_path
from lakehouse.delta._filters import may_match, validate
from lakehouse.delta._log import ActiveFile
from lakehouse.errors import PredicateError

pytestmark = pytest.mark.unit

UTC = dt.UTC
EVENTS = T.StructType(
    [
        T.StructField("event_id", T.StringType()),
        T.StructField("event_date", T.DateType()),
        T.StructField("event_ts", T.TimestampType()),
        T.StructField("amount", T.LongType()),
    ]
)


def active_file(
    *,
    partition: dict[str, Any] | None = None,
    mins: dict[str, Any] | None = None,
    maxs: dict[str, Any] | None = None,
) -> ActiveFile:
    return ActiveFile(
        path="part-00000.parquet",
        size=1024,
        num_records=10,
        partition=partition or {},
        partition_strings={},
        mins=mins or {},
        maxs=maxs or {},
        null_counts={},
    )


AMOUNT_10_TO_20 = active_file(mins={"amount": 10}, maxs={"amount": 20})


# -- partition_values_from_path ------------------------------------------------------------------
def test_partition_values_unescape_spark_hive_escaping() -> None:
    rel = "s=a b%2Fc%3Dd%25e/n=7/part-0.parquet"

    assert partition_values_from_path(rel, ("s", "n")) == {"s": "a b/c=d%e", "n": "7"}


def test_partition_values_keep_plus_sign() -> None:
    assert partition_values_from_path("s=a+b/part-0.parquet", ("s",)) == {"s": "a+b"}


def test_hive_default_partition_maps_to_none() -> None:
    rel = "event_date=__HIVE_DEFAULT_PARTITION__/part-0.parquet"

    assert partition_values_from_path(rel, ("event_date",)) == {"event_date": None}


def test_partition_values_follow_partition_by_order() -> None:
    rel = "n=7/s=x/part-0.parquet"

    assert list(partition_values_from_path(rel, ("s", "n"))) == ["s", "n"]


def test_unpartitioned_file_has_no_partition_values() -> None:
    assert partition_values_from_path("part-0.parquet", ()) == {}


def test_missing_partition_directory_raises_value_error_naming_column() -> None:
    with pytest.raises(ValueError, match="'s'"):
        partition_values_from_path("n=7/part-0.parquet", ("s", "n"))


# -- _json_value ---------------------------------------------------------------------------------
def test_date_statistic_is_iso_date() -> None:
    assert _json_value(dt.date(2024, 5, 1), T.DateType(), round_up=False) == "2024-05-01"


def test_naive_timestamp_statistic_is_read_as_utc() -> None:
    value = dt.datetime(2024, 5, 1, 10, 30, 15, 123456)

    assert _json_value(value, T.TimestampType(), round_up=False) == "2024-05-01T10:30:15.123456Z"


def test_aware_timestamp_statistic_is_converted_to_utc() -> None:
    value = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    assert _json_value(value, T.TimestampType(), round_up=True) == "2024-05-01T10:30:00.000000Z"


def test_decimal_min_rounds_down_to_the_next_lower_double() -> None:
    low = _json_value(decimal.Decimal("0.10"), T.DecimalType(10, 2), round_up=False)

    assert low == 0.09999999999999999
    assert decimal.Decimal(low) < decimal.Decimal("0.10")


def test_decimal_max_rounds_up_to_the_next_higher_double() -> None:
    high = _json_value(decimal.Decimal("0.10"), T.DecimalType(10, 2), round_up=True)

    assert high == 0.10000000000000002
    assert decimal.Decimal(high) > decimal.Decimal("0.10")


@pytest.mark.parametrize(
    "exact", ["12345678901234567.89", "-12345678901234567.89", "0.01", "-0.01", "0"]
)
def test_decimal_bounds_stay_strictly_outside_the_exact_value(exact: str) -> None:
    value = decimal.Decimal(exact)
    dtype = T.DecimalType(38, 2)

    low = _json_value(value, dtype, round_up=False)
    high = _json_value(value, dtype, round_up=True)

    assert decimal.Decimal(low) < value < decimal.Decimal(high)


def test_string_statistic_of_64_chars_is_kept() -> None:
    value = "x" * 64

    assert _json_value(value, T.StringType(), round_up=True) == value


def test_string_statistic_longer_than_64_chars_is_omitted() -> None:
    assert _json_value("x" * 65, T.StringType(), round_up=True) is None


def test_nan_float_statistic_is_omitted() -> None:
    assert _json_value(float("nan"), T.DoubleType(), round_up=False) is None


def test_finite_float_statistic_is_kept() -> None:
    assert _json_value(1.5, T.DoubleType(), round_up=False) == 1.5


def test_boolean_statistic_is_omitted() -> None:
    assert _json_value(True, T.BooleanType(), round_up=True) is None


def test_integer_statistic_is_kept() -> None:
    assert _json_value(42, T.LongType(), round_up=True) == 42


# -- may_match -----------------------------------------------------------------------------------
def test_partition_equality_prunes_other_partition() -> None:
    file = active_file(partition={"event_date": dt.date(2024, 5, 1)})

    assert may_match([("event_date", "=", dt.date(2024, 5, 2))], file) is False


def test_partition_equality_keeps_matching_partition() -> None:
    file = active_file(partition={"event_date": dt.date(2024, 5, 1)})

    assert may_match([("event_date", "=", dt.date(2024, 5, 1))], file) is True


def test_partition_in_prunes_partition_not_listed() -> None:
    file = active_file(partition={"event_date": dt.date(2024, 5, 1)})
    wanted = [dt.date(2024, 5, 2), dt.date(2024, 5, 3)]

    assert may_match([("event_date", "in", wanted)], file) is False


@pytest.mark.parametrize(
    ("op", "value"),
    [("=", 25), ("=", 5), ("<", 10), ("<=", 9), (">", 20), (">=", 21), ("in", [5, 25])],
)
def test_stats_skip_file_when_no_value_in_range_can_pass(op: str, value: Any) -> None:
    assert may_match([("amount", op, value)], AMOUNT_10_TO_20) is False


@pytest.mark.parametrize(
    ("op", "value"),
    [
        ("=", 10),
        ("=", 20),
        ("=", 15),
        ("<", 11),
        ("<=", 10),
        (">", 19),
        (">=", 20),
        ("in", [5, 20]),
    ],
)
def test_stats_keep_file_when_range_may_hold_a_passing_value(op: str, value: Any) -> None:
    assert may_match([("amount", op, value)], AMOUNT_10_TO_20) is True


def test_every_filter_must_allow_the_file() -> None:
    filters = [("amount", ">=", 10), ("amount", ">", 20)]

    assert may_match(filters, AMOUNT_10_TO_20) is False


@pytest.mark.parametrize(("op", "value"), [("!=", 7), ("not in", [7])])
def test_stats_never_skip_on_negation(op: str, value: Any) -> None:
    file = active_file(mins={"amount": 7}, maxs={"amount": 7})

    assert may_match([("amount", op, value)], file) is True


@pytest.mark.parametrize(
    "file",
    [
        active_file(),
        active_file(mins={"amount": 10}),
        active_file(maxs={"amount": 20}),
        active_file(mins={"amount": None}, maxs={"amount": None}),
    ],
    ids=["no-stats", "min-only", "max-only", "null-stats"],
)
def test_stats_never_skip_when_stats_are_missing(file: ActiveFile) -> None:
    assert may_match([("amount", "=", 99)], file) is True


@pytest.mark.parametrize(("op", "value"), [("=", "abc"), ("<", "abc"), ("in", ["abc"])])
def test_stats_never_skip_on_type_mismatch(op: str, value: Any) -> None:
    assert may_match([("amount", op, value)], AMOUNT_10_TO_20) is True


def test_partition_never_pruned_on_type_mismatch() -> None:
    file = active_file(partition={"n": 7})

    assert may_match([("n", "=", "7")], file) is True


@pytest.mark.parametrize(
    ("op", "value"),
    [("=", "a"), ("!=", "a"), ("<", "z"), (">=", ""), ("in", ["a"]), ("not in", ["a"])],
)
def test_null_partition_value_never_matches(op: str, value: Any) -> None:
    file = active_file(partition={"event_id": None})

    assert may_match([("event_id", op, value)], file) is False


# -- validate ------------------------------------------------------------------------------------
def test_validate_rejects_unknown_column() -> None:
    with pytest.raises(PredicateError, match="'evt_id'"):
        validate([("evt_id", "=", "e1")], EVENTS, "silver.events")


@pytest.mark.parametrize("op", ["~=", "like", "<>", "IN"])
def test_validate_rejects_unknown_operator(op: str) -> None:
    with pytest.raises(PredicateError, match="operator"):
        validate([("event_id", op, "e1")], EVENTS, "silver.events")


def test_validate_coerces_iso_string_to_date_for_date_column() -> None:
    checked = validate([("event_date", ">=", "2024-05-01")], EVENTS, "silver.events")

    assert checked == [("event_date", ">=", dt.date(2024, 5, 1))]


def test_validate_coerces_each_in_value_for_date_column() -> None:
    checked = validate(
        [("event_date", "in", ["2024-05-01", "2024-05-02"])], EVENTS, "silver.events"
    )

    assert checked == [("event_date", "in", [dt.date(2024, 5, 1), dt.date(2024, 5, 2)])]


def test_validate_coerces_naive_iso_string_to_utc_datetime_for_timestamp_column() -> None:
    checked = validate([("event_ts", "<", "2024-05-01T10:30:00")], EVENTS, "silver.events")

    _, _, value = checked[0]
    assert value == dt.datetime(2024, 5, 1, 10, 30, tzinfo=UTC)
    assert value.tzinfo is not None


def test_validate_keeps_offset_of_aware_iso_string_for_timestamp_column() -> None:
    checked = validate([("event_ts", "<", "2024-05-01T12:30:00+02:00")], EVENTS, "silver.events")

    assert checked == [("event_ts", "<", dt.datetime(2024, 5, 1, 10, 30, tzinfo=UTC))]


def test_validate_makes_naive_datetime_utc() -> None:
    naive = dt.datetime(2024, 5, 1, 10, 30)

    checked = validate([("event_ts", ">", naive)], EVENTS, "silver.events")

    assert checked[0][2].tzinfo is UTC


def test_validate_leaves_string_value_of_string_column_alone() -> None:
    checked = validate([("event_id", "=", "2024-05-01")], EVENTS, "silver.events")

    assert checked == [("event_id", "=", "2024-05-01")]


def test_validate_rejects_unparseable_date_string_with_predicate_error() -> None:
    with pytest.raises(PredicateError, match="event_date"):
        validate([("event_date", "=", "2024-13-01")], EVENTS, "silver.events")
