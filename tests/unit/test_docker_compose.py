"""docker-compose.yml offers every service conf/docker.yaml points at, on the same ports, and
takes its secrets from the environment."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from lakehouse import load_config

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def published(service: dict) -> set[int]:
    return {int(str(p).split(":")[-1]) for p in service.get("ports", [])}


def test_every_service_the_docker_config_names_exists_with_its_port(compose, tmp_path):
    cfg = load_config("docker", environ={"LAKEHOUSE_HOME": str(tmp_path)})
    kafka_host, kafka_port = cfg.kafka.bootstrap_servers.split(":")
    s3 = urlparse(cfg.s3.endpoint_url)
    master = urlparse(cfg.spark.master)
    wanted = {
        cfg.mysql.host: cfg.mysql.port,
        cfg.redshift.host: cfg.redshift.port,
        kafka_host: int(kafka_port),
        s3.hostname: s3.port,
        master.hostname: master.port,
    }
    services = compose["services"]
    for host, port in wanted.items():
        assert host in services, f"conf/docker.yaml names {host}, docker-compose.yml lacks it"
        assert port in published(services[host]), f"{host} does not publish port {port}"


def test_compose_takes_passwords_from_the_environment(compose):
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in ("LAKEHOUSE__MYSQL__PASSWORD", "LAKEHOUSE__REDSHIFT__PASSWORD"):
        assert "${" + variable in text
    env = compose["services"]["postgres"]["environment"]
    assert env["POSTGRES_PASSWORD"].startswith("${")
