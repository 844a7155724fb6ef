"""Small seeded pools built once per run: people's names, streets, companies, merchant strings.

Faker runs only here, a few thousand calls in all; rows are then drawn from these pools with
numpy. Faker's output depends on its version, so byte-identical runs assume the same Faker.
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass

import numpy as np
from faker import Faker

from lakehouse.generate import catalog
from lakehouse.generate._text import Stream, rng_for

NAMES_PER_LOCALE = 400
STREETS_PER_LOCALE = 300
VARIANTS_PER_TEMPLATE = 6
# Payment facilitators prefix small merchants' names on statements.
LOCAL_TEMPLATES = ("{NAME} {n}", "SUMUP *{NAME}", "ZTL*{NAME}", "{Name}")
LOCAL_KINDS = (
    ("groceries", ("Bäckerei {L}", "Metzgerei {L}", "Hofladen {L}", "Épicerie {L}")),
    ("dining", ("Café {L}", "Trattoria {L}", "Bistro {L}", "Restaurant {L}")),
    ("health", ("Praxis Dr. {L}", "Pharmacie {L}", "Physio {L}")),
    ("shopping", ("Boutique {L}", "Buchhandlung {L}", "Blumen {L}")),
    ("entertainment", ("Theater {L}", "Bowling {L}")),
)


@dataclass(frozen=True)
class People:
    """Name and street pools per country code."""

    first: dict[str, np.ndarray]
    last: dict[str, np.ndarray]
    street: dict[str, np.ndarray]


@dataclass(frozen=True)
class Merchants:
    """Canonical merchants and the raw statement strings that stand for each one."""

    name: np.ndarray  # canonical name per merchant
    category: np.ndarray  # category per merchant
    raw: np.ndarray  # raw statement string per variant
    raw_merchant: np.ndarray  # merchant index per raw variant
    raw_start: np.ndarray  # first raw variant per merchant
    raw_count: np.ndarray  # number of raw variants per merchant

    def in_category(self, category: str) -> np.ndarray:
        return np.flatnonzero(self.category == category)

    def by_name(self, name: str, category: str) -> int:
        hits = np.flatnonzero((self.name == name) & (self.category == category))
        return int(hits[0])


def ascii_slug(text: str) -> str:
    """Lower-case ASCII letters only (for e-mail local parts)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalpha()) or "user"


def build_people(seed: int) -> People:
    first, last, street = {}, {}, {}
    for offset, (country, locale) in enumerate(sorted(catalog.COUNTRY_LOCALE.items())):
        fake = Faker(locale)
        fake.seed_instance(seed * 100 + offset)
        first[country] = np.array([fake.first_name() for _ in range(NAMES_PER_LOCALE)])
        last[country] = np.array([fake.last_name() for _ in range(NAMES_PER_LOCALE)])
        street[country] = np.array([fake.street_name() for _ in range(STREETS_PER_LOCALE)])
    return People(first=first, last=last, street=street)


def company_names(seed: int, count: int, *, salt: int) -> list[str]:
    fake = Faker(["de_DE", "fr_FR", "nl_NL", "en_IE"])
    fake.seed_instance(seed * 100 + 50 + salt)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        # Quotes would make an ordinary row look like a bad-quoting defect.
        name = fake.company().replace('"', "").replace("\n", " ")
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _fill(template: str, name: str, rng: np.random.Generator) -> list[str]:
    if "{code}" not in template and "{n}" not in template:
        return [template.format(NAME=name.upper(), Name=name)]
    alphabet = np.array(list(string.ascii_uppercase + string.digits))
    out = []
    for _ in range(VARIANTS_PER_TEMPLATE):
        code = "".join(rng.choice(alphabet, size=int(rng.integers(3, 7))))
        number = str(int(rng.integers(10, 9999)))
        out.append(template.format(code=code, n=number, NAME=name.upper(), Name=name))
    return list(dict.fromkeys(out))


def build_merchants(
    seed: int, *, employers: list[str], landlords: list[str], local: int
) -> Merchants:
    rng = rng_for(seed, Stream.POOLS, 1)
    entries: list[tuple[str, str, tuple[str, ...]]] = list(catalog.MERCHANTS)
    fake = Faker(["de_DE", "fr_FR", "it_IT"])
    fake.seed_instance(seed * 100 + 99)
    taken = {entry[0] for entry in entries}
    while len(entries) < len(catalog.MERCHANTS) + local:
        category, patterns = LOCAL_KINDS[len(entries) % len(LOCAL_KINDS)]
        name = patterns[int(rng.integers(len(patterns)))].format(L=fake.last_name())
        if name not in taken:
            taken.add(name)
            entries.append((name, category, LOCAL_TEMPLATES))
    entries += [
        (e, "salary", ("SALARY {NAME}", "{NAME} PAYROLL", "GEHALT {Name}")) for e in employers
    ]
    entries += [(o, "rent", ("RENT {NAME}", "MIETE {Name}", "{Name} rent")) for o in landlords]
    names, categories, raws, raw_merchant = [], [], [], []
    seen: set[str] = set()
    for index, (name, category, templates) in enumerate(entries):
        names.append(name)
        categories.append(category)
        for template in templates:
            for raw in _fill(template, name, rng):
                # One raw string maps to one canonical merchant: the first owner keeps it.
                if raw not in seen:
                    seen.add(raw)
                    raws.append(raw)
                    raw_merchant.append(index)
    raw_merchant_arr = np.array(raw_merchant)
    counts = np.bincount(raw_merchant_arr, minlength=len(names))
    return Merchants(
        name=np.array(names),
        category=np.array(categories),
        raw=np.array(raws),
        raw_merchant=raw_merchant_arr,
        raw_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        raw_count=counts,
    )


def pick_raw(merchants: Merchants, merchant: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A raw statement string (index into merchants.raw) for each merchant index."""
    start = merchants.raw_start[merchant]
    return start + (rng.random(merchant.size) * merchants.raw_count[merchant]).astype(np.int64)
