"""Kafka values as Spark's from_json reads them with every key typed as text: a JSON string
gives its content, any other value its JSON text as Jackson writes it (Java's number forms,
compact nested values), and a value that is no JSON object is marked. Equal to Spark's reading
on every input (tests/unit/test_ingest_arrow.py); orjson reads the plain objects, Python's json
(with Jackson's leniencies mimicked) the rest.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from decimal import Decimal

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from schemas.transactions import SOURCE_COLUMNS

__all__ = ["parse_values"]


class _Pairs(list):
    """A nested object's (key, value) pairs: Jackson re-writes duplicate keys too."""


def _jackson_int(text: str) -> int:
    if len(text) > 1000:  # Jackson's StreamReadConstraints.maxNumberLength
        raise ValueError("number too long")
    return int(text)


_DECODER = json.JSONDecoder(parse_int=_jackson_int)
_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_Pairs, parse_int=_jackson_int)
_ESCAPES = {c: f"\\u{c:04X}" for c in [*range(0x20), *range(0xD800, 0xE000)]} | {
    ord(k): v for k, v in {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                           "\f": "\\f", "\r": "\\r"}.items()
}  # fmt: skip


def _java_utf8(err: UnicodeDecodeError) -> tuple[str, int]:
    """Java's decoder takes a UTF-8-encoded surrogate (ED A0..BF xx) as one bad sequence where
    Python sees three; elsewhere both replace the same bytes."""
    data, at = err.object, err.start
    if data[at] == 0xED and at + 1 < len(data) and 0xA0 <= data[at + 1] <= 0xBF:
        whole = at + 2 < len(data) and data[at + 2] & 0xC0 == 0x80
        return "\ufffd", at + (3 if whole else 2)
    return "\ufffd", err.end


codecs.register_error("lakehouse.java_utf8", _java_utf8)


def _java_double(x: float) -> str:
    """Java's Double.toString, as Jackson writes a number: the shortest digits that read back as
    the same double, plain from 1e-3 to 1e7, else d.dddEn. (Java 17 writes a digit more for some
    values past 1e16 and some subnormals: no decimal(18,2) holds those anyway.)"""
    if 1e-3 <= abs(x) < 1e7:
        return repr(x)  # the same digits, and there Python never writes an exponent either
    if math.isnan(x) or math.isinf(x):
        return '"NaN"' if math.isnan(x) else ('"Infinity"' if x > 0 else '"-Infinity"')
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign, digit_tuple, exponent = Decimal(repr(x)).as_tuple()
    point = len(digit_tuple) + exponent  # digits before the decimal point
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    return f"{'-' if sign else ''}{digits[0]}.{digits[1:] or '0'}E{point - 1}"


def _jackson(value: object) -> str:
    """A non-string value's JSON text as Jackson copies it (compact, Java's number forms)."""
    if isinstance(value, str):
        return '"' + value.translate(_ESCAPES) + '"'
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double(value)
    if isinstance(value, _Pairs):
        return "{" + ",".join(f"{_jackson(k)}:{_jackson(v)}" for k, v in value) + "}"
    return "[" + ",".join(map(_jackson, value)) + "]"


# What orjson reads differently from Python's json: a nested value (a '[' or a second '{') and
# integers past 64 bits (it makes them floats). Matched anywhere, even inside a string: such an
# event only takes the slower way.
_NOT_FOR_ORJSON = r"\[|\{[^{]*\{|[0-9]{19}"


