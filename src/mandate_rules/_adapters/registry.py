"""Finding adapters: every adapter, bundled or third-party, is an entry point in the group
``mandate_rules.adapters`` whose name is the adapter's name and whose object is its class.

Two distributions registering the same name is an error that names both, never a silent
choice of one.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata
from typing import Any, Protocol

import attrs

from .contract import Adapter
from .errors import RegistryError

__all__ = ["ENTRY_POINT_GROUP", "AdapterEntry", "available_adapters", "load_adapter_class"]

ENTRY_POINT_GROUP = "mandate_rules.adapters"


class _EntryPoint(Protocol):
    name: str
    value: str

    def load(self) -> Any: ...


@attrs.frozen
class AdapterEntry:
    """One registered adapter: its name, the entry point's target and the distribution."""

    name: str
    target: str
    distribution: str
    entry_point: Any = attrs.field(eq=False, repr=False)

    def load(self) -> type[Adapter]:
        try:
            loaded = self.entry_point.load()
        except Exception as exc:  # an import error of any kind in a third party's module
            raise RegistryError(f"adapter {self.name!r} ({self.target}, from "
                                f"{self.distribution}) failed to load: {exc}") from exc
        if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
            raise RegistryError(f"adapter {self.name!r} ({self.target}, from {self.distribution})"
                                f" is not a subclass of mandate_rules' Adapter")
        if getattr(loaded, "name", None) != self.name:
            raise RegistryError(f"adapter {self.target} (from {self.distribution}) is registered "
                                f"as {self.name!r} but calls itself "
                                f"{getattr(loaded, 'name', None)!r}")
        return loaded


def _distribution(entry_point: Any) -> str:
    dist = getattr(entry_point, "dist", None)
    return str(getattr(dist, "name", None) or "an unknown distribution")


def available_adapters(
        entry_points: Iterable[_EntryPoint] | None = None) -> dict[str, AdapterEntry]:
    """Every registered adapter by name; `RegistryError` when a name is registered twice."""
    if entry_points is None:
        entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    found: dict[str, AdapterEntry] = {}
    for entry_point in entry_points:
        entry = AdapterEntry(entry_point.name, entry_point.value, _distribution(entry_point),
                             entry_point)
        seen = found.get(entry.name)
        if seen is not None and (seen.target, seen.distribution) != (entry.target,
                                                                     entry.distribution):
            raise RegistryError(
                f"two adapters are registered as {entry.name!r}: {seen.target} from "
                f"{seen.distribution} and {entry.target} from {entry.distribution}; "
                f"uninstall one of the two distributions")
        found[entry.name] = entry
    return found


def load_adapter_class(name: str,
                       entry_points: Iterable[_EntryPoint] | None = None) -> type[Adapter]:
    """The adapter class registered as `name`."""
    adapters = available_adapters(entry_points)
    if name not in adapters:
        known = ", ".join(sorted(adapters)) or "none"
        raise RegistryError(f"no adapter named {name!r} is installed; installed: {known}")
    return adapters[name].load()
