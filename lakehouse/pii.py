"""PII treatment by contract: deterministic keyed tokens (HMAC-SHA256), masks, or removal.

The HMAC is computed with Spark built-ins (sha2 over binary concatenation), not a Python UDF:
HMAC(k, m) = SHA256((k ^ opad) || SHA256((k ^ ipad) || m)). The same value always gives the
same token under one key, so tokenized columns still join; without the key a token reveals
nothing. The key comes only from the environment (LAKEHOUSE__PII__TOKEN_KEY).

``apply_pii_arrow`` does the same to a pyarrow table (the stream ingest's Arrow path), with the
same pads, so a value gets the same token on either path.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lakehouse.contracts import PiiTreatment
from lakehouse.errors import ContractError

__all__ = ["apply_pii", "apply_pii_arrow", "hmac_token", "mask", "mask_text", "token_text"]

BLOCK = 64  # SHA-256 block size in bytes
TOKEN_PREFIX = "tok_"


@functools.lru_cache(maxsize=4)  # one key per process, in practice
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


def _check_pii(columns: list[str], pii: Mapping[str, PiiTreatment], key: bytes) -> None:
    if not key:
        raise ContractError("PII tokenization needs a key: set LAKEHOUSE__PII__TOKEN_KEY")
    missing = [c for c in pii if c not in columns]
    if missing:
        raise ContractError(f"PII columns {missing} are not in the data (columns: {columns})")


def apply_pii(df: DataFrame, pii: Mapping[str, PiiTreatment], *, key: bytes) -> DataFrame:
    """Replace each PII column per its treatment; columns keep their names (except dropped)."""
    _check_pii(df.columns, pii, key)
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


# -- the same on pyarrow tables ----------------------------------------------------------------
def token_text(value: str | None, key: bytes) -> str | None:
    """``hmac_token`` for one value: ``tok_`` + hex HMAC-SHA256 of its UTF-8 text."""
    if value is None:
        return None
    inner_pad, outer_pad = _pads(key)
    inner = hashlib.sha256(inner_pad + value.encode()).digest()
    return TOKEN_PREFIX + hashlib.sha256(outer_pad + inner).hexdigest()


def mask_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``mask`` on an Arrow string column (lengths in characters, as Spark counts them)."""
    text = values if pa.types.is_string(values.type) else pc.cast(values, pa.string())
    hidden = pc.max_element_wise(pc.subtract(pc.utf8_length(text), 4), 0)
    stars = pc.binary_repeat(pa.scalar("*"), pc.cast(hidden, pa.int64()))
    return pc.binary_join_element_wise(stars, pc.utf8_slice_codeunits(text, -4), "")


def _tokens(values: pa.Array | pa.ChunkedArray, key: bytes) -> pa.Array:
    """One HMAC per distinct value: ids and accounts repeat across rows."""
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not pa.types.is_string(text.type):
        text = pc.cast(text, pa.string())
    encoded = text.dictionary_encode()
    tokens = pa.array([token_text(v, key) for v in encoded.dictionary.to_pylist()], pa.string())
    return tokens.take(encoded.indices)


def apply_pii_arrow(table: pa.Table, pii: Mapping[str, PiiTreatment], *, key: bytes) -> pa.Table:
    """``apply_pii`` for a pyarrow table: the same tokens, masks and dropped columns."""
    _check_pii(table.column_names, pii, key)
    columns, names = [], []
    for name in table.column_names:
        treatment = pii.get(name)
        if treatment == "drop":
            continue
        column = table[name]
        if treatment == "tokenize":
            column = _tokens(column, key)
        elif treatment == "mask":
            column = mask_text(column)
        columns.append(column)
        names.append(name)
    return pa.table(columns, names=names)
