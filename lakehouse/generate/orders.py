"""Orders and order lines of the e-commerce arm, with their status history."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate._text import (
    SECONDS_PER_DAY,
    Stream,
    cents_to_decimal,
    ids,
    rng_for,
    ts_array,
)
from lakehouse.generate.retail import (
    CHANNELS,
    HOUR,
    ORDER_CURRENCIES,
    RETAIL,
    SEGMENT_ORDER_RATE,
    SEGMENT_RETAIL_WEIGHTS,
)
from lakehouse.generate.transactions import HOURS
from lakehouse.generate.world import World


@dataclass(frozen=True)
class Orders:
    orders: pa.Table  # every status version
    order_items: pa.Table
    defects: pa.Table  # injected out-of-range quantities (manifest rows)


def build_orders(world: World) -> Orders:
    rng = rng_for(world.spec.seed, Stream.ORDERS)
    state = world.state
    shopper_rate = np.where(rng.random(state.n) < 0.5, SEGMENT_ORDER_RATE[state.segment], 0.0)
    shopper_rate *= rng.gamma(2.0, 0.5, size=state.n)
    cust_parts, day_parts = [], []
    for day in range(state.start, state.end + 1):
        counts = rng.poisson(shopper_rate * state.activity(day))
        cust_parts.append(np.repeat(np.arange(state.n), counts))
        day_parts.append(np.full(int(counts.sum()), day))
    cust, day = np.concatenate(cust_parts), np.concatenate(day_parts)
    hour = np.minimum(np.searchsorted(HOURS["evening"], rng.random(cust.size)), 23)
    placed = day * SECONDS_PER_DAY + hour * HOUR + rng.integers(0, HOUR, cust.size)
    order = np.lexsort((cust, placed))
    cust, placed = cust[order], placed[order]
    order_id = ids("O", np.arange(1, cust.size + 1), 9)
    items, total = _lines(rng, world, cust, placed, order_id)
    versions = _status_versions(rng, cust.size, placed, (state.end + 1) * SECONDS_PER_DAY - 1)
    who, status, updated = versions
    channel = CHANNELS[np.searchsorted([0.45, 0.9], rng.random(cust.size))]
    currency = ORDER_CURRENCIES[np.searchsorted([0.97, 0.99], rng.random(cust.size))]
    orders = pa.table(
        {
            "order_id": pc.take(order_id, pa.array(who)),
            "customer_id": pc.take(world.customers.customer_id, pa.array(cust[who])),
            "order_ts": ts_array(placed[who]),
            "status": status,
            "channel": channel[who],
            "currency": currency[who],
            "total_amount": cents_to_decimal(total[who]),
            "updated_at": ts_array(updated),
        }
    )
    items, defects = _negative_quantities(rng, items, world.spec.defect_rate)
    return Orders(orders, items, defects)


def _lines(rng, world: World, cust, placed, order_id) -> tuple[pa.Table, np.ndarray]:
    retail, state = world.retail, world.state
    lines = np.minimum(1 + rng.poisson(0.8, cust.size), 8)
    order_index = np.repeat(np.arange(cust.size), lines)
    line_no = np.arange(order_index.size) - np.repeat(np.cumsum(lines) - lines, lines) + 1
    segment = state.segment[cust[order_index]]
    product = np.zeros(order_index.size, dtype=np.int64)
    per_category = np.bincount(retail.product_category, minlength=len(RETAIL))
    for seg, weights in enumerate(SEGMENT_RETAIL_WEIGHTS):
        # Weight of a product = its category's weight for the segment, shared within category.
        w = (
            np.array(weights, dtype=float)[retail.product_category]
            / np.maximum(per_category, 1)[retail.product_category]
        )
        rows = np.flatnonzero(segment == seg)
        product[rows] = np.minimum(
            np.searchsorted(np.cumsum(w) / w.sum(), rng.random(rows.size)), w.size - 1
        )
    quantity = 1 + rng.poisson(0.3, order_index.size)
    changed = placed[order_index] >= retail.price_change_sec[product]
    price = np.where(changed, retail.new_price_cents[product], retail.price_cents[product])
    total = np.bincount(order_index, weights=quantity * price, minlength=cust.size).astype(np.int64)
    items = pa.table(
        {
            "order_id": pc.take(order_id, pa.array(order_index)),
            "line_no": pa.array(line_no, pa.int32()),
            "product_id": pc.take(retail.product_id, pa.array(product)),
            "quantity": pa.array(quantity, pa.int32()),
            "unit_price": cents_to_decimal(price),
            "updated_at": ts_array(placed[order_index]),
        }
    )
    return items, total


def _status_versions(rng, count, placed, window_end):
    """(order index, status, updated_at) of each status change that happens inside the window."""
    cancelled = rng.random(count) < 0.06
    returned = ~cancelled & (rng.random(count) < 0.07)
    cancel_at = placed + rng.integers(HOUR, 20 * HOUR, count)
    shipped_at = placed + rng.integers(SECONDS_PER_DAY, 3 * SECONDS_PER_DAY, count)
    delivered_at = shipped_at + rng.integers(SECONDS_PER_DAY, 4 * SECONDS_PER_DAY, count)
    returned_at = delivered_at + rng.integers(2 * SECONDS_PER_DAY, 10 * SECONDS_PER_DAY, count)
    index = np.arange(count)
    steps = [
        (index, "placed", placed),
        (index[cancelled], "cancelled", cancel_at[cancelled]),
        (index[~cancelled], "shipped", shipped_at[~cancelled]),
        (index[~cancelled], "delivered", delivered_at[~cancelled]),
        (index[returned], "returned", returned_at[returned]),
    ]
    who = np.concatenate([s[0] for s in steps])
    status = np.concatenate([np.full(s[0].size, s[1]) for s in steps])
    updated = np.concatenate([s[2] for s in steps])
    keep = updated <= window_end
    who, status, updated = who[keep], status[keep], updated[keep]
    order = np.lexsort((who, updated))
    return who[order], status[order], updated[order]


def _negative_quantities(rng, items: pa.Table, rate: float) -> tuple[pa.Table, pa.Table]:
    """Out-of-range defect in the MariaDB source: a negative quantity on some order lines."""
    hit = np.flatnonzero(rng.random(items.num_rows) < rate * 0.5)
    quantity = items["quantity"].to_numpy().copy()
    quantity[hit] = -quantity[hit]
    items = items.set_column(
        items.schema.get_field_index("quantity"), "quantity", pa.array(quantity, pa.int32())
    )
    keys = pc.binary_join_element_wise(
        pc.take(items["order_id"], pa.array(hit)),
        pc.cast(pc.take(items["line_no"], pa.array(hit)), pa.string()),
        "/",
    )
    defects = pa.table(
        {
            "source": pa.array(["mysql"] * hit.size, pa.string()),
            "file": pa.array(["order_items"] * hit.size, pa.string()),
            "line_no": pa.array([None] * hit.size, pa.int64()),
            "row_key": keys,
            "defect_kind": pa.array(["out_of_range"] * hit.size, pa.string()),
            "column": pa.array(["quantity"] * hit.size, pa.string()),
        }
    )
    return items, defects
