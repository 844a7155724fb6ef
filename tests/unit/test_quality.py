"""Row flags derived from a suite agree with great-expectations on the same suite."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T

from lakehouse import _gx
from lakehouse.errors import ConfigError
from lakehouse.quality import FAILED_RULES, QualitySuite, flag_rows, load_suite, rule_counts

pytestmark = pytest.mark.unit

SUITE = QualitySuite.model_validate(
    {
        "table": "silver.transactions",
        "max_failure_rate": 0.5,
        "rules": [
            {"name": "txn_id_present", "check": "not_null", "column": "txn_id"},
            {"name": "txn_id_unique", "check": "unique", "column": "txn_id"},
            {
                "name": "currency_known",
                "check": "in_set",
                "column": "currency",
                "values": ["EUR", "USD"],
            },
            {
                "name": "amount_in_range",
                "check": "between",
                "column": "amount",
                "min": -1000,
                "max": 1000,
            },
            {
                "name": "merchant_shape",
                "check": "matches_regex",
                "column": "merchant",
                "regex": "^[A-Za-z]",
            },
            {
                "name": "amount_parses",
                "check": "parses",
                "column": "amount",
                "raw_column": "amount_raw",
                "type": "decimal(18,2)",
            },
            {
                "name": "customer_known",
                "check": "references",
                "column": "customer_id",
                "table": "silver.customers",
                "key": "customer_id",
            },
        ],
    }
)
SCHEMA = T.StructType(
    [
        T.StructField("txn_id", T.StringType()),
        T.StructField("customer_id", T.LongType()),
        T.StructField("currency", T.StringType()),
        T.StructField("amount", T.DoubleType()),
        T.StructField("merchant", T.StringType()),
        T.StructField("amount_raw", T.StringType()),
    ]
)
ROWS = [
    ("t1", 1, "EUR", 10.0, "Amazon", "10.0"),  # passes
    ("t2", 2, "XXX", 10.0, "Tesco", "10.0"),  # currency_known
    ("t3", 9, "EUR", 5000.0, "Lidl", "5000"),  # customer_known, amount_in_range
    ("t3", 1, None, None, None, "abc"),  # txn_id_unique (with the row above), amount_parses
    (None, None, "USD", -1.0, "#weird", None),  # txn_id_present, merchant_shape
]
WANT = {
    "t1": [],
    "t2": ["currency_known"],
    "t3-a": ["txn_id_unique", "amount_in_range", "customer_known"],
    "t3-b": ["txn_id_unique", "amount_parses"],
    None: ["txn_id_present", "merchant_shape"],
}


@pytest.fixture(scope="module")
def frames(spark):
    customers = spark.createDataFrame([(1,), (2,)], "customer_id long")
    return spark.createDataFrame(ROWS, SCHEMA), {"silver.customers": customers}


def test_each_row_carries_the_rules_it_fails(frames):
    rows, refs = frames
    got = {}
    for row in flag_rows(rows, SUITE, references=refs).collect():
        key = row["txn_id"] if row["txn_id"] != "t3" else ("t3-a" if row["amount"] else "t3-b")
        got[key] = row[FAILED_RULES]
    assert got == WANT


def test_flags_and_great_expectations_agree_rule_by_rule(frames):
    rows, refs = frames
    from_flags = {
        r.rule: r.failed_rows for r in rule_counts(flag_rows(rows, SUITE, references=refs), SUITE)
    }
    from_gx = {r.rule: r.failed_rows for r in _gx.validate(rows, SUITE, references=refs)}
    assert (
        from_flags
        == from_gx
        == {
            "txn_id_present": 1,
            "txn_id_unique": 2,
            "currency_known": 1,
            "amount_in_range": 1,
            "merchant_shape": 1,
            "amount_parses": 1,
            "customer_known": 1,
        }
    )


def test_a_rule_missing_its_parameters_is_a_config_error(tmp_path):
    (tmp_path / "quality").mkdir()
    (tmp_path / "quality" / "silver.x.yaml").write_text(
        "table: silver.x\nrules:\n  - {name: c, check: in_set, column: a}\n"
    )
    with pytest.raises(ConfigError, match="needs values"):
        load_suite(tmp_path, "silver.x")


def test_a_missing_suite_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"no quality suite for silver\.nope"):
        load_suite(tmp_path, "silver.nope")


def test_held_rows_are_quarantined_but_do_not_count_toward_the_limit(spark):
    from lakehouse.quality import QualityGateError, check_failure_rate, gate

    def suite(counts: bool) -> QualitySuite:
        rule = {
            "name": "customer_known",
            "check": "references",
            "column": "customer_id",
            "table": "silver.customers",
            "key": "customer_id",
            "counts_toward_limit": counts,
        }
        return QualitySuite.model_validate(
            {"table": "silver.transactions", "max_failure_rate": 0.1, "rules": [rule]}
        )

    rows = spark.createDataFrame([(1,), (9,), (9,)], "customer_id long")
    refs = {"silver.customers": spark.createDataFrame([(1,)], "customer_id long")}
    held = gate(rows, suite(False), references=refs, confirm_with_gx=False)
    assert (held.failed_rows, held.limit_failed_rows, held.failure_rate) == (2, 0, 0.0)
    check_failure_rate(held, suite(False))
    bad = gate(rows, suite(True), references=refs, confirm_with_gx=False)
    with pytest.raises(QualityGateError, match="2 of 3 rows"):
        check_failure_rate(bad, suite(True))
    held.release()
    bad.release()


def test_gx_results_are_matched_to_rules_by_tag_not_position(frames):
    """Each expectation carries its rule name; rules interleaving columns get their own counts."""
    rows, _ = frames
    interleaved = QualitySuite.model_validate(
        {
            "table": "silver.transactions",
            "rules": [
                {"name": "a_currency", "check": "in_set", "column": "currency", "values": ["EUR"]},
                {"name": "b_txn_id", "check": "not_null", "column": "txn_id"},
                {"name": "c_currency", "check": "not_null", "column": "currency"},
                {"name": "d_amount", "check": "between", "column": "amount", "max": 100},
            ],
        }
    )
    from_gx = {r.rule: r.failed_rows for r in _gx.validate(rows, interleaved)}
    assert from_gx == {"a_currency": 2, "b_txn_id": 1, "c_currency": 1, "d_amount": 1}
