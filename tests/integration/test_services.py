"""The local services answer real clients; `up` is idempotent; `down` leaves nothing behind;
start-up problems say what to do."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pymysql
import pytest
from confluent_kafka import Consumer, TopicPartition

from lakehouse import load_config, services
from lakehouse.errors import ServiceError
from lakehouse.io.mysql import read_mysql
from lakehouse.services import _process
from lakehouse.services.mariadb import MariaDB

pytestmark = pytest.mark.integration


def test_spark_jdbc_reads_mariadb(spark, cfg, local_services):
    mysql = cfg.mysql
    conn = pymysql.connect(
        host=mysql.host, port=mysql.port, user=mysql.user, database=mysql.database
    )
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS jdbc_probe")
        cur.execute("CREATE TABLE jdbc_probe (id INT PRIMARY KEY, name VARCHAR(20))")
        cur.executemany("INSERT INTO jdbc_probe VALUES (%s, %s)", [(1, "ada"), (2, "bob")])
    conn.commit()
    conn.close()
    frame = read_mysql(spark, cfg, "jdbc_probe")
    assert sorted(tuple(r) for r in frame.collect()) == [(1, "ada"), (2, "bob")]


def test_psycopg_writes_and_reads_postgres(cfg, local_services):
    rs = cfg.redshift
    with psycopg.connect(host=rs.host, port=rs.port, user=rs.user, dbname=rs.database) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS probe (id int primary key, score numeric(5,2))")
        conn.execute("TRUNCATE probe")
        conn.execute("INSERT INTO probe VALUES (1, 0.25), (2, 0.75)")
        rows = conn.execute("SELECT id, score::float FROM probe ORDER BY id").fetchall()
    assert rows == [(1, 0.25), (2, 0.75)]


PRODUCER = """
import sys
from confluent_kafka import Producer
producer = Producer({"bootstrap.servers": sys.argv[1], "compression.type": "zstd", "linger.ms": 20})
for i in range(int(sys.argv[3])):
    producer.produce(sys.argv[2], key=str(i % 7).encode(), value=f"message-{i}".encode())
assert producer.flush(30) == 0
"""


def test_kafka_messages_produced_in_one_process_are_consumed_in_another(cfg, local_services):
    bootstrap = services.kafka_bootstrap(cfg)
    topic, count = "transactions", 5_000
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4()}"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    starts = {
        p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
        for p in partitions
    }
    subprocess.run(
        [sys.executable, "-c", PRODUCER, bootstrap, topic, str(count)], check=True, timeout=120
    )
    consumer.assign([TopicPartition(topic, p, starts[p]) for p in partitions])
    seen: list[str] = []
    while len(seen) < count:
        batch = consumer.consume(num_messages=1000, timeout=10)
        assert batch, f"only {len(seen)} of {count} messages arrived"
        seen += [m.value().decode() for m in batch if m.error() is None]
    consumer.close()
    assert sorted(seen) == sorted(f"message-{i}" for i in range(count))
    assert len(partitions) == cfg.kafka.topics[topic]


def test_boto3_puts_and_gets_objects_on_the_s3_server(cfg, local_services):
    client = services.s3_client(cfg)
    bucket = cfg.s3.buckets[0]
    client.put_object(Bucket=bucket, Key="probe/hello.json", Body=b'{"ok": true}')
    body = client.get_object(Bucket=bucket, Key="probe/hello.json")["Body"].read()
    assert json.loads(body) == {"ok": True}
    assert {b["Name"] for b in client.list_buckets()["Buckets"]} >= set(cfg.s3.buckets)


def test_up_reuses_running_services(cfg, local_services):
    again = {s.name: s for s in services.up(cfg)}
    assert {n: s.pid for n, s in again.items()} == {n: s.pid for n, s in local_services.items()}
    assert all(s.detail == "already running" for s in again.values())


@pytest.fixture
def own_cfg(test_environ):
    """A second, independent set of services on other ports, removed afterwards."""
    home = Path(tempfile.mkdtemp(prefix="lakehouse-own-services-"))
    home.chmod(0o755)  # PostgreSQL's account must be able to enter it (see conftest)
    env = {
        **test_environ,
        "LAKEHOUSE_HOME": str(home),
        "LAKEHOUSE__PATHS__SERVICES": str(home / "services"),
        "LAKEHOUSE__MYSQL__PORT": str(_process.free_port()),
        "LAKEHOUSE__REDSHIFT__PORT": str(_process.free_port()),
        "LAKEHOUSE__S3__ENDPOINT_URL": f"http://127.0.0.1:{_process.free_port()}",
    }
    own = load_config("local", environ=env)
    yield own
    services.down(own)
    shutil.rmtree(home, ignore_errors=True)


def test_down_leaves_no_process_behind(own_cfg):
    started = services.up(own_cfg)
    pids = [s.pid for s in started]
    ports = [
        own_cfg.mysql.port,
        own_cfg.redshift.port,
        int(own_cfg.s3.endpoint_url.rsplit(":", 1)[1]),
    ]
    stopped = services.down(own_cfg)
    assert all(s.state == "stopped" for s in stopped)
    assert not [pid for pid in pids if _process.pid_alive(pid)]
    assert not [port for port in ports if _process.port_open(port)]
    assert all(s.state == "stopped" for s in services.status(own_cfg))


def test_taken_port_names_the_port_and_the_setting(own_cfg):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", own_cfg.mysql.port))
        squatter.listen()
        with pytest.raises(
            ServiceError, match=f"port {own_cfg.mysql.port} .* LAKEHOUSE__MYSQL__PORT"
        ):
            services.up(own_cfg, ["mariadb"])


def test_stale_pid_file_is_replaced(own_cfg):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pid_file = MariaDB(own_cfg).pid_file
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{dead.pid}\n")
    (status,) = services.up(own_cfg, ["mariadb"])
    assert status.state == "running"
    assert "stale pid file" in status.detail


def test_missing_binary_says_how_to_install(own_cfg, monkeypatch):
    monkeypatch.setattr(MariaDB, "binaries", ("/usr/sbin/no-such-mariadbd",))
    with pytest.raises(ServiceError, match="not installed; run `make setup`"):
        services.up(own_cfg, ["mariadb"])


def test_services_refuse_non_local_env(test_environ):
    docker = load_config("docker", environ=test_environ)
    with pytest.raises(ServiceError, match="docker compose"):
        services.up(docker)
