"""Accounts (the bank products each customer holds) and their status versions.

Opened at signup or later; an accepted offer opens a new account on the acceptance day;
a churning customer's accounts are all closed on the churn day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate import catalog
from lakehouse.generate._text import SECONDS_PER_DAY, Stream, date_array, ids, rng_for, ts_array
from lakehouse.generate.state import NEVER, State

PRODUCT_CODES = np.array([code for code, _, _ in catalog.BANK_PRODUCTS])
CURRENT, CREDIT_CARD, PERSONAL_LOAN, MORTGAGE = (
    int(np.flatnonzero(c == PRODUCT_CODES)[0])
    for c in ("CURRENT", "CREDIT_CARD", "PERSONAL_LOAN", "MORTGAGE")
)


@dataclass(frozen=True)
class Accounts:
    account_id: pa.Array  # one per account
    owner: np.ndarray  # customer index per account
    product: np.ndarray  # product index per account
    current: np.ndarray  # account index of each customer's current account
    credit_card: np.ndarray  # account index of the customer's credit card, or -1
    holds: np.ndarray  # (customers, products) bool: held at the start of the window
    versions: pa.Table


def build_accounts(state: State, customer_id: pa.Array, seed: int) -> Accounts:
    rng = rng_for(seed, Stream.ACCOUNTS)
    n = state.n
    holding = np.array(catalog.PRODUCT_HOLDING)[:, state.segment].T  # (n, products)
    holds = rng.random(holding.shape) < holding
    holds[:, CURRENT] = True
    owner, product = np.nonzero(holds)  # row-major: grouped by customer, products in order
    history = np.maximum(state.start - state.signup_day, 1)
    opened = state.signup_day[owner] + (rng.random(owner.size) * history[owner]).astype(np.int64)
    opened = np.where(product == CURRENT, state.signup_day[owner], opened)
    taken = np.flatnonzero(state.offer_accept_day != NEVER)
    owner = np.concatenate([owner, taken])
    product = np.concatenate([product, state.offer_product[taken]])
    opened = np.concatenate([opened, state.offer_accept_day[taken]])
    account_no = np.arange(1, owner.size + 1)
    account_id = ids("A", account_no, 9)
    closing = np.flatnonzero(state.churn_day[owner] != NEVER)
    who = np.concatenate([np.arange(owner.size), closing])
    day = np.concatenate([opened, state.churn_day[owner[closing]]])
    status = np.concatenate([np.full(owner.size, "active"), np.full(closing.size, "closed")])
    # Accounts opened before the window keep their original stamp; later changes get theirs.
    seconds = day * SECONDS_PER_DAY + rng.integers(6 * 3600, 20 * 3600, size=who.size)
    order = np.lexsort((who, seconds))
    versions = pa.table(
        {
            "account_id": pc.take(account_id, pa.array(who[order])),
            "customer_id": pc.take(customer_id, pa.array(owner[who[order]])),
            "product_code": PRODUCT_CODES[product[who[order]]],
            "opened_date": date_array(opened[who[order]]),
            "status": status[order],
            "updated_at": ts_array(seconds[order]),
        }
    )
    current = np.full(n, -1)
    credit_card = np.full(n, -1)
    first = owner.size - taken.size
    current[owner[:first][product[:first] == CURRENT]] = np.flatnonzero(product[:first] == CURRENT)
    cards = np.flatnonzero(product[:first] == CREDIT_CARD)
    credit_card[owner[cards]] = cards
    return Accounts(account_id, owner, product, current, credit_card, holds, versions)


def bank_products_table() -> pa.Table:
    code, name, kind = zip(*catalog.BANK_PRODUCTS, strict=True)
    return pa.table({"product_code": code, "name": name, "kind": kind})
