"""The e-commerce arm (MariaDB side): regions, suppliers, products, orders and order lines.

Orders move through placed -> shipped -> delivered (-> returned), or placed -> cancelled;
each step is a new version of the order row stamped ``updated_at``, so an incremental pull by
``updated_at`` sees earlier orders change on later days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate import catalog
from lakehouse.generate._text import (
    SECONDS_PER_DAY,
    Stream,
    cents_to_decimal,
    ids,
    rng_for,
    ts_array,
)
from lakehouse.generate.pools import People, company_names
from lakehouse.generate.spec import GeneratorSpec
from lakehouse.generate.state import State

RETAIL = (  # category, median price EUR, product nouns
    (
        "electronics",
        80.0,
        ("Headphones", "Charger", "Speaker", "Smartwatch", "Keyboard", "Monitor"),
    ),
    ("home", 35.0, ("Lamp", "Cushion", "Pan Set", "Kettle", "Towel Set", "Vase")),
    ("fashion", 40.0, ("T-Shirt", "Jeans", "Sneakers", "Jacket", "Scarf", "Dress")),
    ("beauty", 20.0, ("Face Cream", "Shampoo", "Perfume", "Lipstick", "Serum")),
    ("toys", 25.0, ("Puzzle", "Building Blocks", "Plush Bear", "Board Game", "RC Car")),
    ("grocery", 9.0, ("Coffee Beans", "Olive Oil", "Tea Selection", "Chocolate Box", "Pasta Pack")),
    ("sports", 30.0, ("Yoga Mat", "Dumbbells", "Running Shorts", "Water Bottle", "Tennis Racket")),
    ("books", 15.0, ("Novel", "Cookbook", "Travel Guide", "Children's Book", "Biography")),
)
ADJECTIVES = ("Classic", "Premium", "Eco", "Compact", "Deluxe", "Smart", "Urban", "Nordic")
SEGMENT_RETAIL_WEIGHTS = (  # rows: catalog.SEGMENTS, columns: RETAIL categories
    (8, 14, 12, 8, 20, 18, 8, 12),
    (20, 6, 18, 8, 2, 14, 12, 20),
    (20, 14, 22, 14, 4, 8, 12, 6),
    (6, 14, 8, 8, 6, 34, 8, 16),
    (22, 10, 22, 12, 2, 10, 16, 6),
)
SEGMENT_ORDER_RATE = np.array([0.06, 0.04, 0.05, 0.02, 0.05])  # orders per shopper-day
CHANNELS = np.array(["web", "app", "marketplace"])
ORDER_CURRENCIES = np.array(["EUR", "GBP", "USD"])
HOUR = 3600


@dataclass(frozen=True)
class Retail:
    regions: pa.Table
    suppliers: pa.Table
    products: pa.Table  # every version
    product_category: np.ndarray
    price_cents: np.ndarray
    new_price_cents: np.ndarray
    price_change_sec: np.ndarray
    product_id: pa.Array


def build_retail(
    spec: GeneratorSpec, state: State, customer_id: pa.Array, people: People
) -> Retail:
    rng = rng_for(spec.seed, Stream.RETAIL)
    history_sec = (state.start - 730) * SECONDS_PER_DAY
    regions = pa.table(
        {
            "region_id": ids("R", np.arange(1, len(catalog.REGIONS) + 1), 2),
            "name": [r for r, _, _ in catalog.REGIONS],
            "country": [c for _, c, _ in catalog.REGIONS],
            "updated_at": ts_array(np.full(len(catalog.REGIONS), history_sec)),
        }
    )
    supplier_region = rng.integers(0, len(catalog.REGIONS), size=spec.suppliers)
    suppliers = pa.table(
        {
            "supplier_id": ids("S", np.arange(1, spec.suppliers + 1), 4),
            "name": company_names(spec.seed, spec.suppliers, salt=3),
            "region_id": pc.take(regions["region_id"], pa.array(supplier_region)),
            "updated_at": ts_array(np.full(spec.suppliers, history_sec)),
        }
    )
    count = spec.products
    category = rng.integers(0, len(RETAIL), size=count)
    median = np.array([m for _, m, _ in RETAIL])[category]
    price = np.maximum(99, np.round(median * rng.lognormal(0, 0.5, count) * 100) // 10 * 10 + 9)
    changes = rng.random(count) < min(0.5, 0.1 * spec.days / 30)
    change_sec = (state.start + rng.integers(0, spec.days, count)) * SECONDS_PER_DAY + 9 * HOUR
    change_sec = np.where(changes, change_sec, np.iinfo(np.int64).max)
    new_price = (price * rng.uniform(0.8, 1.2, count)) // 10 * 10 + 9
    names = [
        f"{ADJECTIVES[int(a)]} {RETAIL[c][2][int(k) % len(RETAIL[c][2])]} {i % 97 + 1}"
        for i, (a, c, k) in enumerate(
            zip(rng.integers(0, 8, count), category, rng.integers(0, 6, count), strict=True)
        )
    ]
    product_id = ids("P", np.arange(1, count + 1), 6)
    first_sec = history_sec + rng.integers(0, 700 * SECONDS_PER_DAY, count)
    who = np.concatenate([np.arange(count), np.flatnonzero(changes)])
    product_versions = pa.table(
        {
            "product_id": pc.take(product_id, pa.array(who)),
            "name": pc.take(pa.array(names), pa.array(who)),
            "category": np.array([c for c, _, _ in RETAIL])[category[who]],
            "supplier_id": pc.take(
                suppliers["supplier_id"], pa.array(rng.integers(0, spec.suppliers, count)[who])
            ),
            "unit_price": cents_to_decimal(
                np.concatenate([price, new_price[changes]]).astype(np.int64)
            ),
            "updated_at": ts_array(np.concatenate([first_sec, change_sec[changes]])),
        }
    )
    return Retail(
        regions,
        suppliers,
        product_versions,
        category,
        price.astype(np.int64),
        new_price.astype(np.int64),
        change_sec,
        product_id,
    )
