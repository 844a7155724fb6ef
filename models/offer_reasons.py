"""The plain-language reason of a next-best offer: the two features that raise the customer's
propensity for the product the most, described with the customer's own values.

    reason_text("CREDIT_CARD", "logistic", contributions, standardized, names, row, rules)
    -> "credit card: a regular income of EUR 3,200 a month and travel is 24% of spending"

``contributions`` are the product model's coefficient x the customer's standardized value per
feature (its share of the log-odds); only positive ones are reasons, and among them first
those where the customer is above the average.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.snapshots import CREDIT_BANDS, INCOME_BANDS

__all__ = ["describe", "reason_text"]

REASONS = 2
POPULAR = "among the products customers like this one open most often"


def reason_text(
    code: str,
    kind: str,
    contributions: np.ndarray,
    standardized: np.ndarray,
    names: Sequence[str],
    row: pd.Series,
    rules,
) -> str:
    """ "<product name>: <reason> and <reason>" (see the module docstring)."""
    product = rules.products[code].name
    order = np.argsort(-contributions, kind="stable")
    helping = [i for i in order if contributions[i] > 0]
    # What the customer has more of than most reads as a reason ("travel is 24% of
    # spending"); what they lack ("electronics is 0%") only when nothing else helps.
    above = [i for i in helping if standardized[i] > 0]
    picked = (above or helping)[:REASONS]
    if kind != "logistic" or not picked:
        return f"{product}: {POPULAR}"
    return f"{product}: " + " and ".join(describe(names[i], row, rules) for i in picked)


def describe(name: str, row: pd.Series, rules) -> str:
    """One feature of ``row`` in words."""
    value = row.get(name)
    if name.startswith("share_") and name.endswith(("_30d", "_90d")):
        category = name.removeprefix("share_")[:-4]
        window = "" if name.endswith("_30d") else " over 90 days"
        return f"{category} is {_number(value):.0%} of spending{window}"
    if name.startswith("held_"):
        product = rules.products.get(name.removeprefix("held_"))
        label = product.name if product else name.removeprefix("held_").lower()
        return f"holds a {label}" if _number(value) > 0 else f"has no {label}"
    describe_one = _DESCRIPTIONS.get(name)
    if describe_one is None:
        return name.replace("_", " ")
    return describe_one(row)


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if np.isfinite(number) else 0.0


def _income(row: pd.Series) -> str:
    monthly = _number(row.get("monthly_income"))
    if monthly <= 0:
        return "no regular income detected"
    return f"a regular income of EUR {monthly:,.0f} a month"


def _net_flow(row: pd.Series) -> str:
    net = _number(row.get("net_flow_30d"))
    if net >= 0:
        return f"EUR {net:,.0f} more came in than went out over 30 days"
    return f"EUR {-net:,.0f} more went out than came in over 30 days"


def _band(row: pd.Series, name: str, bands: Sequence[str], label: str) -> str:
    value = row.get(name)
    if value is None or not np.isfinite(_number(value)) or pd.isna(value):
        return f"no {label} on file"
    return f"{label} {bands[int(value)]}"


def _tenure(row: pd.Series) -> str:
    years = _number(row.get("tenure_years"))
    return "a customer for less than a year" if years < 1 else f"a customer for {years:.0f} years"


def _age(row: pd.Series) -> str:
    age = row.get("age")
    return "age unknown" if age is None or pd.isna(age) else f"aged {float(age):.0f}"


_DESCRIPTIONS = {
    "log_income": _income,
    "log_spend_30d": lambda r: f"spends EUR {_number(r.get('spend_30d')):,.0f} a month",
    "log_txn_30d": lambda r: (
        f"{np.expm1(_number(r.get('log_txn_30d'))):.0f} transactions in the last 30 days"
    ),
    "log_net_flow_30d": _net_flow,
    "age": _age,
    "credit_band": lambda r: _band(r, "credit_band", CREDIT_BANDS, "credit score band"),
    "income_band": lambda r: _band(r, "income_band", INCOME_BANDS, "income band"),
    "tenure_years": _tenure,
}
