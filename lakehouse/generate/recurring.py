"""Monthly recurring transactions: salary credits, rent, loan installments (EMI), subscriptions
and utility bills. Built once as a schedule (one row per customer and payee, with a day of the
month); each day then takes the rows due on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakehouse.generate import catalog
from lakehouse.generate._text import Stream, rng_for
from lakehouse.generate.accounts import MORTGAGE, PERSONAL_LOAN, Accounts
from lakehouse.generate.pools import Merchants, pick_raw
from lakehouse.generate.state import STUDENT, State
from lakehouse.generate.txn_parts import CATEGORY_INDEX, MODE_INDEX, REMARK_INDEX, Parts

PAYDAYS = (1, 15, 25, 28)
PAYDAY_SHARE = (0.2, 0.15, 0.4, 0.25)


@dataclass(frozen=True)
class Schedule:
    cust: np.ndarray
    dom: np.ndarray  # day of month, 1..28 so every month has it
    cents: np.ndarray  # signed; salary rows are replaced by the salary valid on the day
    raw: np.ndarray
    category: np.ndarray
    mode: np.ndarray
    remark: np.ndarray
    hour: np.ndarray
    salary: np.ndarray  # bool: a salary credit


def build_schedule(state: State, accounts: Accounts, merchants: Merchants, seed: int) -> Schedule:
    rng = rng_for(seed, Stream.TRANSACTIONS, 0)
    rows = _income_and_housing(rng, state, accounts, merchants) + _bills(rng, state, merchants)
    return Schedule(**{k: np.concatenate([r[k] for r in rows]) for k in rows[0]})


def _income_and_housing(rng, state: State, accounts: Accounts, merchants: Merchants) -> list[dict]:
    """Salary credits, rent for those without a mortgage, loan installments (EMI)."""
    n = state.n
    rows: list[dict[str, np.ndarray]] = []
    employed = (state.segment != STUDENT) | (rng.random(n) < 0.6)
    rows.append(
        _rows(
            rng,
            merchants,
            np.flatnonzero(employed),
            "salary",
            merchants.in_category("salary"),
            dom=rng.choice(PAYDAYS, size=n, p=PAYDAY_SHARE),
            cents=state.salary_cents,
            mode="transfer",
            remark="Salary payment",
            hour=(5, 7),
        )
    )
    renter = ~accounts.holds[:, MORTGAGE] & ((state.segment != STUDENT) | (rng.random(n) < 0.5))
    rent = np.maximum(35_000, state.salary_cents * 0.3 * rng.lognormal(0, 0.15, n)) // 1000 * 1000
    rows.append(
        _rows(
            rng,
            merchants,
            np.flatnonzero(renter),
            "rent",
            merchants.in_category("rent"),
            dom=rng.integers(1, 4, n),
            cents=-rent,
            mode="transfer",
            remark="Rent",
            hour=(6, 9),
        )
    )
    loan = merchants.in_category("loan_emi")
    for product, low, high in ((PERSONAL_LOAN, 150, 600), (MORTGAGE, 700, 2500)):
        emi = -rng.integers(low * 100, high * 100, n) // 100 * 100
        rows.append(
            _rows(
                rng,
                merchants,
                np.flatnonzero(accounts.holds[:, product]),
                "loan_emi",
                loan,
                dom=np.full(n, 5),
                cents=emi,
                mode="direct_debit",
                remark="Loan installment",
                hour=(1, 5),
            )
        )
    return rows


def _bills(rng, state: State, merchants: Merchants) -> list[dict]:
    """Subscriptions (by segment taste) and utility bills."""
    n = state.n
    rows: list[dict[str, np.ndarray]] = []
    for name, price, weights in catalog.SUBSCRIPTIONS:
        takes = rng.random(n) < np.array(weights)[state.segment] * 0.8
        merchant = np.array([merchants.by_name(name, "subscription")])
        rows.append(
            _rows(
                rng,
                merchants,
                np.flatnonzero(takes),
                "subscription",
                merchant,
                dom=rng.integers(1, 29, n),
                cents=np.full(n, -round(price * 100)),
                mode="direct_debit",
                remark="Monthly subscription",
                hour=(0, 5),
            )
        )
    utility = np.array([merchants.by_name(u, "utilities") for u in catalog.UTILITIES])
    billed = (state.segment != STUDENT) & (rng.random(n) < 0.7)
    rows.append(
        _rows(
            rng,
            merchants,
            np.flatnonzero(billed),
            "utilities",
            utility,
            dom=rng.integers(10, 21, n),
            cents=-rng.integers(4000, 15000, n),
            mode="direct_debit",
            remark="Monthly fee",
            hour=(1, 5),
        )
    )
    return rows


def _rows(rng, merchants, who, category, choices, *, dom, cents, mode, remark, hour):
    merchant = choices[rng.integers(0, choices.size, size=who.size)]
    return {
        "cust": who,
        "dom": dom[who],
        "cents": cents[who].astype(np.int64),
        "raw": pick_raw(merchants, merchant, rng),
        "category": np.full(who.size, CATEGORY_INDEX[category]),
        "mode": np.full(who.size, MODE_INDEX[mode]),
        "remark": np.full(who.size, REMARK_INDEX[remark]),
        "hour": rng.integers(hour[0], hour[1], size=who.size),
        "salary": np.full(who.size, category == "salary"),
    }


def recurring_on(
    day: int, dom: int, state: State, accounts: Accounts, schedule: Schedule, rng
) -> Parts:
    """The schedule rows due on ``day`` for customers active that day."""
    due = np.flatnonzero(schedule.dom == dom)
    cust = schedule.cust[due]
    due, cust = due[state.activity(day)[cust] > 0], cust[state.activity(day)[cust] > 0]
    raised = state.income_change_day[cust] <= day
    salary_now = np.where(raised, state.salary_new_cents[cust], state.salary_cents[cust])
    cents = np.where(schedule.salary[due], salary_now, schedule.cents[due])
    seconds = day * 86_400 + schedule.hour[due] * 3600 + rng.integers(0, 3600, size=due.size)
    return Parts.of(
        cust=cust,
        account=accounts.current[cust],
        sec=seconds,
        cents=cents,
        currency=np.zeros(due.size, dtype=np.int64),
        raw=schedule.raw[due],
        category=schedule.category[due],
        mode=schedule.mode[due],
        location=np.zeros(due.size, dtype=np.int64),
        remark=schedule.remark[due],
    )