def _fast_event(raw: bytes) -> dict | None:
    """A flat, strict JSON object read by orjson (as Python's json would, ~4x faster), or None
    where the slower way must decide."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return event if type(event) is dict else None


def _event(raw: bytes | None) -> dict | None:
    """One Kafka value as a JSON object, or None where Spark finds none (broken JSON, an array,
    a scalar, empty). Like Jackson, whatever follows the object is ignored."""
    if raw is None:
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "lakehouse.java_utf8")
    start = len(text) - len(text.lstrip(" \t\n\r"))
    if text[start : start + 1] != "{":
        return None
    try:
        event = _DECODER.raw_decode(text, start)[0]
    except (ValueError, RecursionError):
        event = None
    nested = "[" in text or text.find("{", start + 1) >= 0  # (or only in a string: no harm)
    if event is not None and not nested:
        return event
    # Nested objects keep their pairs (Jackson copies duplicate keys too), and what Python
    # refused gets a second chance as Jackson reads it.
    try:
        return dict(
            _PAIRS_DECODER.raw_decode(text if event is not None else _standard_json(text), start)[0]
        )
    except (ValueError, RecursionError):
        return None


# What Jackson reads as Spark configures it and Python's json does not: 'single-quoted' strings
# and names, \' in any string, +Infinity, +INF and -INF. Rewritten to plain JSON, only for values
# Python refused.
_JACKSON_ONLY = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\+(?:Infinity|INF)|-INF""", re.S)
_ESCAPE_PAIR = re.compile(r"\\(.)|\"", re.S)


def _plain_string(literal: re.Match) -> str:
    pair = literal.group(1)
    if pair is None:  # a " inside a single-quoted string
        return '\\"'
    return "'" if pair == "'" else literal.group(0)


def _rewrite(token: re.Match) -> str:
    text = token.group(0)
    if text[0] in "+-":
        return "-Infinity" if text == "-INF" else "Infinity"
    return '"' + _ESCAPE_PAIR.sub(_plain_string, text[1:-1]) + '"'


def _standard_json(text: str) -> str:
    return _JACKSON_ONLY.sub(_rewrite, text)


def _texts(values: list) -> pa.Array:
    """A key's values as text: a JSON string's content, any other value's JSON text."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid, UnicodeEncodeError):
        pass
    kinds = set(map(type, values)) - {type(None)}
    if kinds == {float}:  # a number key, as it should be: one vectorized pass
        return _float_texts(pa.array(values, pa.float64()))
    texts = [v if v is None or type(v) is str else _jackson(v) for v in values]
    try:
        return pa.array(texts, pa.string())
    except (pa.ArrowInvalid, UnicodeEncodeError):  # a lone surrogate, which Java writes as '?'
        fixed = [v if v is None else v.encode("utf-8", "replace").decode() for v in texts]
        return pa.array(fixed, pa.string())


def _float_texts(numbers: pa.Array) -> pa.Array:
    """Java's Double.toString of each number. Arrow writes the same shortest digits between 1e-3
    and 1e7 (where Java writes no exponent) but drops a whole number's '.0'; the rest go one by
    one through _java_double."""
    size = pc.abs(numbers)
    plain = pc.fill_null(pc.and_(pc.greater_equal(size, 1e-3), pc.less(size, 1e7)), False)
    texts = pc.cast(numbers, pa.string())
    whole = pc.invert(pc.match_substring(texts, "."))
    texts = pc.if_else(whole, pc.binary_join_element_wise(texts, ".0", ""), texts)
    if pc.all(pc.or_(plain, pc.is_null(numbers))).as_py():
        return texts
    others = [None if x is None else _java_double(x) for x in numbers.to_pylist()]
    return pc.if_else(plain, texts, pa.array(others, pa.string()))


def parse_values(values: pa.ChunkedArray) -> tuple[dict[str, pa.Array], pa.Array]:
    """Each source column as text, and whether the value is not a JSON object."""
    raw = values.cast(pa.binary())
    slow = pc.fill_null(pc.match_substring_regex(raw, _NOT_FOR_ORJSON), True).to_pylist()
    events = [
        _event(value) if is_slow else (_fast_event(value) or _event(value))
        for value, is_slow in zip(raw.to_pylist(), slow, strict=True)
    ]
    not_json = pa.array([e is None for e in events], pa.bool_())
    found = [{} if e is None else e for e in events]
    return {name: _texts([e.get(name) for e in found]) for name in SOURCE_COLUMNS}, not_json
