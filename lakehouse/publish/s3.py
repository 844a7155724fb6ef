"""One run date's rows as Parquet on S3 (moto's server locally, MinIO in docker, AWS in prod).

Layout: ``s3://<s3.scores_bucket>/<s3.scores_prefix>/<table>/score_date=D/part-0.parquet``,
Hive style: the date is in the path, not in the file, so Spark and pyarrow datasets read the
table back with its partition column, and Redshift's COPY reads the file's columns in the
order of its stage table (lakehouse.publish.redshift).

Re-publishing a date overwrites part-0.parquet (an S3 PUT replaces an object at once) and then
removes any other object under the date's prefix: readers never find the date empty, and the
prefix holds exactly one file set afterwards.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.errors import ConfigError, PublishError
from lakehouse.publish._rows import partition_column, rows_for_date

__all__ = ["date_prefix", "s3_filesystem", "write_run_date"]

FILE_NAME = "part-0.parquet"
# Bucket names as S3 allows them; prefixes limited to characters that need no quoting in a
# Redshift COPY literal or a URL.
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"[A-Za-z0-9!_.*()/-]*")


def s3_filesystem(cfg: Config) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for cfg.s3. Keys from the config, else (no endpoint, i.e. AWS)
    the default chain: environment, profile, instance role. A local or docker endpoint without
    keys gets moto's dummy ones; buckets may be created only there."""
    from lakehouse.services.s3 import LOCAL_KEY  # here: importing services loads boto3

    s3 = cfg.s3

    local = s3.endpoint_url is not None
    key_id = s3.access_key_id.get_secret_value() if s3.access_key_id else None
    secret = s3.secret_access_key.get_secret_value() if s3.secret_access_key else None
    if local and key_id is None:
        key_id, secret = LOCAL_KEY, LOCAL_KEY
    endpoint = urlparse(s3.endpoint_url) if local else None
    return pafs.S3FileSystem(
        access_key=key_id,
        secret_key=secret,
        region=s3.region,
        scheme=endpoint.scheme if endpoint else None,
        endpoint_override=endpoint.netloc if endpoint else None,
        allow_bucket_creation=local,
        connect_timeout=10,
        request_timeout=60,
    )


def date_prefix(contract: TableContract, *, cfg: Config, run_date: dt.date) -> str:
    """``bucket/prefix/<table>/score_date=D`` (no scheme, no trailing slash)."""
    bucket, prefix = cfg.s3.scores_bucket, cfg.s3.scores_prefix.strip("/")
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(f"s3.scores_bucket {bucket!r} is not a valid S3 bucket name")
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(f"s3.scores_prefix {prefix!r}: use letters, digits and !_.*()/- only")
    parts = [bucket, prefix, contract.entity, f"{partition_column(contract)}={run_date}"]
    return "/".join(p for p in parts if p)


def write_run_date(
    rows: pa.Table,
    contract: TableContract,
    *,
    cfg: Config,
    run_date: dt.date,
) -> str:
    """Publish ``run_date``'s rows (checked against the contract) and return the date's
    prefix as ``s3://.../score_date=D/``, the URI Redshift's COPY reads."""
    checked = rows_for_date(rows, contract, run_date=run_date)
    fs = s3_filesystem(cfg)
    base = date_prefix(contract, cfg=cfg, run_date=run_date)
    try:
        if cfg.s3.endpoint_url is not None:
            fs.create_dir(base.split("/", 1)[0])  # the bucket, on moto or MinIO only
        before = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        # Timestamps as microseconds, which Redshift's COPY and Spark both read.
        pq.write_table(checked, f"{base}/{FILE_NAME}", filesystem=fs, coerce_timestamps="us")
        stale = [
            info.path
            for info in before
            if info.type == pafs.FileType.File and info.path != f"{base}/{FILE_NAME}"
        ]
        for path in stale:
            fs.delete_file(path)
    except OSError as err:
        raise PublishError(
            f"{contract.name} {run_date}: writing s3://{base}/ failed ({err}); check "
            "s3.endpoint_url, the bucket and the credentials, then publish the date again"
        ) from err
    return f"s3://{base}/"
