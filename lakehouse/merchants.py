"""Merchant standardization: raw card-statement strings -> canonical merchant and category,
by normalization rules and a prefix lookup kept in conf/merchants.yaml. Spark built-ins only."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.errors import ConfigError

__all__ = ["MerchantRules", "load_merchant_rules", "normalize_merchant", "standardize_merchants"]


class MerchantEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    category: str
    prefixes: tuple[str, ...] = Field(min_length=1)


class KeywordCategory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: str
    words: tuple[str, ...] = Field(min_length=1)


class MerchantRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unknown_category: str = "other"
    merchants: tuple[MerchantEntry, ...]
    strip_prefixes: tuple[str, ...] = ()
    strip_suffixes: tuple[str, ...] = ()
    keyword_categories: tuple[KeywordCategory, ...] = ()

    def by_prefix(self) -> list[tuple[str, MerchantEntry]]:
        """(normalized prefix, entry), longest first, so 'AMAZON PRIME' wins over 'AMAZON'."""
        pairs = [(_normalize_text(p), m) for m in self.merchants for p in m.prefixes]
        seen: dict[str, MerchantEntry] = {}
        for prefix, entry in pairs:
            if prefix in seen and seen[prefix] != entry:
                raise ConfigError(
                    f"merchant prefix {prefix!r} maps to both {seen[prefix].name} and {entry.name}"
                )
            seen[prefix] = entry
        return sorted(seen.items(), key=lambda item: -len(item[0]))


def load_merchant_rules(conf_dir: Path) -> MerchantRules:
    path = conf_dir / "merchants.yaml"
    try:
        return MerchantRules.model_validate(yaml.safe_load(path.read_text()))
    except FileNotFoundError:
        raise ConfigError(f"{path}: merchant rules not found") from None
    except (ValidationError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: invalid merchant rules: {err}") from None


def _normalize_text(raw: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else " " for ch in raw.upper())
    return " ".join(cleaned.split())


def normalize_merchant(column: str | Column) -> Column:
    """Upper case, non-alphanumerics -> space, runs of spaces collapsed, trimmed."""
    col = F.col(column) if isinstance(column, str) else column
    spaced = F.regexp_replace(F.upper(col), r"[^\p{L}\p{N}]+", " ")
    return F.trim(spaced)


def _words(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(_normalize_text(w)) for w in words)


def _cleaned(normalized: Column, rules: MerchantRules) -> Column:
    """An unlisted merchant's name: facilitator/purpose words and store numbers removed."""
    name = normalized
    if rules.strip_prefixes:
        name = F.regexp_replace(name, f"^(({_words(rules.strip_prefixes)}) )+", "")
    if rules.strip_suffixes:
        name = F.regexp_replace(name, f"( ({_words(rules.strip_suffixes)}))+$", "")
    name = F.regexp_replace(name, r"( [0-9]+)+$", "")
    return F.when(name == "", F.lit(None)).otherwise(name)


def _keyword_category(normalized: Column, rules: MerchantRules) -> Column:
    category: Column = F.lit(rules.unknown_category)
    for entry in reversed(rules.keyword_categories):
        hit = normalized.rlike(f"(^| )({_words(entry.words)})( |$)")
        category = F.when(hit, F.lit(entry.category)).otherwise(category)
    return category


def standardize_merchants(
    df: DataFrame, rules: MerchantRules, *, raw: str = "merchant_raw"
) -> DataFrame:
    """Adds ``merchant`` (canonical name; for merchants not in the lookup, the cleaned raw
    string in upper case) and ``merchant_category``.

    The lookup is a literal map probed with the raw string's first N words, longest first: a
    few map lookups per row, where a CASE per prefix would grow past what Spark compiles.
    """
    prefixes = rules.by_prefix()
    entries = sorted({entry for _, entry in prefixes}, key=lambda e: (e.name, e.category))
    index = {entry: position for position, entry in enumerate(entries, start=1)}
    lookup = F.create_map(*(x for p, e in prefixes for x in (F.lit(p), F.lit(index[e]))))
    longest = max(len(p.split(" ")) for p, _ in prefixes)
    normalized = normalize_merchant(raw)
    words = F.split(normalized, " ")
    hit = F.coalesce(
        *(lookup[F.array_join(F.slice(words, 1, n), " ")] for n in range(longest, 0, -1))
    )
    # try_element_at: element_at on a literal array with a NULL index returned the array's
    # last element in Spark 4.3 (seen here); try_element_at returns NULL as documented.
    names = F.array(*(F.lit(e.name) for e in entries))
    categories = F.array(*(F.lit(e.category) for e in entries))
    return df.withColumns(
        {
            "merchant": F.coalesce(F.try_element_at(names, hit), _cleaned(normalized, rules)),
            "merchant_category": F.coalesce(
                F.try_element_at(categories, hit), _keyword_category(normalized, rules)
            ),
        }
    )
