"""The Arrow path of the stream ingest equals the Spark one: the same Kafka rows through both give
the same bronze rows, flags, silver rows and dead letters, row for row and type for type."""

# ruff: noqa: RUF001  (look-alike digits and letters are the point of the edge cases)
from __future__ import annotations

import datetime as dt
import itertools
import random
import zlib

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema

from jobs.build_silver_transactions import to_silver
from lakehouse.generate import GeneratorSpec
from lakehouse.generate.defects import (
    HUGE_AMOUNTS,
    MALFORMED_DATES,
    NON_NUMERIC,
    UNKNOWN_CURRENCIES,
)
from lakehouse.generate.kafka_sink import transaction_events
from lakehouse.merchants import load_merchant_rules
from lakehouse.quality import FAILED_RULES, Rule, load_suite
from schemas.streaming import DEAD_LETTERS, TRANSACTION_EVENTS, TRANSACTIONS_STREAM
from streaming import _ingest_arrow as arrow
from streaming import _ingest_parse as parse
from streaming.kafka_source import kafka_schema
from tests.unit.test_stream_parse import CASES, GOOD, changed

pytestmark = pytest.mark.unit

KEY = b"test-key-not-a-secret"
STAMP = dt.datetime(2024, 5, 1, 11, 0, tzinfo=dt.UTC)
TIMESTAMPS = [
    *MALFORMED_DATES,
    "2024-05-01T10:30:00z", "2024-05-01t10:30:00Z", "2024-05-01T10:30:00+01",
    "2024-05-01T10:30:00+01:00", "2024-05-01T10:30:00+0130", "2024-05-01T10:30:00-0545",
    "2024-05-01T10:30:00+18", "2024-05-01T10:30:00+19", "2024-05-01T10:30:00+1800",
    "2024-05-01T10:30:00+1801", "2024-05-01T10:30:00-00", "2024-05-01T10:30:00+0160",
    "2024-05-01T10:30:00.123Z", "2024-05-01T10:30:00", "2024-05-01 10:30:00Z",
    " 2024-05-01T10:30:00Z", "2024-05-01T10:30:00Z ", "2024-05-01T10:30:00Z\n",
    "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T23:59:59Z", "2100-02-29T00:00:00Z",
    "2000-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T23:59:60Z",
    "12024-05-01T10:30:00Z", "+12024-05-01T10:30:00Z", "+2024-05-01T10:30:00Z",
    "0000-01-01T00:00:00Z", "-0001-01-01T00:00:00Z", "-0000-01-01T00:00:00Z",
    "-12024-01-01T00:00:00Z", "9999-12-31T23:59:59-01", "1969-12-31T23:59:59Z",
    "+294247-01-10T04:00:54Z", "-290308-12-21T19:59:06Z", "+0012024-05-01T10:30:00Z",
    "+1000000000-01-01T00:00:00Z", "0099-01-01T00:00:00+1801",
    "２０２４-05-01T10:30:00Z", "2024-05-01T10:30:00UTC", "2024-05-01T10:30:00ZZ", "",
]  # fmt: skip
AMOUNTS = [
    *NON_NUMERIC, *HUGE_AMOUNTS,
    "12.5", "12.505", "-12.505", "12.5049999", " 12.5", "\t12.5\n", "\x0012.5", "\xa012.5",
    "12.5\u2003", "\x7f12.5", "+1", "1e3", "1E-3", "1.5e1", "1e16", "9999999999999999.99",
    "9999999999999999.995", "-9999999999999999.994", ".5", "5.", "+.5", "1_000", "NaN",
    "Infinity", "0x10", "١٢", "１２", "١.٥", "\U0001d7cf", "12.5d", "--5", "", " ", "1e", "1e+3",
    "0.005", "-0.005", "-0", "00012.5", "1e-2147483648", "1e-2147483647", "0.5e-2147483647",
    "1e2147483648", "123456789012345678901234567890e-20",
]  # fmt: skip
NUMBERS = [
    "12.50", "1e2", "-0", "-0.0", "123456789012345678901234567890", "1.0e-5", "NaN", "Infinity",
    "-Infinity", "1e400", "-1e-400", "12345678901234567.891", "0.00099", "9007199254740993.0",
    "1.005", "2.675", "1234567.125", "true", "false", "null", '{"v": 1.50, "w": [1, "x\\"é"]}',
    '{"a": 1, "a": 2}', '["\\u0001\\t", null, 1e7, {}]', '"\\ud83d"', '"\\ud83d\\ude00"',
]  # fmt: skip
CURRENCIES = [*UNKNOWN_CURRENCIES, "usd", " gbp ", "\teur", "eur\n", "ß", "ﬀ", "Eur", "", " "]
MERCHANTS = [
    "AMZN Mktp US*2K3", "Amazon Prime*7QX", "Café Unbekannt", "SUMUP *Bäckerei Roth",
    "straße 12", "ŉ hof", "ǅemal", "ÉPICERIE du coin", "ACME GMBH PAYROLL", "RENT", "12345",
    "", "   ", "ƛambda 1", "\u0870 shop", "Çağrı Market", "東京 ストア 7", "McDonald's Restaurant",
]  # fmt: skip
BROKEN = [
    b'{"txn_id": "T1"} trailing', b'{"txn_id":"T1"}{"b":2}', b'\n {"txn_id":"T1"}\t',
    b"\xef\xbb\xbf{}", b"{}", b"null", b'"s"', b"1", b"[{}]", b'{"txn_id":01}', b'{"a":1,}',
    b'{"txn_id":"x\ty"}', b'{"TXN_ID":"x"}', b'{"txn_id":"a","txn_id":"b"}', b"\x00{}",
    b'{"merchant_raw":"\xff\xfe\xed\xa0\x80\xe2\x82"}', b'{"merchant_raw":"ok"}\xff', b"\xff{}",
    b'{"txn_id": +1}', b'{"txn_id": .5}', b'{"txn_id": INF}', b'{"remarks":"\x7f"}', b"   ",
    # Jackson reads what Python's json does not: single quotes, \\', +Infinity, +INF, -INF.
    b"{'txn_id': 'Q1', 'customer_id': 'C\"1', 'amount': +INF, 'remarks': [-INF, +Infinity]}",
    b'{"txn_id": "Q2", "customer_id": "it\\\'s", "amount": \'12.5\', "remarks": \'x\\/\'}',
    b"{'txn_id': 'Q3', 'customer_id': 'x\ty'}", b"{'txn_id': ''}", b'{"txn_id": -NaN}',
    b'{"txn_id": +NaN}', b'{"txn_id": -inf}', b'{"txn_id": -INFINITY}', b'{"txn_id": +Infinit}',
    b"{'txn_id': 'Q4', 'customer_id': 'C', 'txn_ts': '2024-05-01T10:30:00Z', 'amount': '1'}",
]  # fmt: skip


