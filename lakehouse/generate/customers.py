"""Customer profiles and their versions over time (the input of an SCD2 dimension).

A version is written on the customer's signup day and again on every day something visible
changes: a move (address, city, region), an income band change (raise, graduation), a new
e-mail or phone number. ``updated_at`` is a moment on that day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate import catalog
from lakehouse.generate._text import SECONDS_PER_DAY, Stream, date_array, ids, rng_for, ts_array
from lakehouse.generate.pools import People, ascii_slug
from lakehouse.generate.state import NEVER, State, _window_probability, annual_income_band

EMAIL_DOMAINS = {
    "DE": ("web.de", "gmx.de", "gmail.com", "t-online.de"),
    "FR": ("orange.fr", "free.fr", "gmail.com", "laposte.net"),
    "NL": ("ziggo.nl", "gmail.com", "outlook.com", "kpnmail.nl"),
    "ES": ("gmail.com", "yahoo.es", "hotmail.es", "outlook.com"),
    "IT": ("libero.it", "gmail.com", "virgilio.it", "tiscali.it"),
    "IE": ("eircom.net", "gmail.com", "outlook.com", "icloud.com"),
}
COUNTRIES = tuple(sorted(catalog.COUNTRY_LOCALE))
# House number after the street name in these countries, before it elsewhere.
NUMBER_LAST = {"DE", "NL", "ES", "IT"}


@dataclass(frozen=True)
class Customers:
    customer_id: pa.Array
    country: np.ndarray  # index into COUNTRIES
    city: np.ndarray  # index into CITY_NAMES, before and after a move
    city_new: np.ndarray
    move_day: np.ndarray
    versions: pa.Table


CITY_NAMES = np.array([city for _, _, cities in catalog.REGIONS for city in cities])
CITY_REGION = np.array([r for r, (_, _, cities) in enumerate(catalog.REGIONS) for _ in cities])
REGION_COUNTRY = np.array([COUNTRIES.index(c) for _, c, _ in catalog.REGIONS])


def build_customers(state: State, people: People, seed: int) -> Customers:
    rng = rng_for(seed, Stream.VERSIONS)
    n, days = state.n, state.end - state.start + 1
    city = rng.integers(0, CITY_NAMES.size, size=n)
    moves = rng.random(n) < _window_probability(0.04, days)
    same_region = rng.random(n) < 0.7
    city_new = rng.integers(0, CITY_NAMES.size, size=n)
    for region in range(len(catalog.REGIONS)):
        # A local move: another (or the same) city of the region, a new street.
        options = np.flatnonzero(region == CITY_REGION)
        stay = same_region & (CITY_REGION[city] == region)
        city_new[stay] = options[rng.integers(0, options.size, size=int(stay.sum()))]
    country = REGION_COUNTRY[CITY_REGION[city]]
    move_day = _event_day(rng, moves, state)
    email_day = _event_day(rng, rng.random(n) < _window_probability(0.01, days), state)
    phone_day = _event_day(rng, rng.random(n) < _window_probability(0.01, days), state)
    cols = _attributes(rng, state, people, country, city, city_new)
    who, day = _version_days(state, move_day, email_day, phone_day)
    moved, new_mail, new_phone = move_day[who] <= day, email_day[who] <= day, phone_day[who] <= day
    salary = np.where(
        state.income_change_day[who] <= day, state.salary_new_cents[who], state.salary_cents[who]
    )
    city_now = np.where(moved, city_new[who], city[who])
    customer_id = ids("C", np.arange(1, n + 1), 8)
    versions = pa.table(
        {
            "customer_id": pc.take(customer_id, pa.array(who)),
            "first_name": cols["first_name"][who],
            "last_name": cols["last_name"][who],
            "email": np.where(new_mail, cols["email_new"][who], cols["email"][who]),
            "phone": np.where(new_phone, cols["phone_new"][who], cols["phone"][who]),
            "date_of_birth": date_array(state.dob_day[who]),
            "address": np.where(moved, cols["address_new"][who], cols["address"][who]),
            "city": CITY_NAMES[city_now],
            "region": np.array([r for r, _, _ in catalog.REGIONS])[CITY_REGION[city_now]],
            "signup_date": date_array(state.signup_day[who]),
            "income_band": np.array(catalog.INCOME_BANDS)[annual_income_band(salary)],
            "credit_score_band": np.array(catalog.CREDIT_BANDS)[state.credit_band[who]],
            "updated_at": ts_array(
                day * SECONDS_PER_DAY + rng.integers(0, SECONDS_PER_DAY, who.size)
            ),
        }
    )
    return Customers(
        customer_id, country, city, np.where(moves, city_new, city), move_day, versions
    )


def _event_day(rng: np.random.Generator, happens: np.ndarray, state: State) -> np.ndarray:
    day = state.start + rng.integers(0, state.end - state.start + 1, size=state.n)
    ok = happens & (day > state.signup_day) & (day < state.churn_day)
    return np.where(ok, day, NEVER)


def _version_days(state: State, *event_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, day) of every version, sorted; same-day changes share one version."""
    n = state.n
    income = np.where(state.income_change_day < state.churn_day, state.income_change_day, NEVER)
    days = np.concatenate([state.signup_day, income, *event_days])
    who = np.tile(np.arange(n), len(event_days) + 2)
    keep = days != NEVER
    pairs = np.unique(np.stack([who[keep], days[keep]], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _attributes(rng, state, people, country, city, city_new) -> dict[str, np.ndarray]:
    n = state.n
    first = np.empty(n, dtype=object)
    last = np.empty(n, dtype=object)
    street = np.empty(n, dtype=object)
    street_new = np.empty(n, dtype=object)
    domains = np.empty(n, dtype=object)
    domains_new = np.empty(n, dtype=object)
    prefix = np.empty(n, dtype=object)
    for code, name in enumerate(COUNTRIES):
        mine = np.flatnonzero(country == code)
        first[mine] = rng.choice(people.first[name], size=mine.size)
        last[mine] = rng.choice(people.last[name], size=mine.size)
        street[mine] = rng.choice(people.street[name], size=mine.size)
        street_new[mine] = rng.choice(people.street[name], size=mine.size)
        domains[mine] = rng.choice(EMAIL_DOMAINS[name], size=mine.size)
        domains_new[mine] = rng.choice(EMAIL_DOMAINS[name], size=mine.size)
        prefix[mine] = catalog.COUNTRY_PHONE[name]
    slug = np.vectorize(ascii_slug, otypes=[object])
    first_slug, last_slug = _slugs(first, slug), _slugs(last, slug)
    number_last = np.isin(country, [COUNTRIES.index(c) for c in NUMBER_LAST])
    return {
        "first_name": first,
        "last_name": last,
        "email": _emails(rng, first_slug, last_slug, domains),
        "email_new": _emails(rng, first_slug, last_slug, domains_new),
        "phone": _phones(rng, prefix),
        "phone_new": _phones(rng, prefix),
        "address": _addresses(rng, street, number_last),
        "address_new": _addresses(rng, street_new, number_last),
    }


def _slugs(names: np.ndarray, slug) -> np.ndarray:
    """ASCII slugs computed once per distinct name (the pools are small)."""
    uniq, inverse = np.unique(names.astype(str), return_inverse=True)
    return slug(uniq)[inverse]


def _emails(rng, first_slug, last_slug, domains) -> np.ndarray:
    style = rng.integers(0, 3, size=first_slug.size)
    number = pc.cast(pa.array(rng.integers(1, 99, size=first_slug.size)), pa.string())
    initial = pc.utf8_slice_codeunits(pa.array(first_slug, pa.string()), 0, 1)
    local = pc.case_when(
        pc.make_struct(pa.array(style == 0), pa.array(style == 1)),
        pc.binary_join_element_wise(
            pa.array(first_slug, pa.string()), pa.array(last_slug, pa.string()), "."
        ),
        pc.binary_join_element_wise(initial, pa.array(last_slug, pa.string()), number, ""),
        pc.binary_join_element_wise(
            pa.array(last_slug, pa.string()), pa.array(first_slug, pa.string()), number, "_"
        ),
    )
    return pc.binary_join_element_wise(local, pa.array(domains, pa.string()), "@").to_numpy(
        zero_copy_only=False
    )


def _phones(rng, prefix) -> np.ndarray:
    mobile = pc.cast(pa.array(rng.integers(150, 180, size=prefix.size)), pa.string())
    line = pc.cast(pa.array(rng.integers(1_000_000, 9_999_999, size=prefix.size)), pa.string())
    return pc.binary_join_element_wise(pa.array(prefix, pa.string()), mobile, line, " ").to_numpy(
        zero_copy_only=False
    )


def _addresses(rng, street, number_last) -> np.ndarray:
    number = pc.cast(pa.array(rng.integers(1, 180, size=street.size)), pa.string())
    street = pa.array(street, pa.string())
    plain = pc.if_else(
        pa.array(number_last),
        pc.binary_join_element_wise(street, number, " "),
        pc.binary_join_element_wise(number, street, " "),
    )
    # Some addresses carry a flat number after a comma: ordinary rows that need CSV quoting.
    flat = pc.binary_join_element_wise(
        "Apt", pc.cast(pa.array(rng.integers(1, 40, street.__len__())), pa.string()), " "
    )
    with_flat = pc.binary_join_element_wise(plain, flat, ", ")
    return pc.if_else(pa.array(rng.random(len(street)) < 0.15), with_flat, plain).to_numpy(
        zero_copy_only=False
    )
