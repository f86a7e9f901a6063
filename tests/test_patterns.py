"""The three stateful patterns: count within a window, absence before a deadline, lookback."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from mandate_rules import Advisory, Engine, Severity

from .helpers import make_event

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)

PACK = """\
pack: patterns
version: 0.0.1
rules:
  - id: CNT-001
    title: repeated mission flights
    severity: advice
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    parameters:
      days: {default: 30, description: window}
    triggers:
      - name: repeated
        on: [asset.request]
        when: [asset.owner_kind == mission_military, medevac is not true]
        count:
          by: [org.id]
          within: "{days} days"
          levels: {advice: 3, warning: 5}
  - id: ABS-001
    title: no debrief
    severity: advice
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    triggers:
      - name: no-debrief
        on: [movement.request]
        when: [status == completed, escort.requested is true, debrief.submitted_at is missing]
        absence:
          by: [entity_id]
          within: 72 hours
          until:
            on: [movement.request]
            when: [debrief.submitted_at is present]
  - id: ABS-002
    title: review overdue
    severity: warning
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    triggers:
      - name: overdue
        on: [escort.request]
        when: [decision.status == approved, review.date is present]
        absence:
          by: [event.subject]
          deadline: review.date
          until:
            on: [escort.request]
            when: [review.outcome is present]
  - id: LKB-001
    title: incident after escort
    severity: warning
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    triggers:
      - name: after-escort
        on: [incident.report]
        when:
          - type in [attack, threat]
        lookback:
          by: [target.org_id, event.area]
          within: 30 days
          prior:
            on: [escort.request]
            when: [decision.status == approved]
            by: [org.id, event.area]
