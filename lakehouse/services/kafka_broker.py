"""A Kafka-protocol broker for local runs and tests: librdkafka's mock cluster, owned by this
process, reached over TCP by any Kafka client.

    python -m lakehouse.services.kafka_broker --state DIR --topic transactions=4 ...

No Apache Kafka is installable where this project is built; the mock cluster inside
librdkafka (the library confluent-kafka wraps) speaks the real protocol. It is created through
librdkafka's C API (ctypes) so that topics get explicit partition counts. It writes its bootstrap
address to DIR/bootstrap and serves until SIGTERM.

For failure drills, SIGUSR1 takes every broker of the cluster down (connections are closed and
refused, the data is kept) and SIGUSR2 brings them back on the same address.
"""

from __future__ import annotations

import argparse
import ctypes
import signal
import threading
from pathlib import Path

import confluent_kafka

RD_KAFKA_PRODUCER = 0


def _librdkafka() -> ctypes.CDLL:
    libs = Path(confluent_kafka.__file__).resolve().parent.parent / "confluent_kafka.libs"
    candidates = sorted(libs.glob("librdkafka*.so*"))
    if not candidates:
        raise SystemExit(f"librdkafka not found next to confluent_kafka ({libs})")
    lib = ctypes.CDLL(str(candidates[0]))
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
    lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
    lib.rd_kafka_mock_topic_create.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.rd_kafka_mock_broker_set_down.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.rd_kafka_mock_broker_set_up.argtypes = [ctypes.c_void_p, ctypes.c_int32]
    lib.rd_kafka_mock_cluster_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    return lib


def serve(state: Path, topics: dict[str, int], *, brokers: int = 1) -> None:
    lib = _librdkafka()
    errstr = ctypes.create_string_buffer(512)
    conf = lib.rd_kafka_conf_new()
    handle = lib.rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, len(errstr))
    if not handle:
        raise SystemExit(f"rd_kafka_new failed: {errstr.value.decode()}")
    cluster = lib.rd_kafka_mock_cluster_new(handle, brokers)
    if not cluster:
        raise SystemExit("rd_kafka_mock_cluster_new failed")
    for topic, partitions in topics.items():
        err = lib.rd_kafka_mock_topic_create(cluster, topic.encode(), partitions, 1)
        if err:
            raise SystemExit(f"creating topic {topic} failed with librdkafka error {err}")
    bootstrap = lib.rd_kafka_mock_cluster_bootstraps(cluster).decode()
    state.mkdir(parents=True, exist_ok=True)
    tmp = state / "bootstrap.tmp"
    tmp.write_text(bootstrap + "\n")
    tmp.replace(state / "bootstrap")  # readers never see a half-written address
    print(f"serving Kafka protocol at {bootstrap}; topics {topics}", flush=True)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for signum, switch, state_name in (
        (signal.SIGUSR1, lib.rd_kafka_mock_broker_set_down, "down"),
        (signal.SIGUSR2, lib.rd_kafka_mock_broker_set_up, "up"),
    ):
        signal.signal(signum, _switch(cluster, brokers, switch, state_name))
    stop.wait()
    (state / "bootstrap").unlink(missing_ok=True)
    lib.rd_kafka_mock_cluster_destroy(cluster)
    lib.rd_kafka_destroy(handle)


def _switch(cluster, brokers: int, switch, state_name: str):
    def handler(*_) -> None:
        for broker_id in range(1, brokers + 1):  # the mock cluster numbers brokers from 1
            switch(cluster, broker_id)
        print(f"brokers {state_name}", flush=True)

    return handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--state", type=Path, required=True, help="directory for the bootstrap file"
    )
    parser.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="NAME=PARTITIONS",
        help="topic to create (repeatable)",
    )
    parser.add_argument("--brokers", type=int, default=1, help="brokers in the cluster (default 1)")
    args = parser.parse_args(argv)
    topics = {}
    for spec in args.topic:
        name, _, count = spec.partition("=")
        topics[name] = int(count or 1)
    serve(args.state, topics, brokers=args.brokers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
