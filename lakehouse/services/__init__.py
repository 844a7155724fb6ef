"""The local services: MariaDB (MySQL source), PostgreSQL (Redshift stand-in), a
Kafka-protocol broker and S3 (moto), on loopback with data under LAKEHOUSE_HOME/services.

    statuses = up(cfg)            # idempotent: running services are reused
    down(cfg, ["kafka"])          # stops only what `up` started (pid files)
"""

from __future__ import annotations

from collections.abc import Sequence

from lakehouse.config import Config
from lakehouse.errors import ServiceError
from lakehouse.services._base import Service, ServiceStatus
from lakehouse.services.kafka import Kafka, kafka_bootstrap
from lakehouse.services.mariadb import MariaDB
from lakehouse.services.postgres import Postgres
from lakehouse.services.s3 import S3, s3_client

__all__ = ["SERVICES", "ServiceStatus", "down", "kafka_bootstrap", "s3_client", "status", "up"]

SERVICES: dict[str, type[Service]] = {
    "mariadb": MariaDB,
    "postgres": Postgres,
    "kafka": Kafka,
    "s3": S3,
}


def _selected(cfg: Config, names: Sequence[str] | None) -> list[Service]:
    if cfg.env != "local":
        raise ServiceError(
            f"`services` manages the local stand-ins; env {cfg.env!r} uses its own services "
            "(docker compose up, or the managed ones)"
        )
    unknown = [n for n in names or () if n not in SERVICES]
    if unknown:
        raise ServiceError(f"unknown service(s) {unknown}; choose from {sorted(SERVICES)}")
    return [SERVICES[n](cfg) for n in (names or SERVICES)]


def up(cfg: Config, names: Sequence[str] | None = None) -> list[ServiceStatus]:
    return [service.up() for service in _selected(cfg, names)]


def down(cfg: Config, names: Sequence[str] | None = None) -> list[ServiceStatus]:
    return [service.down() for service in reversed(_selected(cfg, names))]


def status(cfg: Config, names: Sequence[str] | None = None) -> list[ServiceStatus]:
    return [service.status() for service in _selected(cfg, names)]
