"""Small rule packs for the sidecar's tests, and builders of the events they react to.

The repository's packs change as policy staff work on them; these stay put, so each test
knows exactly which advisory an event must raise.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

from ..helpers import BUNDLE_YAML

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)

_RULE_TAIL = """\
    advice: advice of {id}
    actions: [act]
    references: [{{source: test source, checked: U}}]
"""

ARMED = """\
  - id: STL-001
    title: armed escort
    on: [escort.request]
    when: [armed is true]
    severity: {severity}
""" + _RULE_TAIL.format(id="STL-001")

UNARMED = """\
  - id: STL-002
    title: unarmed escort
    on: [escort.request]
    when: [armed is false]
    severity: info
""" + _RULE_TAIL.format(id="STL-002")

FLIGHTS = """\
  - id: CNT-001
    title: repeated mission flights
    severity: advice
""" + _RULE_TAIL.format(id="CNT-001") + """\
    triggers:
      - name: repeated
        on: [asset.request]
        when: [asset.owner_kind == mission_military]
        count:
          by: [org.id]
          within: 30 days
          levels: {advice: 3}
"""

DEBRIEF = """\
  - id: ABS-001
    title: no debrief
    severity: warning
""" + _RULE_TAIL.format(id="ABS-001") + """\
    triggers:
      - name: no-debrief
        on: [movement.request]
        when: [status == completed, debrief.submitted_at is missing]
        absence:
          by: [entity_id]
          within: 72 hours
          until:
            on: [movement.request]
            when: [debrief.submitted_at is present]
"""

URGENT = """\
  - id: NUM-001
    title: needed within a day
    on: [asset.request]
    when: [needed_within_h < 24]
    severity: info
""" + _RULE_TAIL.format(id="NUM-001")

BROKEN = """\
  - id: BRK-001
    title: a rule naming a field that does not exist
    on: [escort.request]
    when: [armedd is true]
    severity: warning
""" + _RULE_TAIL.format(id="BRK-001")


def armed(severity: str) -> str:
    return ARMED.replace("{severity}", severity)


def pack_text(*rules: str, version: str = "0.0.1") -> str:
    return f"pack: service-test\nversion: {version}\nrules:\n" + "".join(rules)


def write_rules(root: Path, *rules: str, version: str = "0.0.1") -> Path:
    """A rules directory: the test bundle and one pack with `rules` (rewritten in place)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "bundle.yaml").write_text(BUNDLE_YAML.replace("version: 0.0.1",
                                                          f"version: {version}"))
    (root / "pack.yaml").write_text(pack_text(*rules, version=version))
    return root


def v1_rules(root: Path) -> Path:
    return write_rules(root, armed("warning"), FLIGHTS, DEBRIEF, URGENT, version="1.0.0")


def v2_rules(root: Path) -> Path:
    """The candidate of v1: STL-001 now critical, STL-002 new, CNT-001 gone."""
    return write_rules(root, armed("critical"), UNARMED, DEBRIEF, version="2.0.0")


_ids = itertools.count(1)


def at(days: float = 0, hours: float = 0, *, base: dt.datetime = T0) -> str:
    return (base + dt.timedelta(days=days, hours=hours)).isoformat().replace("+00:00", "Z")


def event(type_: str, data: dict[str, Any], *, time: str | None = None, country: str = "SOM",
          org: str = "org-1", **envelope: Any) -> dict[str, Any]:
    body = {"org": {"id": org, "kind": "ingo"}, **data}
    return {"specversion": "1.0", "id": envelope.pop("id", f"ev-{next(_ids)}"),
            "source": envelope.pop("source", "test://service"), "type": type_,
            "time": time or at(), "country": country, "data": body, **envelope}


def escort(armed: bool = True, **kwargs: Any) -> dict[str, Any]:
    return event("escort.request", {"armed": armed}, **kwargs)


def flight(**kwargs: Any) -> dict[str, Any]:
    return event("asset.request", {"asset": {"owner_kind": "mission_military"}}, **kwargs)


def completed_movement(entity: str, **kwargs: Any) -> dict[str, Any]:
    return event("movement.request", {"entity_id": entity, "status": "completed"}, **kwargs)


def debrief(entity: str, **kwargs: Any) -> dict[str, Any]:
    return event("movement.request", {"entity_id": entity, "status": "completed",
                                      "debrief": {"submitted_at": kwargs.get("time") or at()}},
                 **kwargs)


def rule_ids(result: dict[str, Any]) -> list[str]:
    return sorted(a["rule_id"] for a in result["advisories"])
