"""Run the declarative rule cases in ``tests/rules/cases/*.yaml`` through the engine.

Each case is a short story: a few events, evaluated in order on a fresh engine, and what the
last event (or any event, with ``raises_anywhere: true``) must and must not raise. The case
files are data, written next to the rule packs they exercise; see ``cases/escorts.yaml`` for
the format. A fresh engine per case keeps stateful rules (counts, deadlines) from leaking
from one case into the next.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mandate_rules import Bundle, Engine, Event, Severity, load_bundle

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = REPO_ROOT / "rules"
CASES_DIR = Path(__file__).resolve().parent / "cases"
# The packs whose every rule must have a raising case and a near-miss case.
COVERED_PACKS = ("escorts.yaml", "assets.yaml")

# `templates` holds YAML anchors that cases merge into their events' data (`<<: *name`).
_FILE_KEYS = {"defaults", "templates", "cases"}
_DEFAULT_KEYS = {"country", "source", "area"}
_CASE_KEYS = {"name", "rule", "events", "raises", "raises_anywhere", "not_raises",
              "context_known", "trigger"}
_EVENT_KEYS = {"type", "time", "id", "subject", "area", "country", "source", "data"}
_SEVERITIES = {s.value for s in Severity}


@functools.cache
def _bundle() -> Bundle:
    """The shipped packs, read once; each case still gets an engine (and state) of its own."""
    return load_bundle(RULES_DIR)


def _load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text("utf-8"))


def _case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*.yaml"))


def _cases() -> Iterator[Any]:
    for path in _case_files():
        doc = _load_yaml(path) or {}
        defaults = doc.get("defaults") or {}
        for index, case in enumerate(doc.get("cases") or []):
            name = case.get("name", f"case {index}") if isinstance(case, Mapping) else index
            yield pytest.param(path, index, case, defaults, id=f"{path.stem}:{name}")


# --------------------------------------------------------------------------- building events

def _cloud_event(raw: Mapping[str, Any], defaults: Mapping[str, Any], case_index: int,
                 event_index: int) -> dict[str, Any]:
    """The CloudEvents 1.0 dict for one event of a case, with the file's defaults filled in."""
    unknown = set(raw) - _EVENT_KEYS
    assert not unknown, f"event {event_index}: unknown key(s) {sorted(unknown)}"
    assert "type" in raw, f"event {event_index} needs a 'type'"
    assert "time" in raw, f"event {event_index} needs a 'time'"
    when = raw["time"]
    # an unquoted YAML timestamp arrives as a datetime; events carry RFC 3339 text
    when = when.isoformat() if isinstance(when, dt.date) else str(when)
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": str(raw.get("id", f"{case_index}-{event_index}")),
        "source": raw.get("source", defaults.get("source", "test://cases")),
        "type": raw["type"],
        "time": when,
        "country": raw.get("country", defaults.get("country")),
    }
    for attribute in ("subject", "area"):
        value = raw.get(attribute, defaults.get(attribute))
        if value is not None:
            event[attribute] = value
    if raw.get("data") is not None:
        event["data"] = raw["data"]
    return event


# --------------------------------------------------------------------------- reporting

def _describe(advisories: Sequence[Any]) -> str:
    if not advisories:
        return "nothing"
    return ", ".join(
        f"{a.rule_id}:{a.severity.value} (trigger {a.trigger!r}"
        + ("" if a.context_known else ", context unknown") + ")"
        for a in advisories)


