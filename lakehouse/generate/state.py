"""The hidden per-customer state that drives behaviour: segment, income, churn, fraud, offers.

Nothing here is written to the landing area as-is; it shapes the data, and the truth files
record the parts a model should learn (segment, churn date, fraud, offer uptake).
Days are day numbers (days since 1970-01-01); NEVER marks an event that does not happen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakehouse.generate import catalog
from lakehouse.generate._text import Stream, day_number, rng_for
from lakehouse.generate.spec import GeneratorSpec

NEVER = np.int64(2**31 - 1)
STUDENT, YOUNG_PRO, FAMILY = (
    catalog.SEGMENTS.index(s) for s in ("student", "young_professional", "family")
)
# Students graduate into young professionals, young professionals start families.
NEXT_SEGMENT = {STUDENT: YOUNG_PRO, YOUNG_PRO: FAMILY}
CREDIT_MEAN = np.array([0.3, -0.6, 1.0, 0.6, 0.0])
CREDIT_EDGES = np.array([-1.0, -0.2, 0.5, 1.2])


@dataclass(frozen=True)
class State:
    """Per-customer arrays, index i is customer C{i+1}."""

    n: int
    start: int
    end: int
    segment: np.ndarray
    segment_new: np.ndarray
    segment_change_day: np.ndarray
    signup_day: np.ndarray
    dob_day: np.ndarray
    salary_cents: np.ndarray
    salary_new_cents: np.ndarray
    income_change_day: np.ndarray
    credit_band: np.ndarray
    rate: np.ndarray
    category_cum: np.ndarray
    churn_day: np.ndarray
    decay_days: np.ndarray
    fraud_day: np.ndarray
    fraud_kind: np.ndarray
    offer_product: np.ndarray
    offer_day: np.ndarray
    offer_accept_day: np.ndarray

    def segment_on(self, day: int, who: np.ndarray) -> np.ndarray:
        changed = self.segment_change_day[who] <= day
        return np.where(changed, self.segment_new[who], self.segment[who])

    def activity(self, day: int) -> np.ndarray:
        """Activity multiplier per customer: 0 before signup and from churn, fading before it."""
        active = (self.signup_day <= day) & (day < self.churn_day)
        left = (self.churn_day - day) / self.decay_days
        return np.where(active, np.clip(left, 0.05, 1.0), 0.0)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _window_probability(per_30_days: np.ndarray | float, days: int) -> np.ndarray:
    """Chance an event with a given 30-day probability happens within the whole window."""
    return 1.0 - (1.0 - np.asarray(per_30_days)) ** (days / 30.0)


def annual_income_band(salary_cents: np.ndarray) -> np.ndarray:
    return np.searchsorted(catalog.INCOME_BAND_EDGES, salary_cents * 12 / 100.0)


def build_state(spec: GeneratorSpec) -> State:
    rng = rng_for(spec.seed, Stream.CUSTOMERS)
    n, days = spec.customers, spec.days
    start = day_number(spec.start_date)
    end = start + days - 1
    segment = rng.choice(len(catalog.SEGMENTS), size=n, p=catalog.SEGMENT_SHARE)
    age_range = np.array(catalog.SEGMENT_AGE)[segment]
    age_days = rng.integers(age_range[:, 0] * 365, age_range[:, 1] * 365 + 365)
    dob_day = start - age_days
    new_in_window = rng.random(n) < min(0.3, 0.02 * days / 30)
    history = rng.integers(30, 365 * 12, size=n)
    adult_day = dob_day + 18 * 366
    signup_day = np.where(new_in_window, start + rng.integers(0, days, size=n), start - history)
    signup_day = np.maximum(signup_day, np.minimum(adult_day, start - 1))
    salary = np.array(catalog.SEGMENT_SALARY)[segment] * rng.lognormal(0.0, 0.35, size=n)
    salary_cents = (salary * 100).astype(np.int64)
    segment_new, segment_change_day = _segment_changes(rng, segment, start, days)
    promotion = np.where(segment == STUDENT, 2.5, 1.1)
    raise_factor = np.where(segment_new == segment, rng.uniform(0.85, 1.25, n), promotion)
    income_change = (segment_change_day != NEVER) | (
        rng.random(n) < _window_probability(0.02, days)
    )
    income_change_day = np.where(
        segment_change_day != NEVER, segment_change_day, start + rng.integers(0, days, size=n)
    )
    income_change_day = np.where(income_change, np.maximum(income_change_day, signup_day), NEVER)
    credit_score = CREDIT_MEAN[segment] + rng.normal(0.0, 0.8, size=n)
    rate = np.array(catalog.SEGMENT_RATE)[segment] * rng.gamma(4.0, 0.25, size=n)
    weights = np.array(catalog.SEGMENT_CATEGORY_WEIGHTS, dtype=float)[segment]
    mix = rng.gamma(weights * 3.0 + 1e-3)  # Dirichlet around the segment's mix, row-wise
    mix /= mix.sum(axis=1, keepdims=True)
    offers = _offers(rng, segment, credit_score, signup_day, start, days)
    churn_day, decay_days = _churn(
        rng, segment, credit_score, rate, offers[2], signup_day, start, end
    )
    fraud_day, fraud_kind = _fraud(rng, segment, signup_day, churn_day, start, end)
    return State(
        n=n,
        start=start,
        end=end,
        segment=segment,
        segment_new=segment_new,
        segment_change_day=segment_change_day,
        signup_day=signup_day,
        dob_day=dob_day,
        salary_cents=salary_cents,
        salary_new_cents=(salary_cents * raise_factor).astype(np.int64),
        income_change_day=income_change_day,
        credit_band=np.searchsorted(CREDIT_EDGES, credit_score),
        rate=rate,
        category_cum=np.cumsum(mix, axis=1).astype(np.float32),
        churn_day=churn_day,
        decay_days=decay_days,
        fraud_day=fraud_day,
        fraud_kind=fraud_kind,
        offer_product=offers[0],
        offer_day=offers[1],
        offer_accept_day=offers[2],
    )


def _segment_changes(rng, segment, start, days):
    chance = np.where(segment == STUDENT, 0.12, np.where(segment == YOUNG_PRO, 0.03, 0.0))
    changes = rng.random(segment.size) < _window_probability(chance, days)
    new = segment.copy()
    for old, nxt in NEXT_SEGMENT.items():
        new[changes & (segment == old)] = nxt
    day = np.where(changes, start + rng.integers(1, max(days, 2), size=segment.size), NEVER)
    return new, day


def _offers(rng, segment, credit_score, signup_day, start, days):
    """Each offered customer gets one product; uptake depends on segment affinity and credit."""
    n = segment.size
    offered = (rng.random(n) < 0.3) & (signup_day < start + days - 1)
    product = rng.integers(1, len(catalog.BANK_PRODUCTS), size=n)
    offer_day = np.maximum(start + rng.integers(0, days, size=n), signup_day + 1)
    affinity = np.array(catalog.OFFER_AFFINITY)[product, segment]
    logit = -1.6 + affinity + 0.4 * credit_score + rng.normal(0.0, 0.7, size=n)
    accepted = offered & (rng.random(n) < _sigmoid(logit))
    accept_day = offer_day + rng.integers(1, 10, size=n)
    accepted &= accept_day <= start + days - 1
    return (
        np.where(offered, product, -1),
        np.where(offered, offer_day, NEVER),
        np.where(accepted, accept_day, NEVER),
    )


def _churn(rng, segment, credit_score, rate, accept_day, signup_day, start, end):
    """Churn odds rise for students, poor credit and low activity, fall for savers and uptake."""
    n = segment.size
    low_activity = rate < np.quantile(rate, 0.25)
    logit = (
        -3.0
        + 0.8 * (segment == STUDENT)
        - 0.9 * (segment == catalog.SEGMENTS.index("saver"))
        - 0.5 * credit_score
        + 1.0 * low_activity
        - 1.2 * (accept_day != NEVER)
        + rng.normal(0.0, 0.6, size=n)
    )
    churns = rng.random(n) < _window_probability(_sigmoid(logit), end - start + 1)
    earliest = np.maximum(start + 3, signup_day + 30)
    churn_day = earliest + (rng.random(n) * (end + 1 - earliest)).astype(np.int64)
    churns &= churn_day <= end
    return np.where(churns, churn_day, NEVER), rng.integers(14, 29, size=n)


def _fraud(rng, segment, signup_day, churn_day, start, end):
    n = segment.size
    exposed = np.isin(segment, [catalog.SEGMENTS.index("affluent_traveler"), YOUNG_PRO])
    victims = rng.random(n) < _window_probability(np.where(exposed, 0.015, 0.008), end - start + 1)
    first = np.maximum(start, signup_day)
    last = np.minimum(end, churn_day - 1)
    victims &= first <= last
    day = first + (rng.random(n) * (last - first + 1)).astype(np.int64)
    kind = rng.choice(len(catalog.FRAUD_KINDS), size=n, p=catalog.FRAUD_KIND_SHARE)
    return np.where(victims, day, NEVER), np.where(victims, kind, -1)
