"""Helpers for tests: the repository's rule packs, and builders of events and rule packs."""

from __future__ import annotations

import ast
import itertools
import textwrap
from pathlib import Path
from typing import Any

from mandate_rules import Event

ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"

BUNDLE_YAML = textwrap.dedent("""\
    bundle: test bundle
    version: 0.0.1
    sets:
      MILITARY: [mission_military, foreign_military, national_military]
      HUMANITARIAN: [un_agency, ingo, nngo, rcrc, ocha]
    uplift:
      because: the mission is seen as a party here
      when:
        - context.mission.party_to_conflict in [yes, perceived]
    """)

def imported_modules(path: Path) -> list[str]:
    """The modules `path` imports, written as they are (relative ones keep their dots)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append(base)
            found += [f"{base}.{alias.name}" if node.module else f"{base}{alias.name}"
                      for alias in node.names]
    return found


_ids = itertools.count(1)


def next_id() -> int:
    return next(_ids)


def make_event(type_: str = "escort.request", *, time: str = "2026-11-01T08:00:00Z",
               country: str = "SOM", data: dict[str, Any] | None = None,
               org: dict[str, str] | None = None, **envelope: Any) -> Event:
    """A valid CloudEvent of `type_`; `data` is merged over an org unless the type has none."""
    body: dict[str, Any] = {}
    if type_ not in ("clock.tick", "context.update"):
        body["org"] = org or {"id": "org-1", "kind": "ingo"}
    body.update(data or {})
    obj: dict[str, Any] = {"specversion": "1.0", "id": envelope.pop("id", f"ev-{next(_ids)}"),
                           "source": envelope.pop("source", "test://events"), "type": type_,
                           "time": time, "country": country, **envelope}
    if type_ != "clock.tick":
        obj["data"] = body
    return Event.from_json(obj)


def rule_yaml(rule_id: str, on: str, when: list[str], *, severity: str = "warning",
              extra: str = "") -> str:
    """One rule as pack text, with the required keys filled in."""
    conditions = "\n".join(f"      - {c!r}" if "'" not in c else f'      - "{c}"' for c in when)
    return (f"  - id: {rule_id}\n    title: test rule {rule_id}\n    on: [{on}]\n"
            f"    when:\n{conditions}\n    severity: {severity}\n"
            f"    advice: advice of {rule_id}\n    actions: [act]\n"
            f"    references: [{{source: test source, checked: U}}]\n{extra}")


def pack(*rules: str, name: str = "test") -> str:
    return f"pack: {name}\nversion: 0.0.1\nrules:\n" + "".join(rules)
