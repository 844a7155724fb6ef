"""A quality suite's per-row flags on a pyarrow table: ``flag_rows`` without Spark.

The same semantics as lakehouse/quality.py (GX's: NULL is "missing", not "unexpected", except for
not_null), so a row fails the same rules on either path; ``unique`` counts within the given
table, as Spark's window does within its frame. ``references`` needs the dimension table, which
this path does not have: a suite with such a rule is refused (see ``stream_suite``).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.errors import ConfigError
from lakehouse.quality import FAILED_RULES, QualitySuite, Rule

__all__ = ["FAILED_RULES_TYPE", "failed_rules", "flag_table"]

# What Spark's toArrow() gives for an array<string> column.
FAILED_RULES_TYPE = pa.list_(pa.field("element", pa.string()))


def _present(column: pa.ChunkedArray) -> np.ndarray:
    return pc.is_valid(column).to_numpy(zero_copy_only=False)


def _rlike_misses(column: pa.ChunkedArray, regex: str) -> np.ndarray:
    """Spark's ``~rlike`` (a search anywhere), by Python's ``re`` once per distinct value: RE2,
    Arrow's engine, lacks look-arounds and back-references that Java's regexes have."""
    pattern = re.compile(regex)
    encoded = pc.cast(column, pa.string()).combine_chunks().dictionary_encode()
    miss = [pattern.search(v) is None for v in encoded.dictionary.to_pylist()]
    return pc.fill_null(pa.array(miss, pa.bool_()).take(encoded.indices), False).to_numpy(
        zero_copy_only=False
    )


def _duplicated(column: pa.ChunkedArray) -> np.ndarray:
    """True where the value occurs more than once in the table (NULLs never count)."""
    encoded = column.combine_chunks().dictionary_encode()
    indices = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    counts = np.bincount(indices[indices >= 0], minlength=len(encoded.dictionary))
    return (indices >= 0) & (counts[np.maximum(indices, 0)] > 1)


def _between_fails(column: pa.ChunkedArray, rule: Rule) -> np.ndarray:
    # Spark compares a decimal or integer with the rule's float bound as doubles.
    values = pc.cast(column, pa.float64())
    outside = pa.array(np.zeros(len(column), dtype=bool))
    if rule.min is not None:
        outside = pc.or_(outside, pc.less(values, rule.min))
    if rule.max is not None:
        outside = pc.or_(outside, pc.greater(values, rule.max))
    return pc.fill_null(outside, False).to_numpy(zero_copy_only=False)


def _fails(table: pa.Table, rule: Rule) -> np.ndarray:
    """True where the row fails the rule (quality.failure_condition)."""
    column = table[rule.column]
    present = _present(column)
    if rule.check == "not_null":
        return ~present
    if rule.check == "in_set":
        allowed = pa.array(list(rule.values or ()))
        if allowed.type != column.type:
            allowed = pc.cast(allowed, column.type)
        listed = pc.fill_null(pc.is_in(column, value_set=allowed), False)
        return present & ~listed.to_numpy(zero_copy_only=False)
    if rule.check == "between":
        return present & _between_fails(column, rule)
    if rule.check == "matches_regex":
        return present & _rlike_misses(column, rule.regex or "")
    if rule.check == "unique":
        return _duplicated(column)
    if rule.check == "parses":
        return _present(table[rule.raw_column]) & ~present
    raise ConfigError(
        f"{rule.name}: a '{rule.check}' rule needs its dimension table, which the Arrow path "
        "does not read; leave it out of the suite (streaming._ingest_parse.stream_suite)"
    )


def failed_rules(table: pa.Table, suite: QualitySuite) -> pa.Array:
    """Per row, the names of the rules it fails, in the suite's order (empty: passes)."""
    refs = [r.name for r in suite.rules if r.check == "references"]
    if refs:
        raise ConfigError(
            f"{suite.table}: rules {refs} check references, which need the dimension table; "
            "the Arrow path cannot evaluate them: drop them first (stream_suite) or use flag_rows"
        )
    names = np.array([r.name for r in suite.rules], dtype=object)
    if not len(names):
        return pa.array([[]] * table.num_rows, FAILED_RULES_TYPE)
    fails = np.column_stack([_fails(table, r) for r in suite.rules])
    offsets = np.concatenate([[0], np.cumsum(fails.sum(axis=1))]).astype(np.int32)
    values = pa.array(names[np.nonzero(fails)[1]].tolist(), pa.string())
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=FAILED_RULES_TYPE)


def flag_table(table: pa.Table, suite: QualitySuite) -> pa.Table:
    """``table`` plus ``_dq_failed_rules``, as ``quality.flag_rows`` adds it."""
    return table.append_column(FAILED_RULES, failed_rules(table, suite))
