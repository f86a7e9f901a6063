"""Context profiles: what is known about an operation, country-wide with area overrides.

A profile's values follow the `context:` fields of ``event_types.yaml`` (listed in
docs/event-fields.md).
The engine resolves one flat view per event (country values, then the event's area on
top, then any ``context.update`` received at run time) before a rule sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ._content import freeze, thaw


@attrs.frozen
class ContextProfile:
    """The profile of one operation (`country`, ISO 3166-1 alpha-3)."""

    country: str
    version: str
    name: str = ""
    values: Mapping[str, Any] = attrs.field(factory=dict, converter=freeze)
    areas: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict, converter=freeze)
    known: bool = True

    @classmethod
    def unknown(cls, country: str) -> ContextProfile:
        """The default for an operation with no profile: nothing known, so no uplift."""
        return cls(country=country, version="unknown", name="", known=False)

    def resolve(self, area: str | None) -> dict[str, Any]:
        """The values that hold in `area` (the country's, with the area's on top)."""
        merged: dict[str, Any] = thaw(self.values)
        if area is not None and area in self.areas:
            deep_merge(merged, thaw(self.areas[area]))
        return merged

    def to_json(self) -> dict[str, Any]:
        return {"country": self.country, "version": self.version, "name": self.name,
                "profile": thaw(self.values), "areas": thaw(self.areas)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ContextProfile:
        return cls(country=obj["country"], version=str(obj["version"]), name=obj.get("name", ""),
                   values=obj.get("profile") or {}, areas=obj.get("areas") or {})


def deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `top` into `base` in place: objects merge key by key, anything else replaces."""
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = thaw(value)
    return base
