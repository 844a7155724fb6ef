"""great-expectations 1.x over a Spark DataFrame, for a QualitySuite. Imported lazily: GX
takes seconds to import."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame

from lakehouse.quality import (
    QualitySuite,
    Rule,
    RuleResult,
    _dup_column,
    _parse_column,
    _ref_column,
    with_rule_inputs,
)


def _expectation(rule: Rule):
    import great_expectations as gx

    e = gx.expectations
    if rule.check == "not_null":
        return e.ExpectColumnValuesToNotBeNull(column=rule.column)
    if rule.check == "in_set":
        return e.ExpectColumnValuesToBeInSet(column=rule.column, value_set=list(rule.values or ()))
    if rule.check == "between":
        return e.ExpectColumnValuesToBeBetween(
            column=rule.column, min_value=rule.min, max_value=rule.max
        )
    if rule.check == "matches_regex":
        return e.ExpectColumnValuesToMatchRegex(column=rule.column, regex=rule.regex)
    if rule.check == "unique":
        return e.ExpectColumnValuesToBeUnique(column=rule.column)
    if rule.check == "parses":
        # GX sees the typed column only; the flag says whether the raw text parsed.
        return e.ExpectColumnValuesToBeInSet(column=_parse_column(rule), value_set=[True])
    # GX has no referential expectation: validate the match flag the join derived.
    return e.ExpectColumnValuesToBeInSet(column=_ref_column(rule), value_set=[True])


def validate(
    df: DataFrame, suite: QualitySuite, *, references: Mapping[str, DataFrame] | None = None
) -> list[RuleResult]:
    """Run the suite through GX; returns unexpected counts per rule, in suite order."""
    import great_expectations as gx

    prepared = with_rule_inputs(df, suite, references or {})
    prepared = prepared.drop(*(_dup_column(r) for r in suite.rules if r.check == "unique"))
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_spark(name="lakehouse")
        .add_dataframe_asset(name=suite.table)
        .add_batch_definition_whole_dataframe("run")
    )
    expectations = gx.ExpectationSuite(name=suite.table)
    for rule in suite.rules:
        expectation = _expectation(rule)
        expectation.meta = {"lakehouse_rule": rule.name}
        expectations.add_expectation(expectation)
    definition = gx.ValidationDefinition(
        name=suite.table, data=batch, suite=context.suites.add(expectations)
    )
    outcome = context.validation_definitions.add(definition).run(
        batch_parameters={"dataframe": prepared}, result_format="SUMMARY"
    )
    # GX groups results by column, not in suite order: find each rule's by its tag.
    stats = {r.expectation_config.meta["lakehouse_rule"]: r.result for r in outcome.results}
    return [
        RuleResult(
            rule.name,
            rule.describe(),
            int(stats[rule.name].get("unexpected_count") or 0),
            int(stats[rule.name].get("element_count") or 0),
        )
        for rule in suite.rules
    ]
