"""Adapters are found through the entry-point group, the bundled ones like any other."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from mandate_rules_adapters.kobotoolbox import KoboAdapter

from mandate_rules._adapters import (
    ENTRY_POINT_GROUP,
    RegistryError,
    available_adapters,
    load_adapter_class,
)


@attrs.frozen
class _Dist:
    name: str


@attrs.frozen
class _EntryPoint:
    name: str
    value: str
    dist: _Dist
    target: Any = None

    def load(self) -> Any:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


def test_bundled_adapters_are_registered_as_entry_points() -> None:
    found = available_adapters()
    assert ENTRY_POINT_GROUP == "mandate_rules.adapters"
    assert {"kobotoolbox", "primero", "commcare"} <= set(found)
    for name in ("kobotoolbox", "primero", "commcare"):
        assert found[name].distribution == "mandate-rules"
        assert found[name].target.startswith("mandate_rules_adapters.")
        assert load_adapter_class(name).name == name


def test_a_duplicate_name_names_both_distributions() -> None:
    points = [_EntryPoint("kobotoolbox", "mandate_rules_adapters.kobotoolbox:KoboAdapter",
                          _Dist("mandate-rules"), KoboAdapter),
              _EntryPoint("kobotoolbox", "acme_kobo:Adapter", _Dist("acme-kobo"), KoboAdapter)]
    with pytest.raises(RegistryError) as caught:
        available_adapters(points)
    text = str(caught.value)
    assert "mandate-rules" in text
    assert "acme-kobo" in text
    assert "'kobotoolbox'" in text


def test_unknown_adapter_lists_the_installed_ones() -> None:
    with pytest.raises(RegistryError, match=r"no adapter named 'dhis2'.*commcare, kobotoolbox"):
        load_adapter_class("dhis2")


@pytest.mark.parametrize(("target", "message"), [
    (ImportError("No module named 'acme'"), "failed to load: No module named 'acme'"),
    (dict, "not a subclass"),
    (KoboAdapter, "calls itself 'kobotoolbox'"),
])
def test_broken_third_party_entry_points(target: Any, message: str) -> None:
    point = _EntryPoint("acme", "acme:Adapter", _Dist("acme-adapter"), target)
    with pytest.raises(RegistryError, match=message) as caught:
        load_adapter_class("acme", [point])
    assert "acme-adapter" in str(caught.value)
