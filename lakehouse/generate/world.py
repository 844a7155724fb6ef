"""Everything a run needs before its first day: pools, hidden state, customers, accounts,
the recurring-payment schedule and the retail catalog. Cheap next to the transactions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakehouse.generate import catalog
from lakehouse.generate.accounts import Accounts, build_accounts
from lakehouse.generate.customers import Customers, build_customers
from lakehouse.generate.pools import Merchants, build_merchants, build_people, company_names
from lakehouse.generate.recurring import Schedule, build_schedule
from lakehouse.generate.retail import Retail, build_retail
from lakehouse.generate.spec import GeneratorSpec
from lakehouse.generate.state import State, build_state

POPULARITY_EXPONENT = 0.9


@dataclass(frozen=True)
class World:
    spec: GeneratorSpec
    state: State
    customers: Customers
    accounts: Accounts
    merchants: Merchants
    schedule: Schedule
    retail: Retail
    income_factor: np.ndarray
    merchant_cum: dict[str, tuple[np.ndarray, np.ndarray]]

    def pick_merchant(self, category: str, u: np.ndarray, *, popular: bool = True) -> np.ndarray:
        """Merchant index per uniform draw: Zipf-like popularity (catalog brands first)."""
        choices, cum = self.merchant_cum[category]
        if not popular:
            return choices[np.minimum((u * choices.size).astype(np.int64), choices.size - 1)]
        return choices[np.minimum(np.searchsorted(cum, u), choices.size - 1)]


def build_world(spec: GeneratorSpec) -> World:
    state = build_state(spec)
    people = build_people(spec.seed)
    employers = company_names(spec.seed, int(np.clip(spec.customers // 25, 20, 400)), salt=1)
    landlord_count = int(np.clip(spec.customers // 40, 10, 300))
    landlords = [f"{name} Immobilien" for name in dict.fromkeys(people.last["DE"])][:landlord_count]
    merchants = build_merchants(
        spec.seed, employers=employers, landlords=landlords, local=spec.local_merchants
    )
    customers = build_customers(state, people, spec.seed)
    accounts = build_accounts(state, customers.customer_id, spec.seed)
    schedule = build_schedule(state, accounts, merchants, spec.seed)
    median = np.array(catalog.SEGMENT_SALARY)[state.segment] * 100
    income_factor = np.clip(np.sqrt(state.salary_cents / median), 0.5, 2.5)
    cum = {}
    for category in np.unique(merchants.category):
        choices = merchants.in_category(str(category))
        weights = 1.0 / (np.arange(choices.size) + 1.0) ** POPULARITY_EXPONENT
        cum[str(category)] = (choices, np.cumsum(weights) / weights.sum())
    return World(
        spec=spec,
        state=state,
        customers=customers,
        accounts=accounts,
        merchants=merchants,
        schedule=schedule,
        retail=build_retail(spec, state, customers.customer_id, people),
        income_factor=income_factor,
        merchant_cum=cum,
    )
