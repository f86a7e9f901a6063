"""Field/value tables into event data and context values, by the kind of each field."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mandate_rules._schema import load_schema
from mandate_rules._spec.errors import SpecError
from mandate_rules._spec.tables import Row, TableValues, read_rows, read_table

NOW = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def rows(*pairs: tuple[str, str]) -> list[Row]:
    return [Row(n, 10 + n, field, value) for n, (field, value) in enumerate(pairs, start=1)]


def event(event_type: str, *pairs: tuple[str, str]) -> TableValues:
    return read_table(rows(*pairs), load_schema().types[event_type].tree, "an escort request",
                      NOW, envelope=True)


def values(event_type: str, *pairs: tuple[str, str]) -> dict[str, Any]:
    return event(event_type, *pairs).values


def error(event_type: str, *pairs: tuple[str, str]) -> str:
    with pytest.raises(SpecError) as caught:
        event(event_type, *pairs)
    return str(caught.value)


def test_values_are_read_by_the_kind_of_their_field() -> None:
    got = values("escort.request",
                 ("armed", "yes"),
                 ("terms.interspersed", "No"),
                 ("terms.separation_m", "50"),
                 ("compensation.amount", "12.5"),
                 ("decision.status", "approved"),
                 ("alternatives_considered", "route_change, postpone"),
                 ("provider.name", "Regional police, unit 4"),
                 ("review.date", "2026-11-20"))
    assert got == {
        "armed": True,
        "terms": {"interspersed": False, "separation_m": 50},
        "compensation": {"amount": 12.5},
        "decision": {"status": "approved"},
        "alternatives_considered": ["route_change", "postpone"],
        "provider": {"name": "Regional police, unit 4"},  # a text is never split at commas
        "review": {"date": "2026-11-20"},
    }


@pytest.mark.parametrize(("written", "meant"), [
    ("2026-11-20", "2026-11-20"),
    ("2026-11-20T10:00Z", "2026-11-20T10:00:00Z"),
    ("2026-11-20T10:00", "2026-11-20T10:00:00Z"),
    ("2026-11-20T10:00+03:00", "2026-11-20T10:00:00+03:00"),
    ("now", "2026-11-01T08:00:00Z"),
    ("+10 days", "2026-11-11T08:00:00Z"),
    ("-3 hours", "2026-11-01T05:00:00Z"),
    ("+1 week", "2026-11-08T08:00:00Z"),
    ("+90 minutes", "2026-11-01T09:30:00Z"),
])
def test_times_are_dates_date_times_or_shifts_from_now(written: str, meant: str) -> None:
    assert values("escort.request", ("review.date", written)) == {"review": {"date": meant}}


def test_items_of_a_list_of_objects_are_numbered_from_one() -> None:
    got = values("movement.request",
                 ("vehicles[2].markings", "unmarked"),
                 ("vehicles[1].owner_kind", "ingo"),
                 ("vehicles[1].markings", "humanitarian"),
                 ("vehicles[2].owner_kind", "national_police"))
    assert got == {"vehicles": [{"owner_kind": "ingo", "markings": "humanitarian"},
                                {"markings": "unmarked", "owner_kind": "national_police"}]}


def test_envelope_rows_and_empty_cells() -> None:
    got = event("escort.request", ("armed", "yes"), ("event.area", "SO-BN"),
                ("event.time", "+2 hours"), ("review.date", ""), ("event.subject", ""))
    assert got.values == {"armed": True}  # the empty cell left review.date out
    assert got.envelope == {"area": "SO-BN", "time": "2026-11-01T10:00:00Z"}


def test_a_yes_or_no_or_text_field_takes_either() -> None:
    assert values("incident.report", ("association_cited", "yes")) == {"association_cited": True}
    assert values("incident.report", ("association_cited", "travelling with the mission")) == {
        "association_cited": "travelling with the mission"}


def test_context_values_use_the_context_fields() -> None:
    got = read_table(rows(("mission.party_to_conflict", "yes"), ("data.isp_in_place", "no"),
                          ("civilian_alternatives[1].routes", "MGQ-BDW, BDW-BAI")),
                     load_schema().context_tree, "the context profile", NOW, envelope=False)
    # `yes` stays a word where the field is one of a list of words
    assert got.values == {"mission": {"party_to_conflict": "yes"},
                          "data": {"isp_in_place": False},
                          "civilian_alternatives": [{"routes": ["MGQ-BDW", "BDW-BAI"]}]}


@pytest.mark.parametrize(("pairs", "expected"), [
    ((("armed", "maybe"),), "row 1 of the table (line 11), `armed`: expected yes or no, "
                            "got 'maybe'"),
    ((("terms.separation_m", "fifty"),), "expected a number, got 'fifty'"),
    ((("decision.status", "aproved"),), "'aproved' is not one of the words this field takes; "
                                        "did you mean 'approved'?"),
    ((("alternatives_considered", "route_change, bribe"),), "'bribe' is not one of the words"),
    ((("review.date", "next tuesday"),), "expected a time"),
    ((("review.date", "2026-02-30"),), "'2026-02-30' is not a date that exists"),
    ((("provder.kind", "nsag"),), "an escort request has no field `provder.kind`; did you "
                                  "mean `provider.kind`"),
    ((("provider", "nsag"),), "`provider` is a group of fields; name one, e.g. "
                              "`provider.kind`"),
    ((("armed[1]", "yes"),), "`armed` is not a list of items; remove `[1]`"),
    ((("armed.kind", "yes"),), "`armed` is a single value; it has no fields"),
    ((("armed", "yes"), ("armed", "no")), "row 2 of the table (line 12), `armed` is given "
                                          "twice (also row 1"),
    ((("event.country", "KEN"),), "the event's envelope has no `country` a table can set"),
    ((("", "yes"),), "row 1 of the table (line 11) has a value but no field name"),
])
def test_a_mistake_in_a_row_names_the_row_and_says_what_was_expected(
        pairs: tuple[tuple[str, str], ...], expected: str) -> None:
    assert expected in error("escort.request", *pairs)


@pytest.mark.parametrize(("pairs", "expected"), [
    ((("vehicles.markings", "unmarked"),), "`vehicles` is a list of items; name the item and "
                                           "its field, e.g. `vehicles[1].id`"),
    ((("vehicles[1]", "unmarked"),), "`vehicles[1]` is an item with fields"),
    ((("vehicles[0].markings", "unmarked"),), "items are numbered from 1"),
    ((("vehicles[2].markings", "unmarked"),), "`vehicles[1]` has no fields, but a later item "
                                              "of `vehicles` has"),
    ((("vehicles[1].colour", "white"),), "has no field `vehicles[1].colour`"),
])
def test_mistakes_with_lists_of_objects(pairs: tuple[tuple[str, str], ...],
                                        expected: str) -> None:
    assert expected in error("movement.request", *pairs)


def test_an_envelope_row_is_refused_in_a_context_table() -> None:
    with pytest.raises(SpecError, match=r"`event\.` fields belong to events"):
        read_table(rows(("event.area", "SO-BN")), load_schema().context_tree,
                   "the context profile", NOW, envelope=False)


def test_the_table_needs_the_field_value_header() -> None:
    assert [r.field for r in read_rows([["Field", "Value"], ["armed", "yes"]], [3, 4])] == [
        "armed"]
    with pytest.raises(SpecError, match=r"header row \| field \| value \|; its first row "
                                        r"\(line 3\) is \| armed \| yes \|"):
        read_rows([["armed", "yes"]], [3])
    with pytest.raises(SpecError, match="the table is empty"):
        read_rows([], [])


@pytest.mark.parametrize(("pairs", "expected"), [
    ((("review.date", "-99999999 days"),), "-99999999 days from 2026-11-01T08:00:00Z is before "
                                           "the year 1900; times must stay within the years "
                                           "1900 to 2999"),
    ((("review.date", "1899-12-31"),), "'1899-12-31' is in the year 1899"),
    ((("review.date", "3000-01-01T00:30+01:00"),), None),  # 2999 in UTC
    ((("review.date", "3000-01-01T00:00Z"),), "'3000-01-01T00:00Z' is in the year 3000"),
    ((("review.date", "+" + "9" * 5000 + " days"),), "is beyond the year 2999"),
    ((("terms.separation_m", "-1e309"),), "'-1e309' is too large a number to work with"),
    ((("terms.separation_m", "9" * 5000),), "(5000 digits) is too large a number"),
])
def test_times_and_numbers_stay_in_range(pairs: tuple[tuple[str, str], ...],
                                         expected: str | None) -> None:
    if expected is None:
        event("escort.request", *pairs)
    else:
        assert expected in error("escort.request", *pairs)


def test_a_list_of_objects_has_at_most_1000_items() -> None:
    assert len(values("movement.request", *[(f"vehicles[{n}].markings", "un")
                                            for n in range(1, 1001)])["vehicles"]) == 1000
    assert ("item 1001 is too high a number; a table may give a list at most 1000 items"
            in error("movement.request", ("vehicles[1001].markings", "un")))
    assert "is too high a number" in error("movement.request",
                                           (f"vehicles[{'9' * 5000}].markings", "un"))
