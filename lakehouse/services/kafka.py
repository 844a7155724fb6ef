"""The local Kafka-protocol broker (see kafka_broker.py), and where clients find it."""

from __future__ import annotations

import sys

from confluent_kafka.admin import AdminClient

from lakehouse.config import Config
from lakehouse.errors import SourceUnavailableError
from lakehouse.services import _process
from lakehouse.services._base import Service


def kafka_bootstrap(cfg: Config) -> str:
    """The bootstrap servers: from config, or the address the local broker wrote."""
    if cfg.kafka.bootstrap_servers:
        return cfg.kafka.bootstrap_servers
    path = cfg.path("services") / "kafka" / "bootstrap"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise SourceUnavailableError(
            f"no Kafka broker: {path} does not exist; run `lakehouse services up kafka` or set "
            "LAKEHOUSE__KAFKA__BOOTSTRAP_SERVERS"
        ) from None


class Kafka(Service):
    name = "kafka"
    start_timeout = 30

    @property
    def port(self) -> None:
        return None  # the mock cluster picks a free port and writes it to the bootstrap file

    def address(self) -> str:
        try:
            return kafka_bootstrap(self.cfg)
        except SourceUnavailableError:
            return "(not running)"

    def healthy(self) -> bool:
        try:
            admin = AdminClient({"bootstrap.servers": kafka_bootstrap(self.cfg)})
            metadata = admin.list_topics(timeout=3)
        except Exception:  # librdkafka raises KafkaException; a missing file ours
            return False
        return all(topic in metadata.topics for topic in self.cfg.kafka.topics)

    def _start(self) -> int:
        (self.dir / "bootstrap").unlink(missing_ok=True)
        topics = [f"--topic={name}={count}" for name, count in self.cfg.kafka.topics.items()]
        return _process.spawn(
            [
                sys.executable,
                "-m",
                "lakehouse.services.kafka_broker",
                f"--state={self.dir}",
                *topics,
            ],
            log_file=self.log_file,
            pid_file=self.pid_file,
        )
