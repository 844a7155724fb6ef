"""Feature store declarations fail when declared, with a message naming the object."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from feature_store import Entity, Feature, FeatureView, OnDemandFeatureView, Registry, Source
from lakehouse.errors import FeatureDefinitionError
from schemas.transactions import SILVER_TRANSACTIONS

pytestmark = pytest.mark.unit

CUSTOMER = Entity(name="customer", join_key="customer_id")
TXNS = Source(table=SILVER_TRANSACTIONS, event_time="txn_ts", date_column="txn_date")


def _transform(rows, *, as_of):
    return rows


def view(**changes) -> FeatureView:
    options = {
        "name": "spend",
        "entity": CUSTOMER,
        "source": TXNS,
        "inputs": ("customer_id", "amount"),
        "transform": _transform,
        "features": (Feature("spend_30d", "double"),),
        "ttl": dt.timedelta(days=2),
        "owner": "growth-data",
        "description": "spend",
        **changes,
    }
    return FeatureView(**options)


def test_a_valid_view_lists_its_features_and_tables():
    spend = view()
    assert (spend.feature_names, spend.offline_table, spend.online_table) == (
        ("spend_30d",),
        "features.spend",
        "features.spend_online",
    )


def test_a_view_reading_an_unknown_column_is_refused():
    with pytest.raises(FeatureDefinitionError, match=r"spend: column\(s\) \['amount_eur'\] not in"):
        view(inputs=("customer_id", "amount_eur"))


def test_a_view_whose_entity_key_is_not_in_the_source_is_refused():
    account = Entity(name="account", join_key="account_number")
    with pytest.raises(FeatureDefinitionError, match="account_number"):
        view(entity=account)


def test_a_feature_declared_twice_in_a_view_is_refused():
    twice = (Feature("spend_30d", "double"), Feature("spend_30d", "long"))
    with pytest.raises(FeatureDefinitionError, match="'spend_30d' is declared twice"):
        view(features=twice)


def test_a_view_without_ttl_is_refused():
    with pytest.raises(FeatureDefinitionError, match="spend: ttl is missing"):
        view(ttl=None)


def test_a_zero_ttl_is_refused():
    with pytest.raises(FeatureDefinitionError, match="positive timedelta"):
        view(ttl=dt.timedelta(0))


def test_an_unknown_feature_type_is_refused():
    with pytest.raises(FeatureDefinitionError, match="has type 'float64'"):
        view(features=(Feature("spend_30d", "float64"),))


def test_a_feature_named_like_the_stamp_columns_is_refused():
    with pytest.raises(FeatureDefinitionError, match="'feature_ts' is reserved"):
        view(features=(Feature("feature_ts", "timestamp"),))


def test_a_source_whose_event_time_is_not_a_timestamp_is_refused():
    with pytest.raises(FeatureDefinitionError, match="event_time 'txn_date' must be a timestamp"):
        Source(table=SILVER_TRANSACTIONS, event_time="txn_date")


def test_a_source_date_column_must_be_a_date_partition():
    with pytest.raises(FeatureDefinitionError, match="date_column 'txn_ts'"):
        Source(table=SILVER_TRANSACTIONS, event_time="txn_ts", date_column="txn_ts")


def test_the_same_feature_in_two_views_is_refused_by_the_registry():
    other = view(name="spend_again")
    with pytest.raises(FeatureDefinitionError, match="declared by both spend and spend_again"):
        Registry(entities=[CUSTOMER], views=[view(), other])


def test_a_view_of_an_unregistered_entity_is_refused_by_the_registry():
    with pytest.raises(FeatureDefinitionError, match="entity 'customer' is not registered"):
        Registry(entities=[], views=[view()])


def test_an_unknown_view_name_lists_the_known_ones():
    registry = Registry(entities=[CUSTOMER], views=[view()])
    with pytest.raises(
        FeatureDefinitionError, match=r"no feature view 'spending'; known: \['spend'\]"
    ):
        registry.view("spending")


def test_an_on_demand_view_reading_an_unknown_input_is_refused():
    with pytest.raises(FeatureDefinitionError, match=r"input\(s\) \['spend_90d'\]"):
        OnDemandFeatureView(
            name="risk",
            sources=(view(),),
            request=(Feature("amount", "double"),),
            inputs=("amount", "spend_90d"),
            features=(Feature("ratio", "double"),),
            transform=lambda rows, resources: rows,
            owner="fraud-data",
            description="risk",
        )


def test_the_repository_registers_every_view_of_the_docs():
    from feature_store.repo import REGISTRY

    documented = _documented_views()
    assert sorted(REGISTRY.views) == sorted(documented)


def test_every_declared_feature_is_documented():
    from feature_store.repo import REGISTRY

    documented = _documented_names()
    missing = [
        f"{v.name}.{name}"
        for v in REGISTRY.views.values()
        for name in v.feature_names
        if name not in documented
    ]
    assert missing == []


def test_views_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        view().ttl = dt.timedelta(days=9)  # type: ignore[misc]


def _docs() -> str:
    from pathlib import Path

    return (Path(__file__).parents[2] / "docs" / "features.md").read_text()


def _documented_views() -> list[str]:
    return [
        line.split()[1] for line in _docs().splitlines() if line.startswith("## ") and "(" in line
    ]


def _documented_names() -> set[str]:
    """Backticked names in the docs, with `{N}` (window) and `{C}` (category) expanded."""
    import re

    from feature_store.transforms import SPEND_CATEGORIES

    names = set()
    for name in re.findall(r"`([a-z_{}A-Z0-9]+)`", _docs()):
        expanded = [name.replace("{N}", str(n)) for n in (7, 30, 90)] if "{N}" in name else [name]
        names |= {e.replace("{C}", c) for e in expanded for c in SPEND_CATEGORIES}
    return names