def _story(events: Sequence[Mapping[str, Any]], raised: Sequence[Sequence[Any]]) -> str:
    lines = ["advisories raised, event by event:"]
    for index, (event, advisories) in enumerate(zip(events, raised, strict=True)):
        lines.append(f"  [{index}] {event['type']} at {event['time']}: {_describe(advisories)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the cases

@pytest.mark.parametrize(("path", "index", "case", "defaults"), list(_cases()))
def test_rule_case(path: Path, index: int, case: Any, defaults: Mapping[str, Any]) -> None:
    assert isinstance(case, Mapping), f"{path.name} case {index} should be a mapping"
    unknown = set(case) - _CASE_KEYS
    assert not unknown, f"unknown key(s) in the case: {sorted(unknown)}"
    raw_events = case.get("events")
    assert isinstance(raw_events, list), "a case needs an 'events' list"
    assert raw_events, "a case needs at least one event"
    expected: Mapping[str, str] = case.get("raises") or {}
    absent: Sequence[str] = case.get("not_raises") or []
    assert expected or absent, "a case needs 'raises' or 'not_raises'"
    for rule_id, severity in expected.items():
        assert severity in _SEVERITIES, f"{rule_id}: {severity!r} is not a severity"
    if case.get("rule") is not None:
        assert case["rule"] in expected or case["rule"] in absent, (
            f"the case is about {case['rule']}, but neither 'raises' nor 'not_raises' names it")

    engine = Engine(_bundle())  # fresh per case: stateful rules keep state
    events = [_cloud_event(raw, defaults, index, i) for i, raw in enumerate(raw_events)]
    raised: list[tuple[Any, ...]] = [tuple(engine.evaluate(Event.from_json(e))) for e in events]
    story = _story(events, raised)

    anywhere = bool(case.get("raises_anywhere", False))
    considered = [a for advisories in raised for a in advisories] if anywhere else list(raised[-1])
    scope = "any event" if anywhere else "the last event"
    for rule_id, severity in expected.items():
        mine = [a for a in considered if a.rule_id == rule_id]
        assert mine, f"expected {rule_id} ({severity}) from {scope}, but it was not raised\n{story}"
        got = sorted({a.severity.value for a in mine}, key=[s.value for s in Severity].index)
        if anywhere:
            ok = max(mine, key=lambda a: a.severity.rank).severity.value == severity
        else:
            ok = got == [severity]
        assert ok, f"expected {rule_id} at {severity} from {scope}, got {got}\n{story}"

    for rule_id in absent:
        hits = [(i, a) for i, advisories in enumerate(raised) for a in advisories
                if a.rule_id == rule_id]
        assert not hits, (f"{rule_id} should not be raised, but event(s) "
                          f"{sorted({i for i, _ in hits})} raised it\n{story}")

    for rule_id, known in (case.get("context_known") or {}).items():
        mine = [a for a in considered if a.rule_id == rule_id]
        assert mine, f"context_known is asserted for {rule_id}, which was not raised\n{story}"
        assert all(a.context_known is known for a in mine), (
            f"expected context_known={known} on {rule_id}, got "
            f"{[a.context_known for a in mine]}\n{story}")

    for rule_id, trigger in (case.get("trigger") or {}).items():
        mine = [a for a in considered if a.rule_id == rule_id]
        assert mine, f"a trigger is asserted for {rule_id}, which was not raised\n{story}"
        assert {a.trigger for a in mine} == {trigger}, (
            f"expected {rule_id} from trigger {trigger!r}, got "
            f"{sorted({a.trigger for a in mine})}\n{story}")


# --------------------------------------------------------------------------- coverage

def _pack_rule_ids() -> list[str]:
    ids = []
    for name in COVERED_PACKS:
        doc = _load_yaml(RULES_DIR / name)
        ids.extend(str(rule["id"]) for rule in doc["rules"])
    return ids


def test_every_rule_has_a_raising_and_a_near_miss_case() -> None:
    raising: set[str] = set()
    near_miss: set[str] = set()
    for path in _case_files():
        for case in (_load_yaml(path) or {}).get("cases") or []:
            raising.update((case.get("raises") or {}).keys())
            near_miss.update(case.get("not_raises") or [])
    rule_ids = _pack_rule_ids()
    assert rule_ids, "no rules found in the packs"
    missing = {
        "no raising case": [r for r in rule_ids if r not in raising],
        "no near-miss case": [r for r in rule_ids if r not in near_miss],
    }
    assert not any(missing.values()), f"rules without cases: {missing}"


def test_case_files_are_well_formed() -> None:
    files = _case_files()
    assert files, f"no case files in {CASES_DIR}"
    for path in files:
        doc = _load_yaml(path) or {}
        unknown = set(doc) - _FILE_KEYS
        assert not unknown, f"{path.name}: unknown top-level key(s) {sorted(unknown)}"
        unknown = set(doc.get("defaults") or {}) - _DEFAULT_KEYS
        assert not unknown, f"{path.name}: unknown key(s) in 'defaults': {sorted(unknown)}"
        names = [c.get("name") for c in doc.get("cases") or []]
        assert all(names), f"{path.name}: every case needs a 'name'"
        duplicates = sorted({n for n in names if names.count(n) > 1})
        assert not duplicates, f"{path.name}: duplicate case names {duplicates}"
