"""Severity: the rule's own level, escalation, context uplift, and the reasons kept for each."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mandate_rules import Engine, Severity

from .helpers import make_event

PACK = """\
pack: sev
version: 0.0.1
rules:
  - id: SEV-001
    title: escort
    on: [escort.request]
    when: [armed is true]
    severity: advice
    uplift: true
    escalate:
      - to: warning
        because: the provider is paid
        when:
          - compensation.type in [cash, fuel]
      - to: critical
        because: an armed group provides it
        when: [provider.kind == nsag]
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
  - id: SEV-002
    title: no uplift
    on: [escort.request]
    when: [armed is true]
    severity: critical
    uplift: true
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
"""
CONTEXTS = {
    "SOM.yaml": ('country: SOM\nversion: "v1"\nprofile:\n'
                 "  mission: {party_to_conflict: perceived}\n"),
    "PHL.yaml": 'country: PHL\nversion: "v2"\nprofile:\n  mission: {party_to_conflict: "no"}\n',
}


@pytest.fixture
def engine(engine_for: Callable[..., Engine]) -> Engine:
    return engine_for({"sev.yaml": PACK}, contexts=CONTEXTS)


def sev(engine: Engine, country: str, **data: object) -> dict[str, object]:
    (advisory, *_) = engine.evaluate(make_event(country=country, data={"armed": True, **data}))
    assert advisory.rule_id == "SEV-001"
    return {"severity": advisory.severity.value, "base": advisory.base_severity.value,
            "reasons": advisory.severity_reasons, "known": advisory.context_known,
            "version": advisory.context_version}


def test_no_change_without_escalation_or_uplift(engine: Engine) -> None:
    assert sev(engine, "PHL") == {"severity": "advice", "base": "advice", "reasons": (),
                                  "known": True, "version": "v2"}


def test_uplift_raises_one_level_and_says_why(engine: Engine) -> None:
    got = sev(engine, "SOM")
    assert got["severity"] == "warning"
    assert got["base"] == "advice"
    assert got["reasons"] == ("raised one level, from advice to warning, because the mission "
                              "is seen as a party here",)


def test_highest_escalation_wins_then_uplift(engine: Engine) -> None:
    got = sev(engine, "PHL", compensation={"type": "cash"}, provider={"kind": "nsag"})
    assert got["severity"] == "critical"
    assert got["reasons"] == ("raised from advice to critical: an armed group provides it",)
    got = sev(engine, "SOM", compensation={"type": "cash"})
    assert got["severity"] == "critical"
    assert len(got["reasons"]) == 2  # type: ignore[arg-type]


def test_uplift_is_capped_at_critical(engine: Engine) -> None:
    advisories = engine.evaluate(make_event(country="SOM", data={"armed": True}))
    second = next(a for a in advisories if a.rule_id == "SEV-002")
    assert second.severity is Severity.CRITICAL
    assert second.severity_reasons == ()


def test_unknown_operation_has_no_uplift_and_says_so(engine: Engine) -> None:
    got = sev(engine, "XKX")
    assert got["severity"] == "advice"
    assert got["known"] is False
    assert got["version"] is None
    assert "context is unknown" in got["reasons"][0]  # type: ignore[index]


def test_context_update_changes_uplift_from_then_on(engine: Engine) -> None:
    assert sev(engine, "PHL")["severity"] == "advice"
    engine.evaluate(make_event("context.update", country="PHL", id="ctx-1",
                               time="2026-11-02T00:00:00Z",
                               data={"mission": {"party_to_conflict": "yes"},
                                     "changed_fields": ["mission.party_to_conflict"]}))
    got = sev(engine, "PHL")
    assert got["severity"] == "warning"
    assert got["version"] == "v2+update:ctx-1"


def test_area_scoped_update_applies_to_that_area_only(engine: Engine) -> None:
    engine.evaluate(make_event("context.update", country="PHL", time="2026-11-02T00:00:00Z",
                               data={"mission": {"party_to_conflict": "yes"},
                                     "area_scope": "PH-08"}))
    inside = engine.evaluate(make_event(country="PHL", area="PH-08", data={"armed": True}))
    outside = engine.evaluate(make_event(country="PHL", area="PH-01", data={"armed": True}))
    assert inside[0].severity is Severity.WARNING
    assert outside[0].severity is Severity.ADVICE
