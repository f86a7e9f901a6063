"""Snapshots: restoring one and evaluating the rest of a log is the same as evaluating it all."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from mandate_rules import Engine, Event, SnapshotError
from mandate_rules._resources import demo_timeline

from .helpers import RULES_DIR
from .test_patterns import PACK, at, completed, tick

DEMO = demo_timeline()


def demo_events() -> list[Event]:
    return [Event.from_json(json.loads(line)) for line in DEMO.read_text().splitlines() if line]


def outputs(engine: Engine, events: list[Event]) -> list[str]:
    return [json.dumps([a.to_json() for a in engine.evaluate(e)], sort_keys=True)
            for e in events]


@pytest.mark.parametrize("split", [1, 7, 15, 22, 29])
def test_restoring_a_snapshot_then_evaluating_the_rest_equals_evaluating_all(split: int) -> None:
    """The demo log holds windows, lookbacks, running deadlines, re-deliveries and a context
    update; cut anywhere, snapshot (through JSON text), restore into a new engine: the rest
    raises exactly what it raises in one engine that saw everything."""
    events = demo_events()
    whole = Engine.from_directory(RULES_DIR)
    expected = outputs(whole, events)
    first = Engine.from_directory(RULES_DIR)
    outputs(first, events[:split])
    text = json.dumps(first.snapshot(), allow_nan=False)
    second = Engine.from_directory(RULES_DIR)
    second.restore(json.loads(text))
    # A restored deadline heap holds only running deadlines (no stopped entries left to skip).
    sizes = [{k: v for k, v in e.state_size().items() if k != "deadline_heap"}
             for e in (first, second)]
    assert sizes[0] == sizes[1]
    assert outputs(second, events[split:]) == expected[split:]
    assert second.snapshot() == whole.snapshot()
    assert outputs(second, events[:split]) == ["[]"] * split  # still known as seen


def test_a_restored_deadline_passes_with_the_explanation_it_started_with(
        engine_for: Callable[..., Engine]) -> None:
    engine = engine_for({"patterns.yaml": PACK})
    completed(engine, at(0))
    restored = engine_for({"patterns.yaml": PACK})
    restored.restore(json.loads(json.dumps(engine.snapshot())))
    (original,) = tick(engine, at(days=5))
    (again,) = tick(restored, at(days=5))
    assert again == original
    assert again.explanation == original.explanation


def test_a_snapshot_of_other_rule_packs_is_refused_and_nothing_changes(
        engine_for: Callable[..., Engine]) -> None:
    demo = Engine.from_directory(RULES_DIR)
    outputs(demo, demo_events()[:10])
    other = engine_for({"patterns.yaml": PACK})
    completed(other, at(0))
    before = other.snapshot()
    with pytest.raises(SnapshotError, match="rules_version: taken under rule packs") as info:
        other.restore(demo.snapshot())
    assert "replay the event log instead" in str(info.value)
    assert other.snapshot() == before


@pytest.mark.parametrize(("change", "where"), [
    (lambda s: {**s, "format": "mandate-rules/state@0"}, "format"),
    (lambda s: [s], "format"),
    (lambda s: {**s, "operations": []}, "operations"),
    (lambda s: {**s, "operations": {"SOM": {**s["operations"]["SOM"], "windows": 3}}},
     "operations.SOM"),
    (lambda s: {**s, "operations": {"SOM": {**s["operations"]["SOM"],
                                            "pending": [{"slot": [0, 0]}]}}},
     "operations.SOM"),
])
def test_a_malformed_snapshot_names_the_part_and_changes_nothing(
        change: Callable[[dict[str, object]], object], where: str) -> None:
    engine = Engine.from_directory(RULES_DIR)
    outputs(engine, demo_events()[:12])
    snapshot = engine.snapshot()
    fresh = Engine.from_directory(RULES_DIR)
    with pytest.raises(SnapshotError) as info:
        fresh.restore(change(snapshot))  # type: ignore[arg-type]
    assert info.value.where == where
    assert str(info.value).startswith(f"{where}: ")
    assert fresh.state_size() == {"operations": 0}


def test_one_operation_merged_into_an_engine_that_judges_others_continues_as_in_one_engine(
        ) -> None:
    """A replica taking over an operation: the operation's state (its part of a snapshot) is
    merged into an engine already judging other operations, which keep theirs; dropping an
    operation forgets it alone. The rest of the log then raises what one engine raises."""
    events = demo_events()
    countries = sorted({e.country for e in events})
    base = Event.from_json({**json.loads(DEMO.read_text().splitlines()[0]), "country": "ZZZ",
                            "id": "other-operation"})
    whole = Engine.from_directory(RULES_DIR)
    expected = outputs(whole, events)
    split = len(events) // 2
    first = Engine.from_directory(RULES_DIR)
    outputs(first, events[:split])
    taken = first.snapshot()
    replica = Engine.from_directory(RULES_DIR)
    replica.evaluate(base)
    replica.restore({**taken, "operations": {c: taken["operations"][c] for c in countries
                                             if c in taken["operations"]}}, merge=True)
    assert set(replica.snapshot()["operations"]) == {"ZZZ", *taken["operations"]}
    assert outputs(replica, events[split:]) == expected[split:]
    replica.drop("ZZZ")
    assert "ZZZ" not in replica.snapshot()["operations"]
    assert set(replica.snapshot()["operations"]) == set(whole.snapshot()["operations"])
