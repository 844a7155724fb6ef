"""One day of bank transactions, vectorized over customers: discretionary spend, the recurring
payments due that day, and injected fraud episodes.

Each day draws from its own random stream (seed, day), so a day's rows do not depend on how
many rows earlier days had, and the Kafka replay can regenerate any day alone.
"""

from __future__ import annotations

import numpy as np

from lakehouse.generate import catalog
from lakehouse.generate._text import SECONDS_PER_DAY, Stream, rng_for
from lakehouse.generate.pools import pick_raw
from lakehouse.generate.recurring import recurring_on
from lakehouse.generate.txn_parts import (
    CATEGORY_INDEX,
    FOREIGN_CURRENCY,
    FOREIGN_LOCATION,
    MODE_INDEX,
    REMARK_INDEX,
    DayTransactions,
    Parts,
    day_date,
    finish_day,
)
from lakehouse.generate.world import World

WEEKDAY_FACTOR = np.array([0.9, 0.95, 1.0, 1.0, 1.15, 1.25, 0.75])
HOURS = {name: np.cumsum(w) / np.sum(w) for name, w in catalog.HOUR_PROFILES.items()}
SEGMENT_CUM = np.cumsum(
    np.array(catalog.SEGMENT_CATEGORY_WEIGHTS)
    / np.sum(catalog.SEGMENT_CATEGORY_WEIGHTS, 1)[:, None],
    axis=1,
).astype(np.float32)
# Card spend in these categories sometimes happens abroad (holidays, business trips).
TRAVEL_PRONE = np.array(
    [CATEGORY_INDEX[c] for c in ("travel", "dining", "luxury", "entertainment")]
)
ABROAD_CHANCE = np.array([0.03, 0.02, 0.3, 0.01, 0.06])
# Per fraud kind (order of catalog.FRAUD_KINDS): rows per episode and amount range in cents.
FRAUD_COUNT_LOW, FRAUD_COUNT_HIGH = np.array([5, 1, 1, 2]), np.array([13, 3, 4, 5])
FRAUD_CENTS_LOW = np.array([2_000, 200_000, 10_000, 15_000])
FRAUD_CENTS_HIGH = np.array([25_000, 1_500_000, 150_000, 120_000])
VELOCITY, AMOUNT, MERCHANT, GEOGRAPHY = range(4)
FRAUD_CATEGORY = {
    "velocity": ("gift_cards", "electronics", "crypto"),
    "amount": ("luxury", "electronics"),
    "merchant": ("crypto", "gambling", "money_transfer", "gift_cards"),
    "geography": ("electronics", "luxury", "cash"),
}
FRAUD_CATEGORY_N = np.array([len(FRAUD_CATEGORY[k]) for k in catalog.FRAUD_KINDS])
FRAUD_CATEGORY_CODES = np.array(
    [[CATEGORY_INDEX[c] for c in (FRAUD_CATEGORY[k] * 4)[:4]] for k in catalog.FRAUD_KINDS]
)


def day_transactions(world: World, day: int) -> DayTransactions:
    rng = rng_for(world.spec.seed, Stream.TRANSACTIONS, day)
    dom = day_date(day).day
    parts = [
        discretionary(world, day, rng),
        recurring_on(day, dom, world.state, world.accounts, world.schedule, rng),
        fraud_on(world, day, rng_for(world.spec.seed, Stream.FRAUD, day)),
    ]
    return finish_day(
        day,
        Parts.concat(parts),
        customer_id=world.customers.customer_id,
        account_id=world.accounts.account_id,
        raw_pool=world.merchants.raw,
    )


def discretionary(world: World, day: int, rng: np.random.Generator) -> Parts:
    state = world.state
    weekday = day_date(day).weekday()
    counts = rng.poisson(state.rate * WEEKDAY_FACTOR[weekday] * state.activity(day))
    cust = np.repeat(np.arange(state.n), counts)
    size = cust.size
    segment = state.segment_on(day, cust)
    cum = state.category_cum[cust]
    changed = state.segment_change_day[cust] <= day
    cum[changed] = SEGMENT_CUM[segment[changed]]
    category = np.minimum(
        (rng.random(size, dtype=np.float32)[:, None] > cum).sum(1), cum.shape[1] - 1
    )
    merchant = np.zeros(size, dtype=np.int64)
    mode = np.zeros(size, dtype=np.int64)
    hour = np.zeros(size, dtype=np.int64)
    log_median = np.zeros(size)
    sigma = np.zeros(size)
    for index, (name, median, spread, profile, modes) in enumerate(catalog.CATEGORIES):
        rows = np.flatnonzero(category == index)
        merchant[rows] = world.pick_merchant(name, rng.random(rows.size))
        mode_cum = np.cumsum(list(modes.values()))
        mode_codes = np.array([MODE_INDEX[m] for m in modes])
        mode[rows] = mode_codes[
            np.minimum(np.searchsorted(mode_cum, rng.random(rows.size)), len(modes) - 1)
        ]
        hour[rows] = np.minimum(np.searchsorted(HOURS[profile], rng.random(rows.size)), 23)
        log_median[rows], sigma[rows] = np.log(median), spread
    amount = np.exp(log_median + sigma * rng.standard_normal(size))
    amount *= np.array(catalog.SEGMENT_SPEND)[segment] * world.income_factor[cust]
    is_cash = category == CATEGORY_INDEX["cash"]
    amount = np.where(is_cash, np.maximum(20, np.round(amount / 20) * 20), amount)
    cents = -np.maximum(np.round(amount * 100), 50).astype(np.int64)
    refund = np.isin(category, [CATEGORY_INDEX["shopping"], CATEGORY_INDEX["electronics"]])
    refund &= rng.random(size) < 0.02
    cents = np.where(refund, -cents, cents)
    location, currency = _where(world, day, cust, category, mode, segment, rng)
    remark = _remarks(mode, refund, rng)
    has_card = world.accounts.credit_card[cust] >= 0
    on_card = has_card & (mode == MODE_INDEX["card"]) & (rng.random(size) < 0.5)
    account = np.where(on_card, world.accounts.credit_card[cust], world.accounts.current[cust])
    seconds = day * SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, size=size)
    return Parts.of(
        cust=cust,
        account=account,
        sec=seconds,
        cents=cents,
        currency=currency,
        raw=pick_raw(world.merchants, merchant, rng),
        category=category,
        mode=mode,
        location=location,
        remark=remark,
    )


