"""The stream ingest's transforms in pyarrow: Kafka rows -> bronze events -> typed and flagged
events -> silver rows and dead letters, equal to _ingest_parse.py's (and the batch path's
``type_transactions`` / ``to_silver``) on every input, without a Spark job. Each event's JSON is
read as Spark's from_json reads it (_ingest_json.py); every other step is vectorized, or a loop
over distinct values (merchants, account tokens, odd amount texts).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql.pandas.types import to_arrow_schema

from lakehouse.contracts import TableContract
from lakehouse.merchants import MerchantRules, merchant_text_standardizer, spark_upper
from lakehouse.pii import apply_pii_arrow
from lakehouse.quality import FAILED_RULES, QualitySuite
from lakehouse.quality_arrow import FAILED_RULES_TYPE, failed_rules
from schemas.streaming import DEAD_LETTERS, TRANSACTION_EVENTS
from streaming._ingest_json import parse_values
from streaming._ingest_parse import _REASONS, KAFKA_COLUMNS, LATE, NOT_JSON

__all__ = [
    "bronze_batch",
    "dead_letter_rows",
    "flag_batch",
    "flag_batches",
    "refused_mask",
    "silver_rows",
]

# Rows parsed at a time by flag_batches: large enough that a call's fixed cost is small, small
# enough that parsing starts while the rest of a task's records are still being fetched.
PARSE_ROWS = 2_000
_NOT_JSON = "_not_json"

BRONZE_SCHEMA = to_arrow_schema(TRANSACTION_EVENTS.schema, timezone="UTC")
DEAD_LETTERS_SCHEMA = to_arrow_schema(DEAD_LETTERS.schema, timezone="UTC")
TIMESTAMP = pa.timestamp("us", tz="UTC")
AMOUNT = pa.decimal128(18, 2)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Spark's binary -> string cast: the bytes as they are, even when they are not UTF-8."""
    return pa.chunked_array([c.view(pa.string()) for c in column.chunks], pa.string())


def bronze_batch(kafka: pa.RecordBatch | pa.Table, *, query_id: str, batch_id: int) -> pa.Table:
    """Kafka source rows as bronze.transaction_events rows (``_ingest_parse.bronze_events``)."""
    raw = pa.table(kafka) if isinstance(kafka, pa.RecordBatch) else kafka
    n = raw.num_rows
    columns = {
        "key": _as_text(raw["key"]),
        "value": _as_text(raw["value"]),
        "topic": raw["topic"],
        "partition": raw["partition"],
        "offset": raw["offset"],
        "kafka_ts": raw["timestamp"],
        "received_date": pc.cast(raw["timestamp"], pa.date32()),
        "_query_id": pa.repeat(pa.scalar(query_id), n),
        "_batch_id": pa.repeat(pa.scalar(batch_id, pa.int64()), n),
    }
    return pa.table([columns[f.name] for f in BRONZE_SCHEMA], schema=BRONZE_SCHEMA)


# -- typing (jobs/build_silver_transactions.type_transactions) -----------------------------------
# try_to_timestamp(txn_ts, "yyyy-MM-dd'T'HH:mm:ssX") accepts exactly these (measured on Spark 4.3):
# 'T' and 'Z' in either case; offsets Z, +HH or +HHMM up to 18:00, never +HH:MM; no fraction, no
# spaces; a year of four digits, more only after a sign, and not -0000. Past the microsecond range
# (year 294247) Spark throws "long overflow" and fails the whole batch; here the event is NULL.
_TS = (
    r"^(?P<sign>[+-]?)(?P<year>[0-9]{4,9})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})[Tt]"
    r"(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:[Zz]|(?P<osign>[+-])(?P<oh>[0-9]{2})(?P<om>[0-9]{2})?)$"
)
_MAX_SECONDS = np.iinfo(np.int64).max // 1_000_000
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def _timestamps(text: pa.Array) -> pa.Array:
    parts = pc.extract_regex(text, _TS)
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)

    def number(name: str) -> np.ndarray:
        digits = pc.fill_null(parts.field(name), "")
        digits = pc.if_else(pc.equal(digits, ""), "0", digits)
        return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)

    def is_(name: str, sign: str) -> np.ndarray:
        return pc.fill_null(pc.equal(parts.field(name), sign), False).to_numpy(zero_copy_only=False)

    year, month, day, offset_minutes = number("year"), number("month"), number("day"), number("om")
    hour, minute, second = number("hour"), number("minute"), number("second")
    width = pc.fill_null(pc.utf8_length(parts.field("year")), 0).to_numpy(zero_copy_only=False)
    unsigned, negative = is_("sign", ""), is_("sign", "-")
    year = np.where(negative, -year, year)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last_day = _MONTH_DAYS[np.clip(month, 0, 12)] + (leap & (month == 2))
    offset = (number("oh") * 60 + offset_minutes) * 60 * np.where(is_("osign", "-"), -1, 1)
    year_ok = np.where(unsigned, width == 4, (width > 4) | (negative & (year != 0)))
    valid = (
        matched & year_ok & (month >= 1) & (month <= 12) & (day >= 1) & (day <= last_day)
        & (hour <= 23) & (minute <= 59) & (second <= 59) & (offset_minutes <= 59)
        & (np.abs(offset) <= 18 * 3600)
    )  # fmt: skip
    days = _days_from_civil(year, month, day)
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    valid &= np.abs(seconds) <= _MAX_SECONDS
    micros = np.where(valid, seconds, 0) * 1_000_000
    return pa.array(micros, pa.int64(), mask=~valid).cast(TIMESTAMP)