def edge_events() -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every kind of event the stream can carry."""
    events = [(name.encode(), value) for name, (value, _) in CASES.items()]
    events += [(b"ts", changed(txn_id=f"TS{i}", txn_ts=t)) for i, t in enumerate(TIMESTAMPS)]
    events += [(b"amt", changed(txn_id=f"AM{i}", amount=a)) for i, a in enumerate(AMOUNTS)]
    events += [(b"cur", changed(txn_id=f"CU{i}", currency=c)) for i, c in enumerate(CURRENCIES)]
    events += [(b"mer", changed(txn_id=f"ME{i}", merchant_raw=m)) for i, m in enumerate(MERCHANTS)]
    for i, number in enumerate(NUMBERS):
        for field in ("amount", "customer_id", "merchant_raw"):
            # Appended: the last of two equal keys wins, in Spark as in Python.
            value = changed(txn_id=f"NU{field}{i}")[:-1] + f', "{field}": {number}}}'.encode()
            events.append((b"num", value))
    # JSON numbers Jackson reads as doubles and writes back as Java does (below 1e16, where Java
    # 17's digits are the shortest, as Python's are; larger ones fit no decimal(18,2) anyway).
    rng = random.Random(7)
    doubles = [rng.uniform(-10, 10) * 10.0 ** rng.randint(-12, 15) for _ in range(300)]
    events += [(b"dbl", changed(txn_id=f"DB{i}", amount=x)) for i, x in enumerate(doubles)]
    events += [(None, value) for value in BROKEN] + [(b"null-value", None)]
    # Re-sends: the latest txn_ts wins, then the later offset.
    for ts in ("2024-05-01T09:00:00Z", "2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"):
        events.append((b"dup", changed(txn_id="DUP1", txn_ts=ts, amount=len(events))))
    events.append((b"old", changed(txn_id="OLD1", txn_ts="2024-04-01T00:00:00Z")))
    return events


def kafka_rows(events: list[tuple[bytes | None, bytes | None]]) -> pa.Table:
    """Kafka source rows over three partitions of two topics, offsets unique overall (so that no
    two versions of a txn_id tie on every ordering column, where Spark's pick is arbitrary)."""
    place = [zlib.crc32(k or b"") % 3 for k, _ in events]
    columns = {
        "key": pa.array([k for k, _ in events], pa.binary()),
        "value": pa.array([v for _, v in events], pa.binary()),
        "topic": pa.array(["txns" if p < 2 else "txns2" for p in place]),
        "partition": pa.array(place, pa.int32()),
        "offset": pa.array(range(len(events)), pa.int64()),
        "timestamp": pa.array([STAMP + dt.timedelta(seconds=i) for i in range(len(events))]),
        "timestampType": pa.array([0] * len(events), pa.int32()),
    }
    return pa.table(columns, schema=to_arrow_schema(kafka_schema(), timezone="UTC"))


@pytest.fixture(scope="module")
def suite(cfg):
    return parse.stream_suite(load_suite(cfg.conf_dir, "silver.transactions"))


@pytest.fixture(scope="module")
def merchants(cfg):
    return load_merchant_rules(cfg.conf_dir)


@pytest.fixture(scope="module")
def kafka():
    spec = GeneratorSpec(customers=300, days=3, seed=5, start_date=dt.date(2024, 5, 1))
    generated = transaction_events(spec, seed=5, defect_rate=0.05)
    return kafka_rows(edge_events() + [(k, v) for k, v, _ in itertools.islice(generated, 3000)])


@pytest.fixture(scope="module")
def both(spark, kafka, suite):
    """(Spark, Arrow) flagged events."""
    events = parse.bronze_events(spark.createDataFrame(kafka), query_id="q", batch_id=7)
    flagged_df = parse.flag_events(events, suite, run_id="run").cache()
    flagged = arrow.flag_batch(
        arrow.bronze_batch(kafka, query_id="q", batch_id=7), suite, run_id="run"
    )
    return flagged_df, flagged


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text as bytes (some values are not UTF-8, as Spark keeps them), times as integers (some
    are before year 1, which Python's datetime cannot hold)."""
    if pa.types.is_string(column.type):
        return pc.cast(column, pa.binary())
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        return column.cast(pa.int64() if pa.types.is_timestamp(column.type) else pa.int32())
    return column


def comparable(table: pa.Table, *order: str) -> list[dict]:
    """Rows sorted by ``order``, as plain Python values."""
    table = table.sort_by([(c, "ascending") for c in order])
    return pa.table([_plain(c) for c in table.columns], names=table.column_names).to_pylist()


def assert_equal(got: pa.Table, want: pa.Table, *order: str) -> None:
    assert [(f.name, f.type) for f in got.schema] == [(f.name, f.type) for f in want.schema]
    assert got.num_rows == want.num_rows
    for g, w in zip(comparable(got, *order), comparable(want, *order), strict=True):
        assert g == w


COORDINATES = ("topic", "partition", "offset")


def test_bronze_rows_equal_sparks_in_the_contracts_schema(spark, kafka):
    want = parse.bronze_events(spark.createDataFrame(kafka), query_id="q", batch_id=7).toArrow()
    got = arrow.bronze_batch(kafka, query_id="q", batch_id=7)
    assert got.schema == to_arrow_schema(TRANSACTION_EVENTS.schema, timezone="UTC")
    assert_equal(got, want, *COORDINATES)


def test_bronze_takes_a_record_batch(kafka):
    batch = kafka.to_batches()[0]
    got = arrow.bronze_batch(batch, query_id="q", batch_id=7)
    assert got.num_rows == batch.num_rows


def test_flags_equal_sparks_for_every_kind_of_event(both):
    flagged_df, flagged = both
    assert_equal(flagged, flagged_df.toArrow(), *COORDINATES)


def test_flags_of_batches_as_a_task_reads_them_equal_the_whole_tables(kafka, suite):
    # flag_batches parses as batches arrive; a unique rule still counts across all of them.
    unique = suite.model_copy(
        update={
            "rules": (
                *suite.rules,
                Rule(name="txn_id_unique", check="unique", column="txn_id"),
            )
        }
    )
    batches = kafka.to_batches(max_chunksize=700)
    ids = {"query_id": "q", "batch_id": 7, "run_id": "run"}
    bronze, flagged = arrow.flag_batches(iter(batches), unique, rows=1_000, **ids)
    whole = arrow.bronze_batch(kafka, query_id="q", batch_id=7)
    assert bronze.equals(whole)
    assert flagged.equals(arrow.flag_batch(whole, unique, run_id="run"))
    assert "txn_id_unique" in pc.list_flatten(flagged[FAILED_RULES]).to_pylist()
    none, nothing = arrow.flag_batches(iter([]), unique, **ids)
    assert none.num_rows == nothing.num_rows == 0
    assert nothing.schema == flagged.schema


def test_the_edge_cases_really_vary(both):
    """Guards the test itself: the edge events hit valid and invalid texts of every kind."""
    rules = pc.list_flatten(both[1][FAILED_RULES]).value_counts().to_pylist()
    seen = {r["values"] for r in rules}
    assert {"not_json", "txn_ts_valid", "amount_valid", "currency_known", "amount_in_range"} <= seen
    assert pc.sum(pc.equal(pc.list_value_length(both[1][FAILED_RULES]), 0)).as_py() > 3000


@pytest.mark.parametrize("late_before", [None, dt.date(2024, 5, 2)])
def test_refused_events_equal_sparks(both, late_before):
    flagged_df, flagged = both
    want = flagged_df.select(parse.refused(late_before=late_before).alias("r"), *COORDINATES)
    got = flagged.select(list(COORDINATES)).append_column(
        "r", arrow.refused_mask(flagged, late_before=late_before)
    )
    want_rows = comparable(want.toArrow().select(got.column_names), *COORDINATES)
    assert comparable(got, *COORDINATES) == want_rows


@pytest.mark.parametrize("late_before", [None, dt.date(2024, 5, 2)])
def test_dead_letters_equal_sparks(both, suite, late_before):
    flagged_df, flagged = both
    ids = {"app": "ingest", "late_before": late_before, "query_id": "q", "batch_id": 7}
    want = parse.dead_letters(flagged_df, suite, **ids).toArrow()
    got = arrow.dead_letter_rows(flagged, suite, **ids)
    assert got.schema == to_arrow_schema(DEAD_LETTERS.schema, timezone="UTC")
    assert_equal(got, want, *COORDINATES)


@pytest.mark.parametrize("late_before", [None, dt.date(2024, 5, 2)])
def test_silver_rows_equal_sparks(both, merchants, late_before):
    flagged_df, flagged = both
    passed_df = flagged_df.where(~parse.refused(late_before=late_before))
    want = to_silver(passed_df, TRANSACTIONS_STREAM, merchants=merchants, pii_key=KEY)
    want = want.withColumn("_run_id", F.lit("run-7")).toArrow()
    passed = flagged.filter(pc.invert(arrow.refused_mask(flagged, late_before=late_before)))
    got = arrow.silver_rows(
        passed, TRANSACTIONS_STREAM, merchants=merchants, pii_key=KEY, run_id="run-7"
    )
    assert got.schema == to_arrow_schema(TRANSACTIONS_STREAM.schema, timezone="UTC")
    assert_equal(got, want, "txn_id")
    assert pc.count_distinct(got["txn_id"]).as_py() == got.num_rows


def test_the_latest_version_of_a_resent_event_wins(both, merchants):
    flagged = both[1]
    passed = flagged.filter(pc.invert(arrow.refused_mask(flagged, late_before=None)))
    got = arrow.silver_rows(
        passed, TRANSACTIONS_STREAM, merchants=merchants, pii_key=KEY, run_id="r"
    )
    dup = got.filter(pc.equal(got["txn_id"], "DUP1")).to_pylist()
    assert [r["txn_ts"].hour for r in dup] == [12]


def test_a_valid_event_is_typed_like_the_good_one(both):
    row = both[1].filter(pc.equal(both[1]["key"], "valid")).to_pylist()[0]
    assert row["txn_ts"] == dt.datetime(2024, 5, 1, 10, 30, tzinfo=dt.UTC)
    assert str(row["amount"]) == "12.50"
    assert row["customer_id"] == GOOD["customer_id"]


def run_all(kafka: pa.Table, suite, merchants) -> list[pa.Table]:
    bronze = arrow.bronze_batch(kafka, query_id="q", batch_id=7)
    flagged = arrow.flag_batch(bronze, suite, run_id="run")
    passed = flagged.filter(pc.invert(arrow.refused_mask(flagged, late_before=None)))
    ids = {"app": "ingest", "late_before": dt.date(2024, 5, 2), "query_id": "q", "batch_id": 7}
    return [
        bronze,
        flagged,
        arrow.silver_rows(
            passed, TRANSACTIONS_STREAM, merchants=merchants, pii_key=KEY, run_id="r"
        ),
        arrow.dead_letter_rows(flagged, suite, **ids),
    ]


def test_many_chunks_give_the_same_rows_as_one(kafka, suite, merchants):
    """mapInArrow hands a task its rows in several record batches."""
    chunked = pa.concat_tables([kafka.slice(i, 700) for i in range(0, kafka.num_rows, 700)])
    whole = run_all(kafka, suite, merchants)
    for got, want in zip(run_all(chunked, suite, merchants), whole, strict=True):
        assert got.equals(want)


def test_an_empty_batch_gives_empty_tables_with_their_schemas(kafka, suite, merchants):
    tables = run_all(kafka.slice(0, 0), suite, merchants)
    assert [t.num_rows for t in tables] == [0, 0, 0, 0]
    assert tables[2].schema == to_arrow_schema(TRANSACTIONS_STREAM.schema, timezone="UTC")


def test_a_timestamp_past_the_microsecond_range_fails_txn_ts_valid(suite):
    """Where Spark's try_to_timestamp throws (ArithmeticException: long overflow, failing the
    whole batch, every retry), the Arrow path refuses the one event."""
    texts = ["+294247-01-10T04:00:55Z", "-290308-12-21T19:59:05Z", "+999999999-01-01T00:00:00Z"]
    events = [(b"far", changed(txn_id=f"FAR{i}", txn_ts=t)) for i, t in enumerate(texts)]
    bronze = arrow.bronze_batch(kafka_rows(events), query_id="q", batch_id=7)
    flagged = arrow.flag_batch(bronze, suite, run_id="run")
    assert flagged[FAILED_RULES].to_pylist() == [["txn_ts_valid"]] * 3
