"""Quality gate: one declared suite per table (conf/quality/<table>.yaml) drives both the
great-expectations validation and the per-row flags that route rows to quarantine.

GX on Spark reports counts, not rows. The row flags are Spark expressions derived from the same
rules with GX's own semantics (NULLs are "missing", not "unexpected", except for not_null), all
computed in one pass; ``gate`` checks that GX and the flags agree rule by rule, so the
quarantine and the validation result can never tell different stories.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lakehouse.errors import ConfigError, LakehouseError

__all__ = [
    "FAILED_RULES",
    "GateOutcome",
    "QualityGateError",
    "QualitySuite",
    "Rule",
    "RuleResult",
    "check_failure_rate",
    "fails_counted_rule",
    "flag_rows",
    "gate",
    "load_suite",
    "rule_counts",
    "within_limit",
]

Check = Literal["not_null", "parses", "in_set", "between", "unique", "matches_regex", "references"]
FAILED_RULES = "_dq_failed_rules"
_NEEDS: dict[str, tuple[str, ...]] = {
    "in_set": ("values",),
    "between": (),
    "matches_regex": ("regex",),
    "references": ("table", "key"),
    "parses": ("raw_column", "type"),
}


class QualityGateError(LakehouseError):
    """Too many rows failed the suite: nothing was written downstream."""


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    check: Check
    column: str
    values: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    regex: str | None = None
    table: str | None = None
    key: str | None = None
    raw_column: str | None = None
    type: str | None = None
    reason: str | None = None
    # False for rows that are held rather than bad (e.g. waiting for a late dimension row):
    # they are quarantined like any other, but do not count toward max_failure_rate.
    counts_toward_limit: bool = True

    @model_validator(mode="after")
    def _parameters(self) -> Rule:
        missing = [p for p in _NEEDS.get(self.check, ()) if getattr(self, p) is None]
        if self.check == "between" and self.min is None and self.max is None:
            missing.append("min or max")
        if missing:
            raise ValueError(f"rule '{self.name}' ({self.check}) needs {', '.join(missing)}")
        if self.regex is not None:
            re.compile(self.regex)
        return self

    def describe(self) -> str:
        if self.reason:
            return self.reason
        texts = {
            "not_null": f"{self.column} is missing",
            "parses": f"{self.raw_column} is not a valid {self.type}",
            "in_set": f"{self.column} not in {list(self.values or ())}",
            "between": f"{self.column} outside [{self.min}, {self.max}]",
            "unique": f"{self.column} is duplicated",
            "matches_regex": f"{self.column} does not match {self.regex}",
            "references": f"{self.column} not found in {self.table}.{self.key}",
        }
        return texts[self.check]


class QualitySuite(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str
    max_failure_rate: float = Field(default=0.05, ge=0, le=1)
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique_names(self) -> QualitySuite:
        names = [r.name for r in self.rules]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rule names must be unique, repeated: {dupes}")
        return self

    @property
    def references(self) -> dict[str, Rule]:
        return {r.name: r for r in self.rules if r.check == "references"}


@dataclass(frozen=True)
class RuleResult:
    rule: str
    reason: str
    failed_rows: int
    checked_rows: int


def load_suite(conf_dir: Path, table: str) -> QualitySuite:
    """The suite in ``conf/quality/<table>.yaml``; a bad file names itself and the key."""
    path = conf_dir / "quality" / f"{table}.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: no quality suite for {table}; declare one (see conf/quality/)")
    try:
        return QualitySuite.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: invalid quality suite: {err}") from None


def _ref_column(rule: Rule) -> str:
    return f"_dq_ref_{rule.name}"


def _parse_column(rule: Rule) -> str:
    return f"_dq_parse_{rule.name}"


def _dup_column(rule: Rule) -> str:
    return f"_dq_dup_{rule.name}"


def with_rule_inputs(
    df: DataFrame, suite: QualitySuite, references: Mapping[str, DataFrame]
) -> DataFrame:
    """Add what row-level checks need beyond the row: a match flag per referential rule (a
    broadcast join with the dimension's distinct keys) and a duplicate count per unique rule."""
    for rule in suite.references.values():
        if rule.table not in references:
            raise ConfigError(f"{suite.table}: rule '{rule.name}' needs the table {rule.table}")
        keys = references[rule.table].select(F.col(rule.key).alias(rule.column)).distinct()
        keys = keys.select(rule.column, F.lit(True).alias(_ref_column(rule)))
        df = df.join(F.broadcast(keys), on=rule.column, how="left")
        matched = F.col(rule.column).isNull() | F.col(_ref_column(rule)).isNotNull()
        df = df.withColumn(_ref_column(rule), matched)
    for rule in (r for r in suite.rules if r.check == "parses"):
        # Present text that did not convert, blank included: a CSV reader makes an empty cell
        # NULL (the not_null rule's "missing"), but a JSON "" or a cell of spaces stays text,
        # and letting it through would put a NULL into a required column.
        unparsable = F.col(rule.raw_column).isNotNull() & F.col(rule.column).isNull()
        df = df.withColumn(_parse_column(rule), ~unparsable)
    for rule in (r for r in suite.rules if r.check == "unique"):
        df = df.withColumn(
            _dup_column(rule), F.count(rule.column).over(Window.partitionBy(rule.column))
        )
    return df


def failure_condition(rule: Rule) -> Column:
    """True where the row fails the rule, with GX's semantics (NULL is 'missing')."""
    col = F.col(rule.column)
    present = col.isNotNull()
    if rule.check == "not_null":
        return col.isNull()
    if rule.check == "in_set":
        return present & ~col.isin(list(rule.values or ()))
    if rule.check == "between":
        low = col < F.lit(rule.min) if rule.min is not None else F.lit(False)
        high = col > F.lit(rule.max) if rule.max is not None else F.lit(False)
        return present & (low | high)
    if rule.check == "matches_regex":
        return present & ~col.rlike(rule.regex)
    if rule.check == "unique":
        return present & (F.col(_dup_column(rule)) > 1)
    if rule.check == "parses":
        return ~F.col(_parse_column(rule))
    return ~F.col(_ref_column(rule))


def flag_rows(
    df: DataFrame, suite: QualitySuite, *, references: Mapping[str, DataFrame] | None = None
) -> DataFrame:
    """``df`` plus ``_dq_failed_rules``: the names of the rules each row fails (empty: passes)."""
    prepared = with_rule_inputs(df, suite, references or {})
    failed = F.array(*(F.when(failure_condition(r), F.lit(r.name)) for r in suite.rules))
    flagged = prepared.withColumn(FAILED_RULES, F.filter(failed, lambda name: name.isNotNull()))
    helper_columns = [
        c for c in flagged.columns if c.startswith(("_dq_ref_", "_dq_dup_", "_dq_parse_"))
    ]
    return flagged.drop(*helper_columns)


def rule_counts(flagged: DataFrame, suite: QualitySuite) -> list[RuleResult]:
    """Failed rows per rule, from the flags, in one aggregation."""
    return _counts(flagged, suite)[0]


def _counts(flagged: DataFrame, suite: QualitySuite) -> tuple[list[RuleResult], int, int, int]:
    """(per-rule results, rows, failing rows, rows failing a counted rule): one Spark job,
    since on a small day each action costs more than the rows."""
    counts = flagged.agg(
        F.count(F.lit(1)).alias("_rows"),
        F.sum(fails_any_rule().cast("long")).alias("_failing"),
        F.sum(fails_counted_rule(suite).cast("long")).alias("_limit_failing"),
        *(
            F.sum(F.array_contains(FAILED_RULES, r.name).cast("long")).alias(r.name)
            for r in suite.rules
        ),
    ).first()
    results = [
        RuleResult(r.name, r.describe(), int(counts[r.name] or 0), counts["_rows"])
        for r in suite.rules
    ]
    return (
        results,
        counts["_rows"],
        int(counts["_failing"] or 0),
        int(counts["_limit_failing"] or 0),
    )


def fails_any_rule() -> Column:
    """True where a flagged row fails at least one rule."""
    return F.size(FAILED_RULES) > 0


def fails_counted_rule(suite: QualitySuite) -> Column:
    """True where a flagged row fails a rule that counts toward ``max_failure_rate``."""
    counted = (F.array_contains(FAILED_RULES, r.name) for r in suite.rules if r.counts_toward_limit)
    return reduce(lambda a, b: a | b, counted, F.lit(False))


@dataclass(frozen=True)
class GateOutcome:
    """What a gate found: rows that pass, rows that failed (with their rule names), and the
    per-rule counts that GX confirmed."""

    passed: DataFrame
    failed: DataFrame
    results: list[RuleResult]
    rows: int
    failed_rows: int
    limit_failed_rows: int  # rows failing a rule that counts toward the limit
    flagged: DataFrame  # cached: passed and failed are both read from it
    confirmed_by_gx: bool = False

    @property
    def failure_rate(self) -> float:
        """The share of rows failing a rule that counts toward ``max_failure_rate``."""
        return self.limit_failed_rows / self.rows if self.rows else 0.0

    def release(self) -> None:
        """Drop the cached flags once passed and failed rows have been written."""
        self.flagged.unpersist()


def gate(
    df: DataFrame,
    suite: QualitySuite,
    *,
    references: Mapping[str, DataFrame] | None = None,
    confirm_with_gx: bool = True,
) -> GateOutcome:
    """Flag every row in one pass, count per rule, and (by default) have great-expectations
    validate the same suite; a disagreement is a bug and stops the run. The caller decides what
    a failure rate above ``suite.max_failure_rate`` means (see ``check_failure_rate``)."""
    flagged = flag_rows(df, suite, references=references).persist()
    results, rows, failed_rows, limit_failed_rows = _counts(flagged, suite)
    if confirm_with_gx:
        from lakehouse import _gx

        confirmed = _gx.validate(df, suite, references=references)
        differ = [
            f"{ours.rule}: flags {ours.failed_rows}, GX {theirs.failed_rows}"
            for ours, theirs in zip(results, confirmed, strict=True)
            if ours.failed_rows != theirs.failed_rows
        ]
        if differ:
            raise LakehouseError(
                f"{suite.table}: row flags and GX disagree ({differ}); report a bug"
            )
    failing = fails_any_rule()
    return GateOutcome(
        passed=flagged.where(~failing).drop(FAILED_RULES),
        failed=flagged.where(failing),
        results=results,
        rows=rows,
        failed_rows=failed_rows,
        flagged=flagged,
        confirmed_by_gx=confirm_with_gx,
        limit_failed_rows=limit_failed_rows,
    )


def within_limit(outcome: GateOutcome, suite: QualitySuite) -> bool:
    return outcome.failure_rate <= suite.max_failure_rate


def check_failure_rate(outcome: GateOutcome, suite: QualitySuite) -> None:
    if not within_limit(outcome, suite):
        worst = sorted(outcome.results, key=lambda r: -r.failed_rows)[:3]
        reasons = "; ".join(f"{r.reason}: {r.failed_rows}" for r in worst if r.failed_rows)
        raise QualityGateError(
            f"{suite.table}: {outcome.limit_failed_rows} of {outcome.rows} rows "
            f"({outcome.failure_rate:.1%}) failed, above the {suite.max_failure_rate:.1%} limit "
            f"({reasons}); nothing was written downstream, the rows are in ops.quarantine"
        )
