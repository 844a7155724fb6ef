"""A suite's row flags on a pyarrow table equal ``flag_rows``' in Spark, rule kind by rule kind."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from lakehouse.errors import ConfigError
from lakehouse.quality import FAILED_RULES, QualitySuite, flag_rows
from lakehouse.quality_arrow import failed_rules, flag_table

pytestmark = pytest.mark.unit

ROWS = pa.table(
    {
        "row": pa.array(range(8)),
        "id": pa.array(["a", "b", "b", None, None, "c", "d", "e"]),
        "n": pa.array([1, 2, 3, None, 5, 2, 7, 0], pa.int32()),
        "amount": pa.array(
            [
                Decimal(x) if x else None
                for x in ("-5.00", "10.00", "10.01", None, "0", "-5.01", "3", "")
            ],
            pa.decimal128(18, 2),
        ),
        "raw": pa.array(["1", "", "  ", "\t", None, "x", "2", "3 "]),
        "parsed": pa.array([1, None, None, None, None, None, 2, None], pa.int64()),
        "code": pa.array(["EUR", "usd", None, "GBP", "EURO", "", "X1", "eur"]),
    }
)


def suite(*rules: dict) -> QualitySuite:
    return QualitySuite.model_validate({"table": "silver.things", "rules": list(rules)})


SUITES = {
    "not_null": suite({"name": "id_present", "check": "not_null", "column": "id"}),
    "in_set": suite(
        {"name": "code_known", "check": "in_set", "column": "code", "values": ["EUR", "GBP"]}
    ),
    "in_set_numbers": suite(
        {"name": "n_known", "check": "in_set", "column": "n", "values": [1, 2]}
    ),
    "between": suite(
        {"name": "in_range", "check": "between", "column": "amount", "min": -5, "max": 10}
    ),
    "between_min": suite({"name": "positive", "check": "between", "column": "n", "min": 1}),
    "between_max": suite({"name": "small", "check": "between", "column": "amount", "max": 0}),
    "matches_regex": suite(
        {"name": "shaped", "check": "matches_regex", "column": "code", "regex": "^[A-Z]{3}$"}
    ),
    "regex_search": suite(
        {"name": "has_digit", "check": "matches_regex", "column": "code", "regex": "[0-9]"}
    ),
    "unique": suite({"name": "id_unique", "check": "unique", "column": "id"}),
    "parses": suite(
        {
            "name": "raw_valid",
            "check": "parses",
            "column": "parsed",
            "raw_column": "raw",
            "type": "int",
        }
    ),
    "all": suite(
        {"name": "id_unique", "check": "unique", "column": "id"},
        {"name": "id_present", "check": "not_null", "column": "id"},
        {"name": "code_known", "check": "in_set", "column": "code", "values": ["EUR", "X1"]},
        {"name": "in_range", "check": "between", "column": "amount", "min": 0, "max": 5},
        {
            "name": "raw_valid",
            "check": "parses",
            "column": "parsed",
            "raw_column": "raw",
            "type": "int",
        },
    ),
}


@pytest.mark.parametrize("kind", list(SUITES))
def test_flags_equal_flag_rows_in_spark(spark, kind):
    # The unique rule's window reorders Spark's rows.
    want = flag_rows(spark.createDataFrame(ROWS), SUITES[kind]).toArrow().sort_by("row")
    got = flag_table(ROWS, SUITES[kind])
    assert got.schema.names == want.schema.names
    assert got[FAILED_RULES].type == want[FAILED_RULES].type
    assert got.to_pylist() == want.to_pylist()


def test_every_rule_kind_fails_some_row_and_passes_another():
    for kind, rules in SUITES.items():
        flags = failed_rules(ROWS, rules).to_pylist()
        assert any(flags), kind
        assert not all(flags), kind


def test_an_empty_table_gets_an_empty_column():
    got = flag_table(ROWS.slice(0, 0), SUITES["all"])
    assert got.num_rows == 0
    assert FAILED_RULES in got.column_names


def test_a_referential_rule_is_refused_with_what_to_do():
    rules = suite(
        {"name": "id_present", "check": "not_null", "column": "id"},
        {"name": "known", "check": "references", "column": "id", "table": "silver.x", "key": "id"},
    )
    with pytest.raises(ConfigError, match=r"\['known'\] check references.*stream_suite"):
        failed_rules(ROWS, rules)
