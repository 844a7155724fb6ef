"""The generator's outputs reach the real systems: MariaDB day by day (incremental updates),
Kafka across processes, and one customer is the same customer in CSV, MariaDB and Kafka."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
import uuid
from collections import Counter

import pymysql
import pytest
from confluent_kafka import Consumer, TopicPartition

from lakehouse import services
from lakehouse.generate import GeneratorSpec, generate
from lakehouse.generate.kafka_sink import transaction_events
from lakehouse.generate.mysql_sink import load_mysql, state_as_of
from lakehouse.io.mysql import read_mysql

pytestmark = pytest.mark.integration

SPEC = GeneratorSpec(customers=200, days=14, seed=11, start_date=dt.date(2024, 3, 1))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    return generate(SPEC, landing=root / "landing", truth=root / "truth")


def mysql_query(cfg, sql: str) -> list[tuple]:
    m = cfg.mysql
    conn = pymysql.connect(host=m.host, port=m.port, user=m.user, password="", database=m.database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def load(cfg, data, up_to):
    m = cfg.mysql
    return load_mysql(
        data, host=m.host, port=m.port, user=m.user, password="", database=m.database, up_to=up_to
    )


def test_mariadb_loads_day_by_day_and_later_days_update_rows(
    cfg, local_services, generated, spark, empty_shop_db
):
    day5 = SPEC.start_date + dt.timedelta(days=4)
    load(cfg, generated, day5)
    want5 = state_as_of(generated.orders, ("order_id",), day5)
    assert mysql_query(cfg, "SELECT COUNT(*) FROM orders")[0][0] == want5.num_rows
    load(cfg, generated, None)
    final = state_as_of(generated.orders, ("order_id",), None)
    statuses = dict(mysql_query(cfg, "SELECT order_id, status FROM orders"))
    assert statuses == dict(
        zip(final["order_id"].to_pylist(), final["status"].to_pylist(), strict=True)
    )
    later = mysql_query(
        cfg, f"SELECT COUNT(*) FROM orders WHERE updated_at >= '{day5 + dt.timedelta(days=1)}'"
    )
    assert later[0][0] > 0  # rows changed after day 5: what an incremental pull picks up
    via_jdbc = read_mysql(spark, cfg, "customers")
    assert via_jdbc.count() == SPEC.customers


def test_stream_from_another_process_is_consumed_in_order_per_customer(
    cfg, local_services, test_environ
):
    topic = "transactions"
    bootstrap = services.kafka_bootstrap(cfg)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"t-{uuid.uuid4()}"})
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    starts = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts
    }
    args = [
        "--customers",
        str(SPEC.customers),
        "--days",
        str(SPEC.days),
        "--seed",
        str(SPEC.seed),
        "--start-date",
        SPEC.start_date.isoformat(),
    ]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lakehouse.cli",
            "generate",
            "stream",
            *args,
            "--rate",
            "20000",
            "--seconds",
            "1",
        ],
        env=test_environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    produced = int(done.stdout.split("produced ")[1].split()[0].replace(",", ""))
    consumer.assign([TopicPartition(topic, p, starts[p]) for p in parts])
    got = []
    while len(got) < produced:
        batch = consumer.consume(num_messages=5000, timeout=10)
        assert batch, f"{len(got)} of {produced} events arrived"
        got += [(m.key(), m.value()) for m in batch]
    consumer.close()
    expected = [(k, v) for k, v, _ in transaction_events(SPEC, seed=SPEC.seed)][:produced]
    assert Counter(got) == Counter(expected)


def test_a_customer_is_the_same_customer_in_csv_mariadb_and_kafka(
    cfg, local_services, generated, empty_shop_db
):
    load(cfg, generated, None)
    accounts = {}
    for customer, account in mysql_query(cfg, "SELECT customer_id, account_id FROM accounts"):
        accounts.setdefault(str(customer), set()).add(str(account))
    checked = 0
    for path in sorted((generated.landing / "transactions").rglob("*.csv"))[:3]:
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                if row.get("customer_id") in accounts and row.get("account_id"):
                    assert row["account_id"] in accounts[row["customer_id"]]
                    checked += 1
    events = [
        json.loads(v) for _, v, kind in transaction_events(SPEC, seed=SPEC.seed) if kind is None
    ]
    for event in events[:2000]:
        assert event["account_id"] in accounts[str(event["customer_id"])]
    assert checked > 1000
