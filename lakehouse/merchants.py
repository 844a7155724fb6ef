"""Merchant standardization: raw card-statement strings -> canonical merchant and category,
by normalization rules and a prefix lookup kept in conf/merchants.yaml. Spark built-ins only."""

from __future__ import annotations

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


class MerchantRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    unknown_category: str = "other"
    merchants: tuple[MerchantEntry, ...]

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


def standardize_merchants(
    df: DataFrame, rules: MerchantRules, *, raw: str = "merchant_raw"
) -> DataFrame:
    """Adds ``merchant`` (canonical; NULL when unmatched) and ``merchant_category``."""
    padded = F.concat(normalize_merchant(raw), F.lit(" "))
    merchant: Column = F.lit(None).cast("string")
    category: Column = F.lit(rules.unknown_category)
    # Built from the shortest prefix outwards so the longest match is the outermost WHEN.
    for prefix, entry in reversed(rules.by_prefix()):
        hit = padded.startswith(prefix + " ")
        merchant = F.when(hit, F.lit(entry.name)).otherwise(merchant)
        category = F.when(hit, F.lit(entry.category)).otherwise(category)
    return df.withColumns({"merchant": merchant, "merchant_category": category})
