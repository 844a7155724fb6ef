"""PII treatment by contract: deterministic keyed tokens (HMAC-SHA256), masks, or removal.

The HMAC is computed with Spark built-ins (sha2 over binary concatenation), not a Python UDF:
HMAC(k, m) = SHA256((k ^ opad) || SHA256((k ^ ipad) || m)). The same value always gives the
same token under one key, so tokenized columns still join; without the key a token reveals
nothing. The key comes only from the environment (LAKEHOUSE__PII__TOKEN_KEY).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.contracts import PiiTreatment
from lakehouse.errors import ContractError

__all__ = ["apply_pii", "hmac_token", "mask"]

BLOCK = 64  # SHA-256 block size in bytes
TOKEN_PREFIX = "tok_"


def _pads(key: bytes) -> tuple[bytes, bytes]:
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def hmac_token(column: str | Column, key: bytes) -> Column:
    """``tok_`` + hex HMAC-SHA256 of the column's UTF-8 text; NULL stays NULL."""
    col = F.col(column) if isinstance(column, str) else column
    inner_pad, outer_pad = _pads(key)
    message = col.cast("string").cast("binary")
    inner = F.unhex(F.sha2(F.concat(F.lit(inner_pad), message), 256))
    outer = F.sha2(F.concat(F.lit(outer_pad), inner), 256)
    return F.when(col.isNull(), F.lit(None)).otherwise(F.concat(F.lit(TOKEN_PREFIX), outer))


def mask(column: str | Column) -> Column:
    """Keeps the shape a support agent needs and nothing else: the last 4 characters."""
    col = (F.col(column) if isinstance(column, str) else column).cast("string")
    hidden = F.greatest(F.length(col) - 4, F.lit(0))
    return F.concat(F.repeat(F.lit("*"), hidden), F.substring(col, -4, 4))


def apply_pii(df: DataFrame, pii: Mapping[str, PiiTreatment], *, key: bytes) -> DataFrame:
    """Replace each PII column per its treatment; columns keep their names (except dropped)."""
    if not key:
        raise ContractError("PII tokenization needs a key: set LAKEHOUSE__PII__TOKEN_KEY")
    missing = [c for c in pii if c not in df.columns]
    if missing:
        raise ContractError(f"PII columns {missing} are not in the data (columns: {df.columns})")
    treated = []
    for name in df.columns:
        treatment = pii.get(name)
        if treatment == "drop":
            continue
        if treatment == "tokenize":
            treated.append(hmac_token(name, key).alias(name))
        elif treatment == "mask":
            treated.append(mask(name).alias(name))
        else:
            treated.append(F.col(name))
    return df.select(*treated)
