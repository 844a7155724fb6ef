"""S3 on loopback: moto's server mode (a real HTTP S3 endpoint, in memory)."""

from __future__ import annotations

import sys
from urllib.parse import urlparse

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from lakehouse.config import Config
from lakehouse.errors import ConfigError
from lakehouse.services import _process
from lakehouse.services._base import Service

# moto accepts any key; these only keep boto3 from searching the machine for credentials.
LOCAL_KEY = "lakehouse-local"


def s3_client(cfg: Config, *, timeout: float = 10):
    """A boto3 S3 client for the configured endpoint (moto locally, AWS in production)."""
    s3 = cfg.s3
    if cfg.env != "local" and s3.access_key_id is None:
        key_id = secret = None  # production: boto3's own chain (instance role, AWS_* variables)
    else:
        key_id = s3.access_key_id.get_secret_value() if s3.access_key_id else LOCAL_KEY
        secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key else LOCAL_KEY
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=BotoConfig(
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2}
        ),
    )


class S3(Service):
    name = "s3"
    port_variable = "LAKEHOUSE__S3__ENDPOINT_URL"
    start_timeout = 60

    @property
    def port(self) -> int:
        url = urlparse(self.cfg.s3.endpoint_url or "")
        if url.hostname not in ("127.0.0.1", "localhost") or url.port is None:
            raise ConfigError(
                f"s3.endpoint_url {self.cfg.s3.endpoint_url!r}: the local S3 server needs a "
                "loopback URL with a port, e.g. http://127.0.0.1:15000"
            )
        return url.port

    def address(self) -> str:
        return str(self.cfg.s3.endpoint_url)

    def healthy(self) -> bool:
        try:
            s3_client(self.cfg, timeout=2).list_buckets()
        except (BotoCoreError, ClientError):
            return False
        return True

    def _start(self) -> int:
        return _process.spawn(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            log_file=self.log_file,
            pid_file=self.pid_file,
        )

    def _after_start(self) -> None:
        client = s3_client(self.cfg)
        existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
        for bucket in self.cfg.s3.buckets:
            if bucket not in existing:
                client.create_bucket(Bucket=bucket)
