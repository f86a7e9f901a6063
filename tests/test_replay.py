"""`Engine.replay`: state rebuilt from a log of judged events, without their advisories, is
exactly the state evaluating them leaves."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from benchmarks._common import catalogue, prepare
from benchmarks.stream import EventStream, StreamConfig

from mandate_rules import Engine, Event

from .helpers import RULES_DIR, make_event
from .test_severity import CONTEXTS
from .test_snapshot import demo_events, outputs


def replayed_then_evaluated(events: list[Event], split: int) -> tuple[Engine, list[str]]:
    engine = Engine.from_directory(RULES_DIR)
    for event in events[:split]:
        assert engine.replay(event) is None
    return engine, outputs(engine, events[split:])


@pytest.mark.parametrize("split", [1, 9, 17, 25, 30])
def test_replaying_the_demo_log_leaves_the_state_evaluating_it_leaves(split: int) -> None:
    events = demo_events()
    whole = Engine.from_directory(RULES_DIR)
    expected = outputs(whole, events)
    engine, rest = replayed_then_evaluated(events, split)
    assert rest == expected[split:]
    assert engine.snapshot() == whole.snapshot()


@pytest.fixture(scope="module")
def stream() -> list[Event]:
    """A mixed stream of every event type over twelve operations, with clock ticks,
    re-deliveries and context updates (the benchmark suite's generator)."""
    config = StreamConfig(seed=17, operations=12, ticks=0.03, duplicates=0.01,
                          context_updates=0.01)
    return prepare(EventStream(catalogue(), config).take(2500))


def test_replaying_a_long_mixed_stream_then_evaluating_the_rest_raises_the_same(
        stream: list[Event]) -> None:
    whole = Engine(catalogue())
    expected = outputs(whole, stream)
    assert sum(text != "[]" for text in expected[1800:]) > 300  # the rest raises plenty
    engine = Engine(catalogue())
    for event in stream[:1800]:
        engine.replay(event)
    assert outputs(engine, stream[1800:]) == expected[1800:]
    assert json.dumps(engine.snapshot(), sort_keys=True) == \
        json.dumps(whole.snapshot(), sort_keys=True)


def test_a_stream_read_back_from_stored_lines_replays_to_the_state_evaluating_leaves(
        stream: list[Event]) -> None:
    """As the sidecar rebuilds: each event read from its stored line (`stored=True`: its data
    frozen only if something reads it) and replayed leaves the state evaluating leaves."""
    evaluated = Engine(catalogue())
    expected = outputs(evaluated, stream[:2000])
    assert sum(text != "[]" for text in expected) > 300
    replayed = Engine(catalogue())
    for event in stream[:2000]:
        replayed.replay(Event.from_text(json.dumps(event.to_json()), stored=True))
    assert json.dumps(replayed.snapshot(), sort_keys=True) == \
        json.dumps(evaluated.snapshot(), sort_keys=True)
    assert outputs(replayed, stream[2000:]) == outputs(evaluated, stream[2000:])


def test_replay_matches_only_the_rules_that_keep_state(stream: list[Event]) -> None:
    """The point of replay: fewer compiled rules to match, none of the stateless ones."""
    engine = Engine(catalogue())
    engine.replay(stream[0])
    assert engine._replaying is not None
    full = sum(len(c) for chunks in engine.compiled_rulesets().values() for c in chunks)
    kept = sum(len(c) for chunks in engine._replaying.compiled.rulesets.values() for c in chunks)
    assert 0 < kept < full / 2
    stateless = {i for i, rule in enumerate(engine.rules)
                 if all(trigger.pattern is None for trigger in rule.triggers)}
    assert not {label.rule for label in engine._replaying.compiled.labels.values()} & stateless


DEADLINE_PACK = """\
pack: dl
version: 0.0.1
rules:
  - id: DLN-001
    title: approved escort with no review outcome
    severity: advice
    uplift: true
    escalate:
      - to: warning
        because: the provider is paid
        when:
          - compensation.type in [cash, fuel]
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
    triggers:
      - name: overdue
        on: [escort.request]
        when: [decision.status == approved]
        absence:
          by: [event.subject]
          within: 10 days
          until:
            on: [escort.request]
            when: [review.outcome is present]
"""


@pytest.mark.parametrize(("country", "data", "severity"), [
    ("PHL", {}, "advice"),
    ("PHL", {"compensation": {"type": "cash"}}, "warning"),
    ("SOM", {}, "warning"),
    ("SOM", {"compensation": {"type": "fuel"}}, "critical"),
])
def test_a_replayed_deadline_keeps_the_severity_it_started_with(
        engine_for: Callable[..., Engine], country: str, data: dict[str, Any],
        severity: str) -> None:
    """A deadline remembers the severity (escalation, then uplift) of the event that started
    it, so replay must match escalations and the uplift of rules with deadlines too."""
    start = make_event(country=country, subject="esc-1", time="2026-11-01T00:00:00Z",
                       data={"armed": True, "decision": {"status": "approved"}, **data})
    passed = make_event("clock.tick", country=country, time="2026-11-20T00:00:00Z")
    judged = engine_for({"dl.yaml": DEADLINE_PACK}, contexts=CONTEXTS)
    judged.evaluate(start)
    replayed = engine_for({"dl.yaml": DEADLINE_PACK}, contexts=CONTEXTS)
    replayed.replay(start)
    (expected,) = judged.evaluate(passed)
    assert expected.severity.value == severity
    assert replayed.evaluate(passed) == (expected,)
