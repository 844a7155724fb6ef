"""The oracle: what the generator hid in the data, as Parquet under the truth directory.

The pipeline never reads these files; tests and benchmarks compare its results with them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakehouse.generate import catalog
from lakehouse.generate.accounts import PRODUCT_CODES
from lakehouse.generate.state import NEVER
from lakehouse.generate.world import World

TRUTH_FILES = ("churn", "fraud", "segments", "merchants", "offers", "defects")


def _dates(days: np.ndarray) -> pa.Array:
    """Day numbers as date32, NEVER as null."""
    return pa.array(
        np.where(days == NEVER, 0, days).astype(np.int32), pa.date32(), mask=days == NEVER
    )


def truth_tables(world: World, *, fraud: pa.Table, defects: pa.Table) -> dict[str, pa.Table]:
    state, customer_id = world.state, world.customers.customer_id
    churned = state.churn_day != NEVER
    decay_start = np.where(churned, state.churn_day - state.decay_days, NEVER)
    changed = np.flatnonzero(state.segment_change_day != NEVER)
    segment_names = np.array(catalog.SEGMENTS)
    valid_to = np.where(state.segment_change_day == NEVER, NEVER, state.segment_change_day)
    segments = pa.table(
        {
            "customer_id": pa.concat_arrays([customer_id, pc.take(customer_id, pa.array(changed))]),
            "segment": np.concatenate(
                [segment_names[state.segment], segment_names[state.segment_new[changed]]]
            ),
            "valid_from": _dates(
                np.concatenate([state.signup_day, state.segment_change_day[changed]])
            ),
            "valid_to": _dates(np.concatenate([valid_to, np.full(changed.size, NEVER)])),
        }
    ).sort_by([("customer_id", "ascending"), ("valid_from", "ascending")])
    offered = np.flatnonzero(state.offer_product >= 0)
    merchants = world.merchants
    return {
        "churn": pa.table(
            {
                "customer_id": customer_id,
                "churn_date": _dates(state.churn_day),
                "decay_start_date": _dates(decay_start),
            }
        ),
        "fraud": fraud,
        "segments": segments,
        "merchants": pa.table(
            {
                "merchant_raw": merchants.raw,
                "canonical_merchant": merchants.name[merchants.raw_merchant],
                "category": merchants.category[merchants.raw_merchant],
            }
        ),
        "offers": pa.table(
            {
                "customer_id": pc.take(customer_id, pa.array(offered)),
                "product_code": PRODUCT_CODES[state.offer_product[offered]],
                "offered_date": _dates(state.offer_day[offered]),
                "accepted": state.offer_accept_day[offered] != NEVER,
                "accepted_date": _dates(state.offer_accept_day[offered]),
            }
        ),
        "defects": defects,
    }


def write_truth(tables: dict[str, pa.Table], truth: Path) -> list[Path]:
    truth.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TRUTH_FILES:
        path = truth / f"{name}.parquet"
        pq.write_table(tables[name], path, compression="zstd")
        paths.append(path)
    return paths
