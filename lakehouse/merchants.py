"""Merchant standardization: raw card-statement strings -> canonical merchant and category,
by normalization rules and a prefix lookup kept in conf/merchants.yaml. Spark built-ins only in
``standardize_merchants``; ``merchant_text_standardizer`` gives the same answer for one string in
plain Python (the stream ingest's Arrow path calls it once per distinct raw string)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.errors import ConfigError

__all__ = [
    "MerchantRules",
    "load_merchant_rules",
    "merchant_text_standardizer",
    "normalize_merchant",
    "normalize_merchant_text",
    "spark_upper",
    "standardize_merchant_text",
    "standardize_merchants",
]


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


# -- the same in plain Python, one string at a time --------------------------------------------
# Python 3.11 knows Unicode 14; Spark 4.3's regexes (Java 17) know Unicode 13 and its upper()
# (ICU) Unicode 16. These are the differences, found code point by code point against Spark
# (tests/unit/test_merchants.py checks all of them): the letters and numbers Unicode 14 added...
_UNICODE_14_LN = (
    "870-887 889-88E 8B5 8C8-8C9 C5D CDD 170D 171F 1B4C 2C2F 2C5F 9FFD-9FFF A7C0-A7C1 "
    "A7D0-A7D1 A7D3 A7D5-A7D9 A7F2-A7F4 10570-1057A 1057C-1058A 1058C-10592 10594-10595 "
    "10597-105A1 105A3-105B1 105B3-105B9 105BB-105BC 10780-10785 10787-107B0 107B2-107BA "
    "10F70-10F81 11071-11072 11075 11740-11746 11AB0-11ABF 12F90-12FF0 16A70-16ABE "
    "16AC0-16AC9 1AFF0-1AFF3 1AFF5-1AFFB 1AFFD-1AFFE 1B11F-1B122 1DF00-1DF1E 1E290-1E2AD "
    "1E7E0-1E7E6 1E7E8-1E7EB 1E7ED-1E7EE 1E7F0-1E7FE 2A6DE-2A6DF 2B735-2B738"
)
_NOT_IN_JAVA_17 = frozenset(
    c
    for span in _UNICODE_14_LN.split()
    for lo, _, hi in [span.partition("-")]
    for c in range(int(lo, 16), int(hi or lo, 16) + 1)
)
# ... and the upper-case letters Unicode 15 and 16 gave to existing lower-case ones.
_ICU_UPPER = {
    0x19B: 0xA7DC, 0x264: 0xA7CB, 0x1C8A: 0x1C89, 0xA7CD: 0xA7CC, 0xA7CF: 0xA7CE,
    0xA7D3: 0xA7D2, 0xA7D5: 0xA7D4, 0xA7DB: 0xA7DA,
    **{c: c - 0x20 for c in range(0x10D70, 0x10D86)},
    **{c: c - 0x1B for c in range(0x16EBB, 0x16ED4)},
}  # fmt: skip


def spark_upper(text: str) -> str:
    """Spark's ``upper`` (full case mapping: 'ß' -> 'SS') for one string."""
    return text.translate(_ICU_UPPER).upper()


def _letter_or_number(ch: str) -> bool:
    """Java 17's ``[\\p{L}\\p{N}]``."""
    return unicodedata.category(ch)[0] in "LN" and ord(ch) not in _NOT_IN_JAVA_17


def normalize_merchant_text(raw: str) -> str:
    """``normalize_merchant`` for one string."""
    spaced = "".join(ch if _letter_or_number(ch) else " " for ch in spark_upper(raw))
    return " ".join(spaced.split())  # only the spaces put in above are whitespace now


def merchant_text_standardizer(
    rules: MerchantRules,
) -> Callable[[str | None], tuple[str | None, str]]:
    """``standardize_merchants`` for one raw string: (merchant, merchant_category). Build it once
    per rules; the patterns are the Spark version's, compiled by Python's ``re``."""
    prefixes = dict(rules.by_prefix())
    longest = max(len(p.split(" ")) for p in prefixes)
    strip = [
        re.compile(pattern)
        for words, pattern in (
            (rules.strip_prefixes, f"^(({_words(rules.strip_prefixes)}) )+"),
            (rules.strip_suffixes, f"( ({_words(rules.strip_suffixes)}))+$"),
        )
        if words
    ] + [re.compile(r"( [0-9]+)+$")]
    keywords = [
        (re.compile(f"(^| )({_words(e.words)})( |$)"), e.category) for e in rules.keyword_categories
    ]

    def standardize(raw: str | None) -> tuple[str | None, str]:
        if raw is None:
            return None, rules.unknown_category
        normalized = normalize_merchant_text(raw)
        words = normalized.split(" ")
        for n in range(longest, 0, -1):
            entry = prefixes.get(" ".join(words[:n]))
            if entry is not None:
                return entry.name, entry.category
        name = normalized
        for pattern in strip:
            name = pattern.sub("", name)
        hits = (category for pattern, category in keywords if pattern.search(normalized))
        return name or None, next(hits, rules.unknown_category)

    return standardize


def standardize_merchant_text(raw: str | None, rules: MerchantRules) -> tuple[str | None, str]:
    """(merchant, merchant_category) of one raw string, as ``standardize_merchants`` gives."""
    return merchant_text_standardizer(rules)(raw)
