"""Context profiles: the per-country (and per-area) values conditions read as `context.*`.

`ContextReader` reads `contexts/<ISO3>.yaml` beside the packs (or a directory named on its
own) and checks each value against the schema's context fields.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path as FsPath
from typing import Any

from ._context import ContextProfile
from ._packreader import PackReader
from ._problems import suggestion
from ._schema import _validate_tree
from ._yamlsrc import key_line, plain

CONTEXTS_DIR = "contexts"
_COUNTRY_RE = re.compile(r"^[A-Z]{3}$")


class ContextReader(PackReader):
    """Reads and checks the context profiles of a bundle."""

    def load_contexts(self, ctx_dir: FsPath) -> dict[str, ContextProfile]:
        profiles: dict[str, ContextProfile] = {}
        if not ctx_dir.is_dir():
            return profiles
        # The profiles beside the packs must stay inside the rules directory; a contexts
        # directory named on its own is trusted as named.
        home = self.root if ctx_dir == self.root / CONTEXTS_DIR else ctx_dir
        for path in sorted(ctx_dir.glob("*.yaml")):
            doc = self.read(path, home, "a context profile (a mapping with 'country', "
                            "'version' and 'profile')")
            if doc is None:
                continue
            if not isinstance(doc, dict):
                self.problem(1, "bad-context", "a context profile should be a mapping")
                continue
            self.unknown_keys(doc, ("country", "version", "name", "profile", "areas"), 1,
                              "a context profile")
            country = str(doc.get("country") or "")
            if not _COUNTRY_RE.match(country):
                self.problem(key_line(doc, "country", 1), "bad-context",
                             f"'country' should be an ISO 3166-1 alpha-3 code, got {country!r}")
                continue
            if path.stem != country:
                self.problem(key_line(doc, "country", 1), "bad-context",
                             f"the profile of {country} should be in {country}.yaml")
            if country in profiles:
                self.problem(1, "duplicate-context", f"a second profile for {country}")
                continue
            version = doc.get("version")
            if version is None:
                self.problem(1, "missing-version", "the profile has no 'version'")
                continue
            if isinstance(version, (dt.date, dt.datetime)):
                version = version.isoformat()
            values = doc.get("profile") or {}
            self.check_context(values, key_line(doc, "profile", 1), "profile")
            areas = doc.get("areas") or {}
            if not isinstance(areas, dict):
                self.problem(key_line(doc, "areas", 1), "bad-context",
                             "'areas' should map p-codes to values")
                areas = {}
            for area, area_values in areas.items():
                self.check_context(area_values, key_line(areas, area, 1), f"areas.{area}")
            profiles[country] = ContextProfile(country=country, version=str(version),
                                               name=str(doc.get("name") or ""),
                                               values=plain(values), areas=plain(areas))
        return profiles

    def check_context(self, values: Any, line: int, where: str) -> None:
        if not isinstance(values, dict):
            self.problem(line, "bad-context", f"{where} should be a mapping of context fields")
            return
        found: list[tuple[str, str]] = []
        _validate_tree(self.schema.context_tree, plain(values), where, found)
        for path, message in found:
            self.problem(line, "bad-context-value", f"{path}: {message}")
        known = self.schema.context_tree
        self._unknown_context(values, known, line, where)

    def _unknown_context(self, values: Any, known: Mapping[str, Any], line: int,
                         where: str) -> None:
        for key, value in values.items():
            k_line = key_line(values, key, line)
            if key not in known:
                self.problem(k_line, "unknown-field", f"{where}.{key} is not a context field"
                             f"{suggestion(str(key), known)}")
            elif isinstance(known[key], Mapping) and isinstance(value, dict):
                self._unknown_context(value, known[key], k_line, f"{where}.{key}")


