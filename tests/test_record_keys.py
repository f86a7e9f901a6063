"""Which record an event is about: `by: [entity_id]` falls back to the CloudEvents `subject`
(the record's id in its source system), and a stateful trigger that matched an event lacking
a key field says so (`Engine.evaluate_detailed`), instead of doing nothing in silence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from mandate_rules import Engine, Event
from mandate_rules._engine import Evaluation, MissingKey

from .helpers import make_event, pack

T0 = dt.datetime(2026, 11, 1, 16, 0, tzinfo=dt.UTC)


def at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def trip(hours: float, *, debriefed: bool = False, **envelope: Any) -> Event:
    """A completed escorted movement as KoboToolbox-like sources send it: the record's id only
    in `subject` unless `entity_id` is given in `data`."""
    data: dict[str, Any] = {"status": "completed", "escort": {"requested": True,
                                                               "request_id": "esc-1"},
                            "route": {"id": "MGQ-BDW"}, **envelope.pop("data", {})}
    if debriefed:
        data["debrief"] = {"submitted_at": at(hours)}
    # PHL: a natural disaster with no mission, where no other rule speaks on such a trip
    return make_event("movement.request", time=at(hours), country="PHL", data=data, **envelope)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.bundled()


@pytest.fixture(autouse=True)
def fresh(engine: Engine) -> None:
    engine.reset()


def test_an_escorted_trip_known_only_by_its_subject_raises_esc_011_after_79_hours(
        engine: Engine) -> None:
    assert engine.evaluate(trip(0, subject="kobo-mov-77")) == ()
    raised = engine.advance("PHL", T0 + dt.timedelta(hours=79))
    assert [(a.rule_id, a.severity.value, a.subject) for a in raised] == [
        ("ESC-011", "advice", "kobo-mov-77")]
    assert raised[0].raised_at == T0 + dt.timedelta(hours=72)
    assert raised[0].explanation[-1].field == "entity_id"


def test_a_debrief_known_only_by_the_same_subject_ends_the_deadline(engine: Engine) -> None:
    engine.evaluate(trip(0, subject="kobo-mov-77"))
    engine.evaluate(trip(20, subject="kobo-mov-77", debriefed=True))
    assert engine.advance("PHL", T0 + dt.timedelta(hours=79)) == ()


def test_a_debrief_of_another_subject_does_not(engine: Engine) -> None:
    engine.evaluate(trip(0, subject="kobo-mov-77"))
    engine.evaluate(trip(20, subject="kobo-mov-78", debriefed=True))
    assert [a.rule_id for a in engine.advance("PHL", T0 + dt.timedelta(hours=79))] == [
        "ESC-011"]


def test_entity_id_comes_before_the_subject(engine: Engine) -> None:
    engine.evaluate(trip(0, subject="primero-case-1", data={"entity_id": "mov-1"}))
    # the same record, sent by a system that puts another id in the subject
    engine.evaluate(trip(20, subject="other-id", debriefed=True,
                         data={"entity_id": "mov-1"}))
    assert engine.advance("PHL", T0 + dt.timedelta(hours=79)) == ()


def esc_011(found: Evaluation) -> list[MissingKey]:
    return [m for m in found.missing_keys if m.rule_id == "ESC-011"]


def test_a_trip_with_neither_is_reported_as_missing_its_key(engine: Engine) -> None:
    found = engine.evaluate_detailed(trip(0))
    assert found.advisories == ()
    assert esc_011(found) == [MissingKey("ESC-011", "no-debrief", "when", ("entity_id",))]
    assert str(esc_011(found)[0]) == "ESC-011 no-debrief: the event has no entity_id to group by"
    # COM-004 follows first uses by area, and the trip has none: that is said too
    assert MissingKey("COM-004", "no-outreach-after-first-use", "when",
                      ("event.area",)) in found.missing_keys
    assert engine.advance("PHL", T0 + dt.timedelta(hours=79)) == ()
    # an event the pattern does not match is not reported, nor is one with its key
    assert esc_011(engine.evaluate_detailed(trip(1, data={"status": "requested"}))) == []
    assert esc_011(engine.evaluate_detailed(trip(2, subject="s-1"))) == []
    assert engine.evaluate_detailed(trip(3, subject="s-2", area="PH-01")).missing_keys == ()


COUNTED = """\
  - id: TST-001
    title: repeated trips on a route
    severity: advice
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    triggers:
      - name: repeated
        on: [movement.request]
        when: [status == completed]
        count: {by: [route.id], within: 30 days, at_least: 2}
  - id: TST-002
    title: no debrief, by route
    severity: advice
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    triggers:
      - name: no-debrief
        on: [movement.request]
        when: [status == completed, debrief.submitted_at is missing]
        absence:
          by: [org.id]
          within: 3 days
          until:
            on: [movement.request]
            when: [debrief.submitted_at is present]
            by: [route.id]
"""


def test_counts_and_the_ends_of_deadlines_report_missing_keys_too(
        engine_for: Callable[..., Engine]) -> None:
    engine = engine_for({"p.yaml": pack(COUNTED)})
    found = engine.evaluate_detailed(trip(0, data={"route": {}}))
    assert [(m.rule_id, m.part, m.fields) for m in found.missing_keys] == [
        ("TST-001", "when", ("route.id",))]
    found = engine.evaluate_detailed(trip(1, debriefed=True, data={"route": {}}))
    assert [(m.rule_id, m.part, m.fields) for m in found.missing_keys] == [
        ("TST-002", "until", ("route.id",)), ("TST-001", "when", ("route.id",))]
