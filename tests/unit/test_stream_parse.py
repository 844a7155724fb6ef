"""The streaming ingest's pure transforms: each kind of broken event is refused with its rule,
valid events pass typed, the referential rule is left out, late events are refused, and the
dead letters carry the reasons and the Kafka coordinates."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from lakehouse.quality import FAILED_RULES, load_suite
from streaming import _ingest_parse as parse

pytestmark = pytest.mark.unit

GOOD = {
    "txn_id": "T202405010000001",
    "customer_id": "C00001",
    "account_id": "A0000001",
    "txn_ts": "2024-05-01T10:30:00Z",
    "amount": 12.5,
    "currency": "EUR",
    "merchant_raw": "TESCO STORES 1234",
    "category": "groceries",
    "mode": "card",
    "location": "London",
    "remarks": None,
}


def changed(**fields) -> bytes:
    event = {**GOOD, **fields}
    return json.dumps({k: v for k, v in event.items() if v is not ...}).encode()


CASES = {
    "valid": (changed(), []),
    "truncated": (changed()[:30], ["not_json"]),
    "array": (b"[1, 2]", ["not_json"]),
    "empty": (b"", ["not_json"]),
    "amount_text": (changed(amount="N/A"), ["amount_valid"]),
    "amount_object": (changed(amount={"v": 1}), ["amount_valid"]),
    "no_customer": (changed(customer_id=...), ["customer_id_present"]),
    "no_ts": (changed(txn_ts=...), ["txn_ts_present"]),
    # Blank text is not NULL in JSON: it must fail a rule, or a NULL txn_ts would pass them all.
    "blank_ts": (changed(txn_ts=""), ["txn_ts_valid"]),
    "spaces_ts": (changed(txn_ts="   "), ["txn_ts_valid"]),
    "blank_amount": (changed(amount=""), ["amount_valid"]),
    "currency": (changed(currency="XXX"), ["currency_known"]),
    "lower_currency": (changed(currency=" usd "), []),  # trimmed and upper-cased, as in batch
}


@pytest.fixture(scope="module")
def suite(cfg):
    return parse.stream_suite(load_suite(cfg.conf_dir, "silver.transactions"))


@pytest.fixture(scope="module")
def kafka_rows(spark):
    from streaming.kafka_source import kafka_schema

    stamp = dt.datetime(2024, 5, 1, 11, 0)
    rows = [
        (name.encode(), value, "txns", 0, offset, stamp, 0)
        for offset, (name, (value, _)) in enumerate(CASES.items())
    ]
    return spark.createDataFrame(rows, kafka_schema())


@pytest.fixture(scope="module")
def flagged(kafka_rows, suite):
    events = parse.bronze_events(kafka_rows, query_id="q", batch_id=7)
    return {r["key"]: r for r in parse.flag_events(events, suite, run_id="run").collect()}


def test_the_stream_suite_leaves_out_the_referential_rule(suite):
    assert "customer_known" not in [r.name for r in suite.rules]
    assert "currency_known" in [r.name for r in suite.rules]


@pytest.mark.parametrize("case", list(CASES))
def test_each_event_fails_exactly_its_rules(flagged, case):
    assert flagged[case][FAILED_RULES] == CASES[case][1]


def test_a_valid_event_is_typed_by_the_contract(flagged):
    row = flagged["valid"]
    assert row["txn_ts"] == dt.datetime(2024, 5, 1, 10, 30)
    assert row["amount"] == Decimal("12.50")
    assert (row["topic"], row["partition"], row["offset"]) == ("txns", 0, 0)
    assert flagged["lower_currency"]["currency"] == "USD"


def test_bronze_events_keep_the_raw_value_and_kafka_coordinates(kafka_rows):
    rows = parse.bronze_events(kafka_rows, query_id="q", batch_id=7).collect()
    first = rows[0].asDict()
    assert first["value"] == CASES["valid"][0].decode()
    assert first["received_date"] == dt.date(2024, 5, 1)
    assert (first["_query_id"], first["_batch_id"]) == ("q", 7)
    assert len(rows) == len(CASES)


def test_dead_letters_have_one_row_per_refused_event_with_reasons(kafka_rows, suite):
    events = parse.bronze_events(kafka_rows, query_id="q", batch_id=7)
    dead = parse.dead_letters(
        parse.flag_events(events, suite, run_id="run"),
        suite,
        app="ingest",
        late_before=None,
        query_id="q",
        batch_id=7,
    )
    by_key = {r["key"]: r for r in dead.collect()}
    assert sorted(by_key) == sorted(k for k, (_, rules) in CASES.items() if rules)
    assert by_key["truncated"]["reason"] == "value is not a JSON object"
    assert by_key["truncated"]["raw_value"] == CASES["truncated"][0].decode()
    assert by_key["currency"]["reason"] == "currency not in ['EUR', 'USD', 'GBP']"
    assert by_key["no_ts"]["reason"] == "txn_ts is missing"


def test_a_valid_event_older_than_the_watermark_is_a_late_dead_letter(kafka_rows, suite):
    events = parse.bronze_events(kafka_rows, query_id="q", batch_id=7)
    dead = parse.dead_letters(
        parse.flag_events(events, suite, run_id="run"),
        suite,
        app="ingest",
        late_before=dt.date(2024, 5, 2),
        query_id="q",
        batch_id=7,
    )
    late = {r["key"]: r for r in dead.collect() if r["rules"] == [parse.LATE]}
    assert sorted(late) == ["lower_currency", "valid"]
    assert "dedupe watermark" in late["valid"]["reason"]