"""


@pytest.fixture
def engine(engine_for: Callable[..., Engine]) -> Engine:
    return engine_for({"patterns.yaml": PACK})


def at(days: float = 0, hours: float = 0, seconds: float = 0) -> str:
    when = T0 + dt.timedelta(days=days, hours=hours, seconds=seconds)
    return when.isoformat().replace("+00:00", "Z")


def ids(advisories: tuple[Advisory, ...], rule: str | None = None) -> list[str]:
    return [a.rule_id for a in advisories if rule is None or a.rule_id == rule]


def flight(engine: Engine, when: str, *, org: str = "org-1", country: str = "SOM",
           **data: Any) -> tuple[Advisory, ...]:
    return engine.evaluate(make_event(
        "asset.request", time=when, country=country, org={"id": org, "kind": "ingo"},
        data={"asset": {"owner_kind": "mission_military"}, **data}))


class TestCount:
    def test_third_use_within_the_window_raises_with_all_three_as_evidence(
            self, engine: Engine) -> None:
        assert flight(engine, at(0)) == ()
        assert flight(engine, at(10)) == ()
        (advisory,) = flight(engine, at(20))
        assert advisory.rule_id == "CNT-001"
        assert advisory.severity is Severity.ADVICE
        assert len(advisory.evidence) == 3
        assert advisory.explanation[-1].value == 3

    def test_window_edge_is_inclusive(self, engine: Engine) -> None:
        flight(engine, at(0))
        flight(engine, at(15))
        assert ids(flight(engine, at(30))) == ["CNT-001"]

    def test_just_outside_the_window_does_not_count(self, engine: Engine) -> None:
        flight(engine, at(0))
        flight(engine, at(15))
        assert flight(engine, at(30, seconds=1)) == ()

    def test_level_rises_with_the_count(self, engine: Engine) -> None:
        severities = [tuple(a.severity for a in flight(engine, at(d))) for d in range(6)]
        assert severities == [(), (), (Severity.ADVICE,), (Severity.ADVICE,),
                              (Severity.WARNING,), (Severity.WARNING,)]

    def test_excluded_events_and_other_keys_do_not_count(self, engine: Engine) -> None:
        flight(engine, at(0))
        flight(engine, at(1), medevac=True)
        flight(engine, at(2), org="org-2")
        assert flight(engine, at(3)) == ()

    def test_state_is_per_operation(self, engine: Engine) -> None:
        flight(engine, at(0), country="SOM")
        flight(engine, at(1), country="SOM")
        assert flight(engine, at(2), country="PHL") == ()
        assert ids(flight(engine, at(3), country="SOM")) == ["CNT-001"]

    def test_parameter_override_changes_the_window(self, engine_for: Callable[..., Engine],
                                                   write_pack: Callable[..., Any]) -> None:
        tuned = Engine.from_directory(write_pack({"p.yaml": PACK}),
                                      parameters={"CNT-001": {"days": 5}})
        flight(tuned, at(0))
        flight(tuned, at(4))
        assert flight(tuned, at(6)) == ()


def completed(engine: Engine, when: str, *, entity: str = "mv-1", debrief: str | None = None,
              version: int = 1) -> tuple[Advisory, ...]:
    data: dict[str, Any] = {"status": "completed", "escort": {"requested": True},
                            "entity_id": entity, "version": version}
    if debrief:
        data["debrief"] = {"submitted_at": debrief}
    return engine.evaluate(make_event("movement.request", time=when, subject=entity, data=data))


def tick(engine: Engine, when: str, country: str = "SOM") -> tuple[Advisory, ...]:
    return engine.evaluate(make_event("clock.tick", time=when, country=country))


class TestAbsence:
    def test_deadline_expires_by_tick(self, engine: Engine) -> None:
        assert completed(engine, at(0)) == ()
        assert tick(engine, at(hours=72)) == ()  # on the deadline is still in time
        (advisory,) = tick(engine, at(hours=72, seconds=1))
        assert advisory.rule_id == "ABS-001"
        assert advisory.subject == "mv-1"
        assert advisory.raised_at == T0 + dt.timedelta(hours=72)
        assert [e.type for e in advisory.evidence] == ["movement.request"]
        assert tick(engine, at(days=10)) == ()  # said once
        assert engine.state_size()["pending_deadlines"] == 0

    def test_any_later_event_moves_time_past_the_deadline(self, engine: Engine) -> None:
        completed(engine, at(0))
        assert ids(flight(engine, at(4))) == ["ABS-001"]

    def test_debrief_in_time_stops_the_deadline(self, engine: Engine) -> None:
        completed(engine, at(0))
        assert completed(engine, at(hours=71), debrief=at(hours=70), version=2) == ()
        assert tick(engine, at(days=5)) == ()

    def test_late_debrief_does_not_undo_the_advisory(self, engine: Engine) -> None:
        completed(engine, at(0))
        late = completed(engine, at(hours=80), debrief=at(hours=79), version=2)
        assert ids(late) == ["ABS-001"]

    def test_deadline_from_a_time_field(self, engine: Engine) -> None:
        def approve(when: str, **extra: Any) -> tuple[Advisory, ...]:
            return engine.evaluate(make_event("escort.request", time=when, subject="esc-1",
                                              data={"armed": True, **extra}))

        approve(at(0), decision={"status": "approved"}, review={"date": at(10)})
        assert tick(engine, at(9)) == ()
        assert ids(tick(engine, at(10, seconds=1))) == ["ABS-002"]

    def test_outcome_recorded_in_time(self, engine: Engine) -> None:
        engine.evaluate(make_event("escort.request", time=at(0), subject="esc-2", data={
            "armed": True, "decision": {"status": "approved"}, "review": {"date": at(10)}}))
        engine.evaluate(make_event("escort.request", time=at(9), subject="esc-2", data={
            "armed": True, "review": {"outcome": "continue"}}))
        assert tick(engine, at(11)) == ()


def escort(engine: Engine, when: str, area: str = "SO-BN") -> tuple[Advisory, ...]:
    return engine.evaluate(make_event("escort.request", time=when, area=area,
                                      data={"armed": True, "decision": {"status": "approved"}}))


def incident(engine: Engine, when: str, area: str = "SO-BN",
             org: str = "org-1") -> tuple[Advisory, ...]:
    return engine.evaluate(make_event("incident.report", time=when, area=area,
                                      data={"type": "attack", "target": {"org_id": org}}))


class TestLookback:
    def test_incident_after_association_raises_with_both_events(self, engine: Engine) -> None:
        escort(engine, at(0))
        (advisory,) = incident(engine, at(10))
        assert advisory.rule_id == "LKB-001"
        assert [e.type for e in advisory.evidence] == ["escort.request", "incident.report"]

    @pytest.mark.parametrize(("day", "area", "org"),
                             [(31, "SO-BN", "org-1"), (10, "SO-XX", "org-1"),
                              (10, "SO-BN", "org-2")])
    def test_outside_the_window_area_or_org(self, engine: Engine, day: int, area: str,
                                            org: str) -> None:
        escort(engine, at(0))
        assert incident(engine, at(day), area=area, org=org) == ()

    def test_association_after_the_incident_does_not_count(self, engine: Engine) -> None:
        incident(engine, at(0))
        escort(engine, at(1))
        assert incident(engine, at(40)) == ()

    def test_missing_key_starts_nothing(self, engine: Engine) -> None:
        engine.evaluate(make_event("escort.request", time=at(0),
                                   data={"armed": True, "decision": {"status": "approved"}}))
        assert engine.evaluate(make_event("incident.report", time=at(1),
                                          data={"type": "attack",
                                                "target": {"org_id": "org-1"}})) == ()
