"""The registry: every declared view, checked together (names and features unique)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from feature_store.core import Entity, FeatureView, OnDemandFeatureView
from lakehouse.errors import FeatureDefinitionError

__all__ = ["AnyView", "Registry"]

AnyView = FeatureView | OnDemandFeatureView


class Registry:
    """A set of entities and views; feature names are unique across all views, so a training
    set's columns say unambiguously where each value came from."""

    def __init__(self, *, entities: Iterable[Entity], views: Iterable[AnyView]) -> None:
        self.entities = {e.name: e for e in entities}
        self.views: dict[str, AnyView] = {}
        owners: dict[str, str] = {}
        for view in views:
            if view.name in self.views:
                raise FeatureDefinitionError(f"feature view {view.name!r} is registered twice")
            for source in getattr(view, "sources", ()):
                if source.name not in self.views:
                    raise FeatureDefinitionError(
                        f"on-demand feature view {view.name}: register {source.name} before it"
                    )
            entity = getattr(view, "entity", None)
            if entity is not None and self.entities.get(entity.name) != entity:
                raise FeatureDefinitionError(
                    f"feature view {view.name}: entity {entity.name!r} is not registered"
                )
            for name in view.feature_names:
                if name in owners:
                    raise FeatureDefinitionError(
                        f"feature {name!r} is declared by both {owners[name]} and {view.name}; "
                        "feature names must be unique across views: rename one"
                    )
                owners[name] = view.name
            self.views[view.name] = view

    def view(self, name: str) -> AnyView:
        try:
            return self.views[name]
        except KeyError:
            raise FeatureDefinitionError(
                f"no feature view {name!r}; known: {sorted(self.views)}"
            ) from None

    def resolve(self, names: Sequence[str | AnyView] | None = None) -> list[AnyView]:
        """The views named (all when None), each given once, in registration order."""
        if names is None:
            return list(self.views.values())
        wanted = {n if isinstance(n, str) else n.name for n in names}
        for name in wanted:
            self.view(name)
        return [v for n, v in self.views.items() if n in wanted]

    def materialized_views(self, names: Sequence[str] | None = None) -> list[FeatureView]:
        """The stored views among ``names`` (on-demand views are computed, not stored)."""
        return [v for v in self.resolve(names) if isinstance(v, FeatureView)]
