"""Events and advisories: JSON in and out without loss, and validation that names the field."""

from __future__ import annotations

import datetime as dt
import json

import attrs
import pytest

from mandate_rules import (
    Advisory,
    Engine,
    Event,
    EventValidationError,
    ExplanationItem,
    Severity,
)

from .helpers import RULES_DIR, make_event

BASE = {"specversion": "1.0", "id": "k-1", "source": "kobotoolbox://kf.example.org/assets/a1",
        "type": "escort.request", "time": "2026-11-01T08:00:00Z", "country": "SOM",
        "data": {"org": {"id": "o1", "kind": "ingo"}, "armed": True}}


def test_event_round_trip_is_lossless_including_extensions() -> None:
    obj = {**BASE, "subject": "case-9", "area": "SO-BN", "traceparent": "00-ab-cd-01",
           "data": {**BASE["data"], "alternatives_considered": ["route_change"],
                    "unknown_field_from_a_form": {"kept": [1, 2]}}}
    event = Event.from_json(obj)
    assert event.to_json() == obj
    assert Event.from_json(json.loads(json.dumps(event.to_json()))) == event


def test_event_time_keeps_its_offset() -> None:
    event = Event.from_json({**BASE, "time": "2026-11-01T11:00:00+03:00"})
    assert event.time == dt.datetime(2026, 11, 1, 8, tzinfo=dt.UTC)
    assert event.to_json()["time"] == "2026-11-01T11:00:00+03:00"