# try_cast(... as decimal(18,2)): Java's String.trim() (every char up to U+0020), BigDecimal's
# grammar (any BMP decimal digit, '+', '.5', '5.', exponents), HALF_UP, NULL past 16 digits.
_PLAIN_AMOUNT = r"^-?[0-9]{1,16}(\.[0-9]{1,2})?$"
_JAVA_TRIM = "".join(map(chr, range(33)))
_BIG_DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_CENT = Decimal("0.01")
_LIMIT = Decimal(10) ** 16


def _amount(text: str) -> Decimal | None:
    """One amount text that is not a plain number, as Spark's try_cast reads it."""
    number = text.strip(_JAVA_TRIM)
    if not _BIG_DECIMAL.fullmatch(number) or max(number) > "\uffff":
        return None  # Java reads a supplementary-plane digit as two chars, neither a digit
    try:
        value = Decimal(number)
    except InvalidOperation:
        return None
    if not -(2**31) <= -value.as_tuple().exponent < 2**31:  # BigDecimal's int scale
        return None
    if value.adjusted() >= 16:
        return None
    rounded = value.quantize(_CENT, rounding=ROUND_HALF_UP)
    return rounded if abs(rounded) < _LIMIT else None


def _amounts(text: pa.Array) -> pa.Array:
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_AMOUNT), False)
    fast = pc.cast(pc.if_else(plain, text, None), AMOUNT)
    odd = pc.if_else(plain, None, text).dictionary_encode()
    if len(odd.dictionary) == 0:
        return fast
    slow = pa.array([_amount(t) for t in odd.dictionary.to_pylist()], AMOUNT).take(odd.indices)
    return pc.if_else(plain, fast, slow)


def _per_distinct(text: pa.Array, convert, result_type: pa.DataType) -> pa.Array:
    encoded = text.dictionary_encode()
    values = [convert(v) for v in encoded.dictionary.to_pylist()]
    return pa.array(values, result_type).take(encoded.indices)


def _typed(texts: dict[str, pa.Array], bronze: pa.Table, run_id: str) -> dict[str, pa.Array]:
    """``type_transactions(flat, keep=KAFKA_COLUMNS)``'s columns, in its order."""
    partition = pc.cast(bronze["partition"], pa.string())
    currency = pc.utf8_trim(texts["currency"], characters=" ")  # Spark's trim(): spaces only
    return {
        "txn_id": texts["txn_id"],
        "customer_id": texts["customer_id"],
        "account_id": texts["account_id"],
        "txn_ts": _timestamps(texts["txn_ts"]),
        "txn_ts_raw": texts["txn_ts"],
        "amount": _amounts(texts["amount"]),
        "amount_raw": texts["amount"],
        "currency": _per_distinct(currency, lambda c: c and spark_upper(c), pa.string()),
        **{c: texts[c] for c in ("merchant_raw", "category", "mode", "location", "remarks")},
        "_source_file": pc.binary_join_element_wise(bronze["topic"], partition, "-"),
        "_line_number": bronze["offset"],
        "_run_id": pa.repeat(pa.scalar(run_id), bronze.num_rows),
        "_run_date": bronze["received_date"],
        **{c: bronze[c] for c in KAFKA_COLUMNS},
    }


def flag_batch(bronze: pa.Table, suite: QualitySuite, *, run_id: str) -> pa.Table:
    """Parse, type and flag each event (``_ingest_parse.flag_events``): the typed transaction
    columns, the Kafka columns and ``_dq_failed_rules``; not a JSON object fails only not_json."""
    return _flag_typed(_type_batch(bronze, run_id), suite)


def flag_batches(
    kafka: Iterable[pa.RecordBatch],
    suite: QualitySuite,
    *,
    query_id: str,
    batch_id: int,
    run_id: str,
    rows: int = PARSE_ROWS,
) -> tuple[pa.Table, pa.Table]:
    """(bronze rows, ``flag_batch`` of them) for Kafka rows that arrive in batches: each ``rows``
    are parsed and typed as they come, so a task parses while librdkafka fetches the rest (a
    read waits on broker round trips); the rules run once over all (``unique`` counts across)."""
    bronze: list[pa.Table] = []
    typed: list[pa.Table] = []
    for part in _regrouped(kafka, rows):
        bronze.append(bronze_batch(part, query_id=query_id, batch_id=batch_id))
        typed.append(_type_batch(bronze[-1], run_id))
    if not bronze:
        empty = BRONZE_SCHEMA.empty_table()
        return empty, flag_batch(empty, suite, run_id=run_id)
    return pa.concat_tables(bronze), _flag_typed(pa.concat_tables(typed), suite)


