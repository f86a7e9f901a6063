"""The semantics of a scenario: clock, operation, records, history, and what a Then checks."""

from __future__ import annotations

import datetime as dt

import pytest

from mandate_rules import Bundle
from mandate_rules._spec.enginepool import EnginePool
from mandate_rules._spec.errors import ExpectationNotMet, SpecError
from mandate_rules._spec.story import START, Story
from mandate_rules._spec.tables import Row


def story(bundle: Bundle, engines: EnginePool | None = None) -> Story:
    return Story(bundle, "rules", engines)


def rows(*pairs: tuple[str, str]) -> list[Row]:
    return [Row(n, None, f, v) for n, (f, v) in enumerate(pairs, start=1)]


ESCORT = rows(("armed", "yes"), ("provider.kind", "mission_military"))


def test_a_scenario_starts_on_1_november_2026_with_no_profile(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    assert dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC) == START
    event = s.record("an escort request", None, ESCORT, acting=True, line=3)
    assert event.time == START
    assert event.area is None
    assert event.country not in spec_bundle.contexts
    assert event.data["org"] == {"id": "org-1", "kind": "ingo"}
    assert s.batch()
    assert {r.advisory.context_known for r in s.batch()} == {False}


def test_named_records_get_rising_versions_and_unnamed_ones_are_new_records(
        spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.set_operation("SOM", 1)
    s.set_area("SO-BN")
    s.set_organisation("org-7", "un_agency")
    first = s.record("an escort request", "esc-1", ESCORT, acting=False, line=2)
    second = s.record("an escort request", "esc-1", ESCORT, acting=False, line=3)
    other = s.record("an escort request", "esc-2", ESCORT, acting=False, line=4)
    loose = [s.record("an escort request", None, ESCORT, acting=False, line=5) for _ in "ab"]
    assert [(e.data["entity_id"], e.data["version"], e.subject) for e in (first, second, other)
            ] == [("esc-1", 1, "esc-1"), ("esc-1", 2, "esc-1"), ("esc-2", 1, "esc-2")]
    assert loose[0].data["entity_id"] != loose[1].data["entity_id"]
    assert {e.data["version"] for e in loose} == {1}
    assert {e.area for e in (first, other, *loose)} == {"SO-BN"}
    assert first.data["org"] == {"id": "org-7", "kind": "un_agency"}
    assert len({e.id for e in (first, second, other, *loose)}) == 5


TRIP = rows(("escort.requested", "yes"), ("status", "completed"), ("completed_at", "now"))


def test_a_record_with_its_id_only_in_the_subject_has_no_entity_id(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.set_operation("SOM", 1)
    first = s.record("a movement request", "kobo-mov-77", TRIP, acting=False, line=2,
                     subject_only=True)
    assert first.subject == "kobo-mov-77"
    assert "entity_id" not in first.data
    assert first.data["version"] == 1
    assert first.data["org"] == {"id": "org-1", "kind": "ingo"}
    # the same record, next written with its entity_id: its next version
    second = s.record("a movement request", "kobo-mov-77", TRIP, acting=False, line=3)
    assert (second.subject, second.data["entity_id"], second.data["version"]) == (
        "kobo-mov-77", "kobo-mov-77", 2)


def test_a_deadline_follows_a_record_known_only_by_its_subject(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.set_operation("SOM", 1)
    s.record("a movement request", "kobo-mov-77", TRIP, acting=False, line=2, subject_only=True)
    s.advance_by(79, "hours", acting=True, line=3)
    s.expect_raised("ESC-011", severity="advice", count=1)
    assert [r.advisory.subject for r in s.batch()] == ["kobo-mov-77"]


def test_a_table_can_set_the_envelope_and_the_organisation(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    event = s.record("an escort request", None, [
        *ESCORT, Row(3, None, "event.area", "SO-SA"), Row(4, None, "org.kind", "nngo"),
        Row(5, None, "event.time", "-1 day")], acting=True, line=1)
    assert event.area == "SO-SA"
    assert event.data["org"] == {"id": "org-1", "kind": "nngo"}
    assert event.time == START - dt.timedelta(days=1)
    assert s.now == START  # the scenario's clock did not move


def test_given_events_are_history_and_a_then_checks_the_when_steps_since_the_last_then(
        spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.set_operation("SOM", 1)
    s.record("an escort request", None, ESCORT, acting=False, line=2)
    with pytest.raises(SpecError, match="this Then has no When step before it"):
        s.batch()
    assert "ESC-004" in {r.advisory.rule_id for r in s.history}
    s.advance_by(1, "day", acting=True, line=3)
    assert s.batch() == []
    s.expect_not_raised("ESC-004")  # raised by the Given step only
    s.record("an escort request", None, ESCORT, acting=True, line=4)
    first = s.batch()
    assert "ESC-004" in {r.advisory.rule_id for r in first}
    assert s.batch() is first  # Then steps in a row check the same When steps
    s.advance_by(2, "hours", acting=True, line=5)
    assert s.batch() == []


def test_time_moves_forward_and_deadlines_raise_when_it_passes(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.set_operation("SOM", 1)
    s.record("a movement request", "mov-1", rows(
        ("escort.requested", "yes"), ("status", "completed"), ("completed_at", "now")),
        acting=False, line=2)
    s.advance_by(71, "hours", acting=True, line=3)
    s.expect_not_raised("ESC-011")
    s.advance_by(2, "hours", acting=True, line=4)
    s.expect_raised("ESC-011", severity="advice")
    assert s.now == START + dt.timedelta(hours=73)
    s.advance_to("2026-11-20", acting=False, line=5)
    assert s.now == dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
    s.advance_to("2026-11-20T14:30Z", acting=False, line=6)
    assert s.now == dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
    with pytest.raises(SpecError, match="time only moves forward: it is already "
                                        "2026-11-20T14:30:00Z"):
        s.advance_to("2026-11-19", acting=False, line=7)
    with pytest.raises(SpecError, match="is not a date"):
        s.advance_to("tomorrow", acting=False, line=8)
    with pytest.raises(SpecError, match="time only moves forward"):
        s.advance_by(0, "days", acting=False, line=9)


def test_the_scenario_profile_goes_on_top_of_the_shipped_one(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.set_operation("SOM", 1)
    assert s.profile() is None  # nothing said: the shipped profile is used as it is
    s.add_context({"mission": {"party_to_conflict": "no"}}, 2)
    s.add_alternative({"mode": "truck", "provider": "humanitarian_fleet", "routes": ["X-Y"]}, 3)
    s.add_area_context("SO-NEW", {"state_forces_party": False}, 4)
    profile = s.profile()
    assert profile is not None
    assert profile.known
    values = profile.resolve(None)
    assert values["mission"] == {"kind": "multidimensional_pko", "party_to_conflict": "no",
                                 "offensive_operations": False}
    assert values["emergency_type"] == "complex_emergency"  # the shipped value stays
    assert [a["mode"] for a in values["civilian_alternatives"]] == ["fixed_wing", "truck"]
    assert profile.resolve("SO-BN")["mission"]["party_to_conflict"] == "yes"  # area wins
    assert profile.resolve("SO-NEW")["state_forces_party"] is False


def test_context_sentences_make_an_unknown_operation_known(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.set_operation("MLI", 1)
    s.add_context({"mission": {"party_to_conflict": "perceived"}}, 2)
    s.record("an escort request", None, ESCORT, acting=True, line=3)
    s.expect_raised("ESC-004", severity="critical")
    assert all(r.advisory.context_known for r in s.batch())


def test_the_context_is_set_before_the_first_event(spec_bundle: Bundle) -> None:
    s = story(spec_bundle)
    s.record("an escort request", None, ESCORT, acting=False, line=7)
    with pytest.raises(SpecError, match=r"before the first event or time step \(line 7\), but "
                                        r"this sentence on line 9 comes after it"):
        s.add_context({"emergency_type": "mixed"}, 9)
    with pytest.raises(SpecError, match="record a context update"):
        s.set_operation("PHL", 10)
    s.set_area("SO-BN")  # the area and organisation may change at any time
    s.set_organisation("org-2", "nngo")


@pytest.mark.parametrize(("call", "expected"), [
    (lambda s: s.set_operation("Somalia", 1), "'Somalia' is not a country code"),
    (lambda s: s.set_organisation("org-2", "ngo"), "'ngo' is not a kind of organisation; did "
                                                   "you mean 'nngo'?"),
    (lambda s: s.record("an escort requst", None, ESCORT, acting=True, line=1),
     "'an escort requst' is not a kind of event; did you mean 'an escort request'?"),
    (lambda s: s.record("an escort request", None, rows(("provider.kind", "nsag")), acting=True,
                        line=1), "an escort request is not a valid event:\n    armed: required"),
    (lambda s: s.record("an escort request", " ", ESCORT, acting=True, line=1),
     "the record's name in quotes is empty"),
    (lambda s: s.record("a movement request", "kobo-1", [*TRIP, Row(4, 7, "entity_id", "m-1")],
                        acting=True, line=1, subject_only=True),
     "row 4 of the table (line 7), `entity_id`: this event carries its record's id only in the "
     "subject, as the name in quotes; remove the row, or leave out `with its id only in the "
     "subject`"),
    (lambda s: s.record("a movement request", "kobo-1",
                        [*TRIP, Row(4, 7, "event.subject", "k-2")], acting=True, line=1,
                        subject_only=True), "row 4 of the table (line 7), `event.subject`: this "
                                            "event carries its record's id only in the subject"),
    (lambda s: s.record("a context update", "ctx-1", [], acting=True, line=1,
                        subject_only=True),
     "a context update is about no record, so it has no id to put in the subject; leave out "
     "`with its id only in the subject`"),
    (lambda s: s.expect_raised("ESC-099"), "ESC-099 is not a rule in rules; did you mean "
                                           "ESC-009?"),
    (lambda s: s.expect_not_raised("ESC-4"), "ESC-4 is not a rule in rules (rule ids look like "
                                             "ESC-004)"),
    (lambda s: s.expect_raised("ESC-004", severity="severe"), "'severe' is not a severity"),
    (lambda s: s.expect_raised("ESC-004", count=0), "write `Then ESC-004 is not raised`"),
])
def test_mistakes_in_sentences_are_spec_errors(spec_bundle: Bundle, call: object,
                                               expected: str) -> None:
    s = story(spec_bundle)
    assert callable(call)
    with pytest.raises(SpecError) as caught:
        call(s)
    assert expected in str(caught.value)


def raised_in_som(bundle: Bundle) -> Story:
    s = story(bundle)
    s.set_operation("SOM", 1)
    s.record("an escort request", None, [*ESCORT, Row(3, None, "decision.status", "requested")],
             acting=False, line=2)
    s.record("an escort request", None, ESCORT, acting=True, line=5)
    return s


@pytest.mark.parametrize(("check", "expected"), [
    (lambda s: s.expect_raised("ESC-004", severity="warning"),
     "Expected ESC-004 to be raised as warning, but it was raised as critical."),
    (lambda s: s.expect_raised("ESC-004", count=2),
     "Expected ESC-004 to be raised 2 times, but it was raised once."),
    (lambda s: s.expect_raised("ESC-005"), "Expected ESC-005 to be raised, but it was not "
                                           "raised."),
    (lambda s: s.expect_not_raised("ESC-004"), "Expected ESC-004 not to be raised, but it was "
                                               "raised once."),
    (lambda s: s.expect_nothing(), "Expected no advisory, but ESC-001, ESC-002, ESC-004, "
                                   "ESC-008 were raised."),
    (lambda s: s.expect_only("ESC-001, ESC-004 and ESC-005"),
     "Expected only ESC-001, ESC-004 and ESC-005 to be raised, but ESC-005 was not raised and "
     "ESC-002 and ESC-008 were raised too."),
    (lambda s: s.expect_mention("ESC-004", "advice", "both sides"),
     "Expected the advice of ESC-004 to mention \"both sides\", but it does not (raised by an "
     "escort request).\nIt reads: This escort comes from a force"),
    (lambda s: s.expect_mention("ESC-004", "explanation", "compensation"),
     "Expected the explanation of ESC-004 to mention \"compensation\", but it does not"),
    (lambda s: s.expect_context_unknown("ESC-004"),
     "Expected ESC-004 to say the context was unknown, but it was raised with the SOM profile"),
])
def test_a_failed_expectation_says_what_was_expected_and_lists_what_was_raised(
        spec_bundle: Bundle, check: object, expected: str) -> None:
    s = raised_in_som(spec_bundle)
    assert callable(check)
    with pytest.raises(ExpectationNotMet) as caught:
        check(s)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "What the When steps (line 5) raised:\n  - ESC-001 as critical: Armed escort " \
           "requested without documented alternatives (from an escort request on line 5)" in message
    assert "Raised by Given steps (the scene; not checked):\n" in message
    assert "  - ESC-003 as info: " in message  # the requested escort, on line 2


def test_checks_that_hold(spec_bundle: Bundle) -> None:
    s = raised_in_som(spec_bundle)
    s.expect_raised("ESC-004", severity="critical", count=1)
    s.expect_only("ESC-001, ESC-002, ESC-004 and ESC-008")
    s.expect_mention("ESC-004", "advice", "ONE SIDE in the fighting")
    s.expect_mention("ESC-004", "explanation", "mission.party_to_conflict")
    s.expect_not_raised("ESC-003")  # raised on line 2, under Given


def test_engines_are_reused_with_no_state_left(spec_bundle: Bundle) -> None:
    pool = EnginePool()
    first = story(spec_bundle, pool)
    first.set_operation("SOM", 1)
    first.record("an escort request", None, ESCORT, acting=True, line=2)
    engine = first.engine(None)
    first.close()
    second = story(spec_bundle, pool)
    second.set_operation("SOM", 1)
    # the same event id (ev-1) and source: a leaked engine would take it for a re-delivery
    second.record("an escort request", None, ESCORT, acting=True, line=2)
    assert second.engine(None) is engine
    second.expect_raised("ESC-004")
    assert pool.take(spec_bundle, None) is not engine  # in use until given back