def test_event_data_is_frozen() -> None:
    event = Event.from_json(BASE)
    with pytest.raises(TypeError):
        event.data["armed"] = False  # type: ignore[index]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"type": "escort.requset"}, "type", "did you mean 'escort.request'"),
        ({"data": {"armed": True}}, "data.org.id", "required for escort.request"),
        ({"data": {"org": {"id": "o", "kind": "ingo"}, "armed": "yes"}}, "data.armed",
         "expected yes/no"),
        ({"data": {"org": {"id": "o", "kind": "soldier"}, "armed": True}}, "data.org.kind",
         "expected one of"),
        ({"data": {"org": {"id": "o", "kind": "ingo"}, "armed": True,
                   "terms": {"separation_m": "far"}}}, "data.terms.separation_m",
         "expected a number"),
        ({"data": {"org": {"id": "o", "kind": "ingo"}, "armed": True,
                   "alternatives_considered": ["route_change", "prayer"]}},
         "data.alternatives_considered", "item 1"),
        ({"time": "yesterday"}, "time", "RFC 3339"),
        ({"time": "2026-11-01T08:00:00"}, "time", "time zone"),
        ({"country": "Somalia"}, "country", "alpha-3"),
        ({"specversion": "0.3"}, "specversion", "'1.0'"),
    ],
)
def test_invalid_event_names_the_field(change: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(EventValidationError) as info:
        Event.from_json({**BASE, **change})
    assert info.value.path == path
    assert words in str(info.value)


def test_object_list_items_are_validated_with_their_index() -> None:
    with pytest.raises(EventValidationError) as info:
        make_event("movement.request", data={"status": "requested", "vehicles": [
            {"owner_kind": "ingo", "markings": "humanitarian"},
            {"owner_kind": "ingo", "markings": "pink"}]})
    assert info.value.path == "data.vehicles[1].markings"


def test_all_problems_of_one_event_are_reported_together() -> None:
    with pytest.raises(EventValidationError) as info:
        Event.from_json({"specversion": "1.0", "type": "escort.request", "data": {}})
    paths = [p for p, _ in info.value.problems]
    assert paths[:5] == ["id", "source", "time", "country", "data.org.id"]


def test_a_stored_event_is_read_without_checking_its_data_again() -> None:
    """Replaying the sidecar's log reads events it accepted itself: data a later schema
    would refuse is kept (an accepted event is never dropped), the envelope still checked."""
    obj = {**BASE, "data": {**BASE["data"], "armed": "yes, two pickups"}}
    with pytest.raises(EventValidationError, match=r"data\.armed"):
        Event.from_json(obj)
    event = Event.from_json(obj, stored=True)
    assert event.data["armed"] == "yes, two pickups"
    assert event.to_json() == obj
    with pytest.raises(EventValidationError, match="time"):
        Event.from_json({**obj, "time": "yesterday"}, stored=True)
    with pytest.raises(EventValidationError, match="data"):
        Event.from_json({**obj, "data": [1]}, stored=True)


def test_an_event_read_from_text_equals_one_read_from_its_json() -> None:
    """`from_text` keeps the dicts it parsed as the plain copy of `data` (no second copy);
    the event is the same."""
    obj = {**BASE, "data": {**BASE["data"], "vehicles": [{"kind": "truck", "count": 2}]}}
    text = json.dumps(obj)
    for stored in (False, True):
        event = Event.from_text(text, stored=stored)
        assert event == Event.from_json(obj)
        assert event._plain == obj["data"]
        assert event.to_json() == obj


def test_a_stored_events_data_read_later_is_as_frozen_and_equal_as_any_events() -> None:
    """`from_text(stored=True)` freezes `data` only when something reads it (rebuilding state
    from a log never does); read, it is the same read-only data all the way down."""
    obj = {**BASE, "data": {**BASE["data"], "vehicles": [{"kind": "truck", "count": 2}]}}
    event = Event.from_text(json.dumps(obj), stored=True)
    fresh = Event.from_json(obj)
    assert event == fresh
    assert fresh == event
    assert event.data == fresh.data
    assert fresh.data == event.data
    assert len(event.data) == 3
    assert sorted(event.data) == ["armed", "org", "vehicles"]
    assert "truck" in repr(event.data)
    vehicles = event.data["vehicles"]
    assert isinstance(vehicles, tuple)
    assert vehicles == fresh.data["vehicles"]
    for change in (lambda: event.data.__setitem__("armed", False),  # type: ignore[attr-defined]
                   lambda: vehicles[0].__setitem__("kind", "car"),
                   lambda: event.data["org"].__setitem__("id", "o2")):
        with pytest.raises((TypeError, AttributeError)):
            change()
    assert event.to_json() == obj
    assert attrs.evolve(event, id="k-2").data == fresh.data


def test_not_json_is_a_validation_error() -> None:
    with pytest.raises(EventValidationError, match="not valid JSON"):
        Event.from_text("{not json")


def test_severity_order_and_raise_caps_at_critical() -> None:
    assert Severity.INFO < Severity.ADVICE < Severity.WARNING < Severity.CRITICAL
    assert Severity.WARNING.raised() is Severity.CRITICAL
    assert Severity.CRITICAL.raised() is Severity.CRITICAL
    assert Severity.INFO.raised(2) is Severity.WARNING


def test_advisory_round_trip(engine_bundled_advisory: Advisory) -> None:
    advisory = engine_bundled_advisory
    again = Advisory.from_json(json.loads(json.dumps(advisory.to_json())))
    assert again == advisory
    assert again.to_json() == advisory.to_json()


def test_an_explanation_built_on_first_read_compares_by_its_items(
        engine_bundled_advisory: Advisory) -> None:
    """An advisory may hold a builder instead of its explanation: it is called once, on the
    first read, and the advisory equals, hashes and prints as one holding the items."""
    items = engine_bundled_advisory.explanation
    calls: list[int] = []

    def build() -> tuple[ExplanationItem, ...]:
        calls.append(1)
        return items

    lazy = attrs.evolve(engine_bundled_advisory, explanation=build)
    assert calls == []
    assert lazy == engine_bundled_advisory
    assert hash(lazy) == hash(engine_bundled_advisory)
    assert lazy.explanation == items
    assert lazy.explanation is lazy.explanation
    assert lazy.to_json() == engine_bundled_advisory.to_json()
    assert repr(lazy) == repr(engine_bundled_advisory)
    assert len(calls) == 1
    other = attrs.evolve(engine_bundled_advisory, explanation=lambda: items[:-1])
    assert other != engine_bundled_advisory


@pytest.fixture
def engine_bundled_advisory() -> Advisory:
    engine = Engine.from_directory(RULES_DIR)
    advisories = engine.evaluate(Event.from_json({**BASE, "area": "SO-BN", "subject": "s1"}))
    assert advisories, "the bundled packs should raise something for a bare armed escort"
    return advisories[0]


@pytest.mark.parametrize("when", ["9999-12-31T23:00:00Z", "0001-01-01T00:00:00Z"])
def test_times_outside_the_supported_years_are_refused(when: str) -> None:
    """Windows and deadlines add years to an event's time; the calendar ends in 9999."""
    with pytest.raises(EventValidationError, match="expected a year from 1900 to 2999"):
        Event.from_json({**BASE, "time": when})