def _where(world, day, cust, category, mode, segment, rng):
    """City (location index) and currency: home city for card and ATM, abroad sometimes."""
    size = cust.size
    moved = world.customers.move_day[cust] <= day
    home = 1 + np.where(moved, world.customers.city_new[cust], world.customers.city[cust])
    physical = (mode == MODE_INDEX["card"]) | (mode == MODE_INDEX["atm"])
    abroad = (
        physical & np.isin(category, TRAVEL_PRONE) & (rng.random(size) < ABROAD_CHANCE[segment])
    )
    foreign = rng.integers(0, FOREIGN_CURRENCY.size, size=size)
    location = np.where(abroad, FOREIGN_LOCATION + foreign, np.where(physical, home, 0))
    foreign_shop = (mode == MODE_INDEX["online"]) & (rng.random(size) < 0.02)
    currency = np.where(abroad | foreign_shop, FOREIGN_CURRENCY[foreign], 0)
    return location, currency


def _remarks(mode, refund, rng):
    draw = rng.random(mode.size)
    remark = np.zeros(mode.size, dtype=np.int64)
    card = mode == MODE_INDEX["card"]
    online = mode == MODE_INDEX["online"]
    remark[card & (draw < 0.3)] = REMARK_INDEX["contactless"]
    remark[online & (draw < 0.1)] = REMARK_INDEX["Online purchase"]
    remark[online & (draw >= 0.1) & (draw < 0.13)] = REMARK_INDEX["Order ref, thank you"]
    remark[mode == MODE_INDEX["atm"]] = REMARK_INDEX["Cash withdrawal"]
    remark[mode == MODE_INDEX["transfer"]] = REMARK_INDEX["Transfer, see invoice"]
    remark[refund] = REMARK_INDEX["REFUND"]
    return remark


def fraud_on(world: World, day: int, rng: np.random.Generator) -> Parts:
    """Anomalous episodes for the customers whose hidden fraud day is today."""
    state = world.state
    victims = np.flatnonzero(state.fraud_day == day)
    count = rng.integers(
        FRAUD_COUNT_LOW[state.fraud_kind[victims]], FRAUD_COUNT_HIGH[state.fraud_kind[victims]]
    )
    cust = np.repeat(victims, count)
    kind = np.repeat(state.fraud_kind[victims], count)
    size = cust.size
    # Bursts arrive seconds apart; the other kinds minutes to an hour apart.
    gaps = np.where(kind == VELOCITY, rng.integers(20, 240, size), rng.integers(300, 3600, size))
    first = np.repeat(np.cumsum(count) - count, count)
    within = np.cumsum(gaps) - np.cumsum(gaps)[first] + gaps[first] if size else gaps
    start_hour = np.minimum(np.searchsorted(HOURS["night"], rng.random(victims.size)), 23)
    seconds = day * SECONDS_PER_DAY + np.repeat(start_hour * 3600, count) + within
    seconds = np.minimum(seconds, (day + 1) * SECONDS_PER_DAY - 1)
    category = FRAUD_CATEGORY_CODES[kind, rng.integers(0, 12, size=size) % FRAUD_CATEGORY_N[kind]]
    merchant = np.zeros(size, dtype=np.int64)
    # Sorted: iterating a set follows string hashing, which differs per process.
    for name in sorted({c for choices in FRAUD_CATEGORY.values() for c in choices}):
        rows = np.flatnonzero(category == CATEGORY_INDEX[name])
        merchant[rows] = world.pick_merchant(name, rng.random(rows.size), popular=False)
    cents = -rng.integers(FRAUD_CENTS_LOW[kind], FRAUD_CENTS_HIGH[kind])
    geography = kind == GEOGRAPHY
    cash = category == CATEGORY_INDEX["cash"]
    online, card = MODE_INDEX["online"], MODE_INDEX["card"]
    mode = np.where(geography, np.where(cash, MODE_INDEX["atm"], card), online)
    mode = np.where((kind == AMOUNT) & (rng.random(size) < 0.5), card, mode)
    foreign = np.repeat(rng.integers(0, FOREIGN_CURRENCY.size, size=victims.size), count)
    home = 1 + world.customers.city[cust]
    location = np.where(geography, FOREIGN_LOCATION + foreign, np.where(mode == card, home, 0))
    credit_card = world.accounts.credit_card[cust]
    return Parts.of(
        cust=cust,
        account=np.where(credit_card >= 0, credit_card, world.accounts.current[cust]),
        sec=seconds,
        cents=cents,
        currency=np.where(geography, FOREIGN_CURRENCY[foreign], 0),
        raw=pick_raw(world.merchants, merchant, rng),
        category=category,
        mode=mode,
        location=location,
        remark=np.zeros(size, dtype=np.int64),
        fraud_kind=kind.astype(np.int8),
    )
