"""Each condition operator, decided by durable_rules, against what the rule format promises.

One engine holds one rule per condition; each event is evaluated once and the set of rules
that fire is compared with the expected truth of every condition for that event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mandate_rules import Engine, EventValidationError

from .helpers import BUNDLE_YAML, make_event, pack, rule_yaml

CONDITIONS = {
    "eq": "decision.status == approved",
    "neq": "decision.status != approved",
    "true": "armed is true",
    "false": "armed is false",
    "not_true": "terms.interspersed is not true",
    "lt": "terms.separation_m < 100",
    "lte": "terms.separation_m <= 100",
    "gt": "compensation.amount > 10.5",
    "gte": "compensation.amount >= 10.5",
    "in": "provider.kind in [nsag, militia]",
    "in_set": "provider.kind in MILITARY",
    "not_in": "provider.kind not in MILITARY",
    "contains": "alternatives_considered contains route_change",
    "lacks": "alternatives_considered lacks acceptance_negotiation",
    "present": "criteria.sra_ref is present",
    "missing": "criteria.sra_ref is missing",
    "field_lt_context": "terms.separation_m < context.country_guidance.min_escort_separation_m",
    "time_shift": "review.date > data.decision.date + 30 days",
    "time_event": "decision.date < event.time",
    "envelope": "event.area == SO-BN",
    "context": "context.mission.party_to_conflict in [yes, perceived]",
}
GROUPS = {
    "any_of": "      - any of:\n          - criteria.sra_ref is missing\n"
              "          - criteria.humanitarian_need is missing\n",
    "none_of": "      - none of:\n          - decision.status == withdrawn\n"
               "          - decision.status == rejected\n",
}
SOM = """\
country: SOM
version: "1"
profile:
  mission: {party_to_conflict: "no"}
  country_guidance: {min_escort_separation_m: 100}
areas:
  SO-BN:
    mission: {party_to_conflict: "yes"}
"""


def _names() -> list[str]:
    return [*CONDITIONS, *GROUPS, "any_item", "any_item_ref"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    rules = []
    for index, name in enumerate(_names(), start=1):
        rule_id = f"TST-{index:03d}"
        if name in CONDITIONS:
            rules.append(rule_yaml(rule_id, "escort.request", [CONDITIONS[name]]))
        elif name in GROUPS:
            body = rule_yaml(rule_id, "escort.request", ["armed is true"])
            rules.append(body.replace("      - 'armed is true'\n", GROUPS[name]))
    root = tmp_path_factory.mktemp("ops")
    (root / "bundle.yaml").write_text(BUNDLE_YAML)
    (root / "ops.yaml").write_text(pack(*rules))
    movement = [
        rule_yaml("VEH-001", "movement.request",
                  ["any vehicles where owner_kind in HUMANITARIAN and markings in "
                   "[unmarked, military]"]),
        rule_yaml("VEH-002", "movement.request",
                  ["any vehicles where id == data.escort.request_id"]),
    ]
    (root / "moves.yaml").write_text(pack(*movement, name="moves"))
    (root / "contexts").mkdir()
    (root / "contexts" / "SOM.yaml").write_text(SOM)
    return Engine.from_directory(root)


def fired(engine: Engine, type_: str = "escort.request", **kwargs: Any) -> set[str]:
    rule_names = {r.id: r for r in engine.rules}
    advisories = engine.evaluate(make_event(type_, **kwargs))
    by_rule = {a.rule_id for a in advisories}
    names = _names()
    out = set()
    for rule_id in by_rule:
        index = int(rule_id.split("-")[1])
        if rule_id.startswith("VEH"):
            out.add("any_item" if index == 1 else "any_item_ref")
        else:
            out.add(names[index - 1])
    assert set(rule_names) >= by_rule
    return out


FULL = {
    "armed": True,
    "decision": {"status": "approved", "date": "2026-10-01T00:00:00Z"},
    "terms": {"separation_m": 50, "interspersed": False},
    "compensation": {"amount": 10.5},
    "provider": {"kind": "nsag"},
    "alternatives_considered": ["route_change"],
    "criteria": {"sra_ref": "SRA-1", "humanitarian_need": "food"},
    "review": {"date": "2026-11-15T00:00:00Z"},
}


@pytest.mark.parametrize(
    ("data", "area", "expected"),
    [
        (FULL, "SO-BN", {"eq", "true", "not_true", "lt", "lte", "gte", "in", "not_in",
                         "contains", "lacks", "present", "field_lt_context", "time_shift",
                         "time_event", "envelope", "context", "none_of"}),
        # the same, outside the area where the mission is a party, and with other values
        ({**FULL, "armed": False, "decision": {"status": "withdrawn",
                                               "date": "2026-10-20T00:00:00Z"},
          "terms": {"separation_m": 100, "interspersed": True},
          "compensation": {"amount": 11}, "provider": {"kind": "national_military"},
          "alternatives_considered": ["acceptance_negotiation"],
          "criteria": {"humanitarian_need": ""}},
         "SO-XX", {"neq", "false", "lte", "gt", "gte", "in_set", "missing", "time_event",
                   "any_of"}),
        # nothing known: only the conditions that speak of missing information hold
        ({"armed": True}, None, {"true", "not_true", "lacks", "missing", "any_of", "none_of"}),
        # empty lists and texts are missing
        ({"armed": True, "alternatives_considered": [], "criteria": {"sra_ref": ""}}, None,
         {"true", "not_true", "lacks", "missing", "any_of", "none_of"}),
    ],
)
def test_operators(engine: Engine, data: dict[str, Any], area: str | None,
                   expected: set[str]) -> None:
    envelope = {"area": area} if area else {}
    assert fired(engine, data=data, **envelope) == expected


@pytest.mark.parametrize(
    ("vehicles", "request_id", "expected"),
    [
        ([{"owner_kind": "ingo", "markings": "unmarked"}], None, {"any_item"}),
        ([{"owner_kind": "ingo", "markings": "humanitarian"},
          {"owner_kind": "mission_military", "markings": "military"}], None, set()),
        ([{"owner_kind": "ingo", "markings": "humanitarian", "id": "v1"}], "v1", {"any_item_ref"}),
        ([{"owner_kind": "ingo", "markings": "humanitarian", "id": "v1"}], "v2", set()),
        ([{"owner_kind": "ingo", "markings": "military", "id": "v2"}], "v2",
         {"any_item", "any_item_ref"}),
        ([], None, set()),
    ],
)
def test_any_item(engine: Engine, vehicles: list[dict[str, str]], request_id: str | None,
                  expected: set[str]) -> None:
    data: dict[str, Any] = {"status": "requested", "vehicles": vehicles}
    if request_id:
        data["escort"] = {"request_id": request_id}
    assert fired(engine, "movement.request", data=data) == expected


def test_types_are_never_coerced(engine_for: Callable[..., Engine]) -> None:
    """durable_rules alone finds "7" > 5 and "true" == true; validation keeps them out."""
    with pytest.raises(EventValidationError):
        make_event(data={"armed": "true"})
    with pytest.raises(EventValidationError):
        make_event(data={"armed": True, "terms": {"separation_m": "7"}})
