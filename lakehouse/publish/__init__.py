"""Publishing model outputs for analysts: one run date's rows as Parquet on S3 and in Redshift,
plus the views Tableau reads. Every step replaces exactly the run date, so re-publishing a date
leaves the same files and rows.

    result = publish_run_date(rows, CHURN_SCORES, cfg=cfg, run_date=day)

``rows`` is a pyarrow Table of the contract's columns for that date (e.g. the Delta scores
table's partition read with delta-rs, or a Spark frame's ``toArrow()``): scores are one row per
customer, small enough for the driver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from lakehouse.config import Config
from lakehouse.contracts import TableContract
from lakehouse.errors import ConfigError
from lakehouse.publish.redshift import LoadResult, load_run_date
from lakehouse.publish.s3 import write_run_date

__all__ = ["LoadResult", "PublishResult", "load_run_date", "publish_run_date", "write_run_date"]

Target = Literal["s3", "redshift"]


@dataclass(frozen=True)
class PublishResult:
    table: str
    run_date: dt.date
    rows: int
    s3_uri: str | None
    redshift: LoadResult | None

    def summary(self) -> str:
        parts = [f"{self.table} {self.run_date}: {self.rows:,} rows"]
        if self.s3_uri:
            parts.append(f"-> {self.s3_uri}")
        if self.redshift:
            r = self.redshift
            parts.append(f"-> {r.table} ({r.rows_deleted:,} replaced, via {r.method})")
        return " ".join(parts)


def publish_run_date(
    rows: pa.Table,
    contract: TableContract,
    *,
    cfg: Config,
    run_date: dt.date,
    targets: Collection[Target] = ("s3", "redshift"),
) -> PublishResult:
    """Write ``run_date``'s rows to S3, then load them into Redshift (from that S3 prefix
    when redshift.load_method is s3)."""
    if "redshift" in targets and "s3" not in targets and cfg.redshift.load_method == "s3":
        raise ConfigError(
            "redshift.load_method is s3: Redshift loads the S3 files, so publish to s3 too"
        )
    uri = write_run_date(rows, contract, cfg=cfg, run_date=run_date) if "s3" in targets else None
    loaded = None
    if "redshift" in targets:
        loaded = load_run_date(rows, contract, cfg=cfg, run_date=run_date, s3_uri=uri)
    return PublishResult(contract.name, run_date, rows.num_rows, uri, loaded)
