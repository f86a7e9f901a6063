"""The operation's context for one event: a country's profile, its area and its updates.

`ContextResolver` is the part of the Engine that resolves the context a condition reads as
`context.*`: the bundle's profile (or an unknown one), the area's values, the overlays that
`context.update` events left, cached per area and cut to what an event type's rules read.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ._context import ContextProfile, deep_merge
from ._document import context_part_of
from ._models import Event
from ._rules import Bundle
from ._schema import load_schema
from ._state import CountryState

_CONTEXT_CACHE_SIZE = 1024  # resolved (area -> values) per operation


class ContextResolver:
    """Resolves and caches the context of an operation (a mixin of the Engine)."""

    _bundle: Bundle
    _unknown: dict[str, ContextProfile]

    @staticmethod
    def _context_part(state: CountryState | None, event: Event, context: dict[str, Any],
                      tree: Mapping[str, Any], update: object,
                      replaying: bool) -> dict[str, Any]:
        """The context cut to what the event type's rules read, cached per area and type
        (and apart for `replay`, whose rules read less)."""
        if state is None or update is not None:
            return context_part_of(context, tree)
        key = (event.area, event.type, replaying)
        part = state.context_parts.get(key)
        if part is None:
            if len(state.context_parts) >= _CONTEXT_CACHE_SIZE:
                state.context_parts.clear()
            part = state.context_parts[key] = context_part_of(context, tree)
        return part

    def _context(self, country: str, area: str | None, state: CountryState | None,
                 update: tuple[str | None, dict[str, Any]] | None = None,
                 ) -> tuple[ContextProfile, dict[str, Any]]:
        profile = self._bundle.contexts.get(country)
        if profile is None:
            # At most one per country code (three capital letters), so this stays small.
            profile = self._unknown.get(country)
            if profile is None:
                profile = self._unknown[country] = ContextProfile.unknown(country)
        cached = state.context_cache.get(area) if state is not None else None
        if cached is None:
            cached = profile.resolve(area)
            if state is not None:
                deep_merge(cached, state.context_overlay)
                if area is not None and area in state.area_overlays:
                    deep_merge(cached, state.area_overlays[area])
                if len(state.context_cache) >= _CONTEXT_CACHE_SIZE:
                    state.context_cache.clear()
                state.context_cache[area] = cached
        if update is not None and (update[0] is None or update[0] == area):
            cached = deep_merge(copy.deepcopy(cached), update[1])
        # The resolved values are shared between calls: everything downstream only reads them.
        return profile, cached


def context_update(event: Event) -> tuple[str | None, dict[str, Any]]:
    """The area a ``context.update`` applies to (None: the whole country) and its values."""
    data = event._plain
    fields = load_schema().context_tree
    return data.get("area_scope"), {k: v for k, v in data.items() if k in fields}


def context_version(profile: ContextProfile, state: CountryState) -> str | None:
    if not profile.known and state.context_update is None:
        return None
    if state.context_update is not None:
        return f"{profile.version}+update:{state.context_update}"
    return profile.version
