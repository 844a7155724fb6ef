"""Generator truth and cross-source consistency: the oracle agrees with the data, and one
customer looks the same in the CSV drops, the MariaDB tables and the Kafka events."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from lakehouse.generate import GeneratedData, generate

from .test_generate import HEADERS, SPEC, parse_landing

pytestmark = pytest.mark.unit

SEGMENTS = {"family", "student", "affluent_traveler", "saver", "young_professional"}
FRAUD_KINDS = {"velocity", "amount", "merchant", "geography"}
NEXT_STATUS = {
    "placed": {"shipped", "cancelled"},
    "shipped": {"delivered"},
    "delivered": {"returned"},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> GeneratedData:
    root = tmp_path_factory.mktemp("generated")
    return generate(SPEC, landing=root / "landing", truth=root / "truth")


@pytest.fixture(scope="module")
def rows(run: GeneratedData) -> dict[str, list[dict]]:
    return parse_landing(run.landing)["rows"]


def truth(run: GeneratedData, name: str) -> list[dict]:
    return pq.read_table(run.truth / f"{name}.parquet").to_pylist()


def as_text(value: object) -> str:
    """A typed MariaDB value as a CSV drop prints it (written here, not by the generator)."""
    if value is None:
        return ""
    if hasattr(value, "tzinfo"):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def test_every_fraud_txn_id_is_a_transaction_of_that_customer(run, rows) -> None:
    fraud = truth(run, "fraud")
    owner = {r["txn_id"]: r["customer_id"] for r in rows["transactions"]}
    found = [f for f in fraud if f["txn_id"] in owner]

    assert len(fraud) >= 10
    assert {f["fraud_kind"] for f in fraud} == FRAUD_KINDS
    # A few fraud rows may be among the defective (unparseable) lines; the rest must match.
    assert len(found) >= 0.9 * len(fraud)
    assert all(owner[f["txn_id"]] == f["customer_id"] for f in found)


def test_fraud_rows_look_anomalous(run, rows) -> None:
    kind = {f["txn_id"]: f["fraud_kind"] for f in truth(run, "fraud")}
    abroad = [r for r in rows["transactions"] if kind.get(r["txn_id"]) == "geography"]
    big = [
        abs(Decimal(r["amount"])) for r in rows["transactions"] if kind.get(r["txn_id"]) == "amount"
    ]

    assert abroad
    assert all(r["currency"] in {"USD", "GBP"} for r in abroad)
    assert big
    assert min(big) >= Decimal("2000.00")


def test_churned_customers_have_no_transactions_after_churn_date(run, rows) -> None:
    churn = {c["customer_id"]: c["churn_date"] for c in truth(run, "churn") if c["churn_date"]}
    last_seen: dict[str, date] = {}
    for r in rows["transactions"]:
        day = date.fromisoformat(r["txn_ts"][:10])
        last_seen[r["customer_id"]] = max(day, last_seen.get(r["customer_id"], day))

    assert 10 <= len(churn) <= 200
    assert all(last_seen.get(c, d) < d for c, d in churn.items())


def test_churners_activity_fades_before_they_leave(run, rows) -> None:
    churn = {c["customer_id"]: c["churn_date"] for c in truth(run, "churn") if c["churn_date"]}
    late = {c: d for c, d in churn.items() if d >= SPEC.start_date + timedelta(days=20)}
    per_day: Counter[tuple[str, date]] = Counter(
        (r["customer_id"], date.fromisoformat(r["txn_ts"][:10])) for r in rows["transactions"]
    )
    before = sum(per_day[(c, d - timedelta(days=k))] for c, d in late.items() for k in range(1, 6))
    earlier = sum(
        per_day[(c, d - timedelta(days=k))] for c, d in late.items() for k in range(15, 20)
    )

    assert late
    assert before < 0.8 * earlier


def test_raw_merchant_strings_map_to_their_canonical_merchant(run, rows) -> None:
    canonical = {m["merchant_raw"]: m["canonical_merchant"] for m in truth(run, "merchants")}
    seen = {r["merchant_raw"] for r in rows["transactions"]}
    variants: defaultdict[str, set[str]] = defaultdict(set)
    for raw in seen:
        variants[canonical[raw]].add(raw)

    assert seen <= set(canonical)
    assert canonical["Amazon.com"] == "Amazon"
    assert canonical["AMAZON PRIME"] == "Amazon"
    assert canonical["NETFLIX.COM"] == "Netflix"
    assert any(raw.startswith("AMZN Mktp US*") for raw in variants["Amazon"])
    assert len(variants["Amazon"]) >= 4


def test_every_customer_has_one_of_the_five_segments(run) -> None:
    segments = truth(run, "segments")

    assert {s["segment"] for s in segments} == SEGMENTS
    assert len({s["customer_id"] for s in segments}) == SPEC.customers


def test_accepted_offers_open_an_account_of_that_product(run) -> None:
    offers = [o for o in truth(run, "offers") if o["accepted"]]
    opened = {
        (a["customer_id"], a["product_code"], a["opened_date"]) for a in run.accounts.to_pylist()
    }

    assert offers
    assert all((o["customer_id"], o["product_code"], o["accepted_date"]) in opened for o in offers)


def test_csv_customer_versions_match_the_mariadb_customers_table(run, rows) -> None:
    columns = HEADERS["customers"].split(",")
    mariadb = {
        (r["customer_id"], as_text(r["updated_at"])): [as_text(r[c]) for c in columns]
        for r in run.customers.to_pylist()
    }
    csv_rows = rows["customers"]

    assert len(csv_rows) > SPEC.customers
    assert all(mariadb[(r["customer_id"], r["updated_at"])] == list(r.values()) for r in csv_rows)


def test_customers_change_over_time(rows) -> None:
    cities: defaultdict[str, set[str]] = defaultdict(set)
    bands: defaultdict[str, set[str]] = defaultdict(set)
    for r in rows["customers"]:
        cities[r["customer_id"]].add(r["city"])
        bands[r["customer_id"]].add(r["income_band"])

    assert sum(len(c) > 1 for c in cities.values()) >= 5
    assert sum(len(b) > 1 for b in bands.values()) >= 5


def test_transactions_use_accounts_of_the_same_customer(run, rows) -> None:
    owner = {a["account_id"]: a["customer_id"] for a in rows["accounts"]}

    assert all(
        owner[t["account_id"]] == t["customer_id"]
        for t in rows["transactions"]
        if t["account_id"] in owner
    )
    assert sum(t["account_id"] in owner for t in rows["transactions"]) > 0.95 * len(
        rows["transactions"]
    )


def test_recurring_salary_rent_emi_and_subscriptions_are_present(rows) -> None:
    categories = Counter(r["category"] for r in rows["transactions"])
    salaries = [Decimal(r["amount"]) for r in rows["transactions"] if r["category"] == "salary"]

    assert {
        "salary",
        "rent",
        "loan_emi",
        "subscription",
        "groceries",
        "travel",
        "luxury",
        "health",
    } <= set(categories)
    assert salaries
    assert min(salaries) > 0
    assert categories["groceries"] > categories["luxury"]


def test_later_order_versions_have_later_updated_at(run) -> None:
    versions: defaultdict[str, list[dict]] = defaultdict(list)
    for r in run.orders.to_pylist():
        versions[r["order_id"]].append(r)

    changed = [v for v in versions.values() if len(v) > 1]
    assert len(changed) > 0.5 * len(versions)
    for history in versions.values():
        history.sort(key=lambda r: r["updated_at"])
        assert history[0]["status"] == "placed"
        assert history[0]["updated_at"] == history[0]["order_ts"]
        for before, after in itertools.pairwise(history):
            assert after["updated_at"] > before["updated_at"]
            assert after["status"] in NEXT_STATUS[before["status"]]


def test_order_items_reference_known_orders_and_products(run) -> None:
    orders = {r["order_id"] for r in run.orders.to_pylist()}
    products = {r["product_id"] for r in run.products.to_pylist()}
    items = run.order_items.to_pylist()

    assert {i["order_id"] for i in items} == orders
    assert {i["product_id"] for i in items} <= products


def test_kafka_events_match_the_csv_transactions(run, rows) -> None:
    from lakehouse.generate.kafka_sink import transaction_events

    by_id = {r["txn_id"]: r for r in rows["transactions"]}
    events = list(transaction_events(run, seed=11))
    clean = [(k, json.loads(v)) for k, v, kind in events if kind is None]
    broken = Counter(kind for _, _, kind in events if kind)

    # A malformed event replaces its transaction; a duplicate comes on top of the original.
    assert (
        len(clean) + broken["malformed_json"] + broken["non_numeric_amount"]
        == run.transactions.num_rows
    )
    assert all(list(e) == HEADERS["transactions"].split(",") for _, e in clean[:100])
    for key, event in clean:
        row = by_id.get(event["txn_id"])
        assert key.decode() == event["customer_id"]
        if row:
            assert (row["customer_id"], row["account_id"], row["txn_ts"], row["amount"]) == (
                event["customer_id"], event["account_id"], event["txn_ts"], f"{event['amount']:.2f}"
            )  # fmt: skip
    assert set(broken) == {"malformed_json", "non_numeric_amount", "duplicate"}
    assert abs(sum(broken.values()) / run.transactions.num_rows - SPEC.defect_rate) < 0.003