def _regrouped(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _type_batch(bronze: pa.Table, run_id: str) -> pa.Table:
    texts, not_json = parse_values(bronze["value"])
    return pa.table(_typed(texts, bronze, run_id)).append_column(_NOT_JSON, not_json)


def _flag_typed(typed: pa.Table, suite: QualitySuite) -> pa.Table:
    not_json = typed[_NOT_JSON]
    typed = typed.drop_columns([_NOT_JSON])
    only_not_json = pa.scalar([NOT_JSON], FAILED_RULES_TYPE)
    return typed.append_column(
        FAILED_RULES, pc.if_else(not_json, only_not_json, failed_rules(typed, suite))
    )


def refused_mask(flagged: pa.Table, *, late_before: dt.date | None) -> pa.ChunkedArray:
    """True for events that go to the dead letters (``_ingest_parse.refused``). NULL where
    Spark's is NULL too: an event passing every rule without a txn_ts (an empty text passes
    txn_ts_present and txn_ts_valid), which ``Table.filter`` drops either way, as ``where`` does."""
    failing = pc.greater(pc.list_value_length(flagged[FAILED_RULES]), 0)
    if late_before is None:
        return failing
    late = pc.less(pc.cast(flagged["txn_ts"], pa.date32()), pa.scalar(late_before, pa.date32()))
    return pc.or_kleene(failing, late)


def _latest_per_transaction(passed: pa.Table) -> pa.Table:
    """One row per txn_id: the latest txn_ts, then _run_date, then _line_number (NULLs last)."""
    ids = passed["txn_id"].combine_chunks().dictionary_encode(null_encoding="encode")
    ranked = pa.table(
        {
            "id": ids.indices,
            **{c: passed[c] for c in ("txn_ts", "_run_date", "_line_number")},
        }
    )
    desc = [(c, "descending", "at_end") for c in ("txn_ts", "_run_date", "_line_number")]
    order = pc.sort_indices(ranked, [("id", "ascending", "at_end"), *desc])
    sorted_ids = ids.indices.take(order).to_numpy(zero_copy_only=False)
    first = np.ones(len(sorted_ids), dtype=bool)
    first[1:] = sorted_ids[1:] != sorted_ids[:-1]
    return passed.take(order.filter(pa.array(first)))


def silver_rows(
    passed: pa.Table,
    contract: TableContract,
    *,
    merchants: MerchantRules,
    pii_key: bytes,
    run_id: str,
) -> pa.Table:
    """``to_silver(passed, contract, ...)`` with ``_run_id`` set to ``run_id``, in the contract's
    Arrow schema."""
    latest = _latest_per_transaction(passed)
    standardize = merchant_text_standardizer(merchants)
    raw = latest["merchant_raw"].combine_chunks().dictionary_encode()
    canonical = [standardize(v) for v in raw.dictionary.to_pylist()]
    merchant = pa.array([m for m, _ in canonical], pa.string()).take(raw.indices)
    category = pa.array([c for _, c in canonical], pa.string()).take(raw.indices)
    columns = {
        **{c: latest[c] for c in latest.column_names},
        "merchant": merchant,
        "merchant_category": pc.fill_null(category, merchants.unknown_category),
        "txn_date": pc.cast(latest["txn_ts"], pa.date32()),
        "_run_id": pa.repeat(pa.scalar(run_id), latest.num_rows),
    }
    conformed = pa.table({c: columns[c] for c in contract.column_names})
    treated = apply_pii_arrow(conformed, contract.pii, key=pii_key)
    schema = to_arrow_schema(contract.schema, timezone="UTC")
    return pa.table([treated[f.name] for f in schema], schema=schema)


def dead_letter_rows(
    flagged: pa.Table,
    suite: QualitySuite,
    *,
    app: str,
    late_before: dt.date | None,
    query_id: str,
    batch_id: int,
) -> pa.Table:
    """ops.dead_letters rows (``_ingest_parse.dead_letters``): few by nature, so the reasons are
    joined in Python."""
    refused = flagged.filter(refused_mask(flagged, late_before=late_before))
    described = {r.name: r.describe() for r in suite.rules} | _REASONS
    # A refused event without a failed rule is a late one.
    rules = [r or [LATE] for r in refused[FAILED_RULES].to_pylist()]
    reasons = ["; ".join(described[x] for x in r if x in described) for r in rules]
    n = refused.num_rows
    columns = {
        "app": pa.repeat(pa.scalar(app), n),
        **{c: refused[c] for c in ("topic", "partition", "offset", "kafka_ts", "key")},
        "raw_value": refused["value"],
        "rules": pa.array(rules, FAILED_RULES_TYPE),
        "reason": pa.array(reasons, pa.string()),
        "received_date": refused["received_date"],
        "_query_id": pa.repeat(pa.scalar(query_id), n),
        "_batch_id": pa.repeat(pa.scalar(batch_id, pa.int64()), n),
    }
    return pa.table([columns[f.name] for f in DEAD_LETTERS_SCHEMA], schema=DEAD_LETTERS_SCHEMA)
