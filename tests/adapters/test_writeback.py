"""Write-back that is written once: non-idempotent writes read back before they are sent
again, a repeated write is a no-op in the source, and a person's decision is not overwritten."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from mandate_rules import Advisory
from mandate_rules._adapters import AdapterConfigError, SourceUnavailableError
from mandate_rules.adapters import advisory_marker, advisory_text
from mandate_rules.adapters.testing import (
    KOBO_ASSET,
    FakeCommCare,
    FakeKobo,
    FakePrimero,
    Reply,
    commcare_case,
    kobo_submission,
    primero_case,
    primero_webhook,
    sample_advisory,
)

from .conftest import commcare_settings, kobo_settings, primero_settings

# A proxy's error pages, as nginx sends them (HTML, not the source's JSON).
GATEWAY = {502: Reply(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                      {"Content-Type": "text/html"}),
           504: Reply(504, b"<html><body><h1>504 Gateway Time-out</h1></body></html>",
                      {"Content-Type": "text/html"})}


def _primero_advisory(adapter: Any) -> Advisory:
    (event,) = adapter.parse(primero_webhook(primero_case(9, "2026-11-20T09:00:00.000Z")),
                             {}).events
    return sample_advisory(event)


@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize("mode", ["flag", "note"])
def test_primero_write_saved_behind_a_gateway_error_is_not_sent_again(
        primero: FakePrimero, make_adapter: Callable[..., Any], status: int, mode: str) -> None:
    adapter = make_adapter("primero", primero_settings(primero, write_back={"mode": mode}))
    advisory = _primero_advisory(adapter)
    writes = {"flag": "POST", "note": "PATCH"}[mode]
    primero.lose_answer(GATEWAY[status], when=lambda s: s.method == writes)
    result = adapter.write_back(advisory)
    assert result.existing  # found on reading back: Primero had saved it
    record = advisory.subject
    assert record is not None
    copies = primero.flags.get(record, []) if mode == "flag" else primero.notes.get(record, [])
    text = "message" if mode == "flag" else "note_text"
    assert [c[text] for c in copies if advisory_marker(advisory) in c[text]] \
        == [copies[0][text]]
    assert [r.method for r in primero.requests] == ["GET", writes, "GET"]


def test_primero_flag_without_an_answer_is_read_back_not_resent(
        primero: FakePrimero, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(
        primero, timeout={"connect": 2, "read": 0.3}))
    advisory = _primero_advisory(adapter)
    primero.lose_answer(1.0, when=lambda s: s.method == "POST")  # saved; answered too late
    assert adapter.write_back(advisory).existing
    assert len(primero.flags[advisory.subject or ""]) == 1


def test_primero_flag_lost_behind_a_gateway_is_sent_again(
        primero: FakePrimero, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(primero))
    advisory = _primero_advisory(adapter)
    # The proxy gave up before Rails saved anything: reading back finds no flag, so it is
    # sent again, once.
    primero.fail(GATEWAY[502], when=lambda s: s.method == "POST")
    result = adapter.write_back(advisory)
    assert not result.existing
    assert len(primero.flags[advisory.subject or ""]) == 1
    assert [r.method for r in primero.requests] == ["GET", "POST", "GET", "POST"]


def test_primero_gives_up_after_a_few_ambiguous_answers(
        primero: FakePrimero, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(primero))
    advisory = _primero_advisory(adapter)
    primero.fail(GATEWAY[504], when=lambda s: s.method == "POST", times=10)
    with pytest.raises(SourceUnavailableError, match="504") as caught:
        adapter.write_back(advisory)
    assert caught.value.retryable  # the outbox tries again later, reading back first
    assert sum(1 for r in primero.requests if r.method == "POST") == 3


# ------------------------------------------------------------------------ KoboToolbox


def _kobo_advisory(kobo: FakeKobo, adapter: Any, number: int = 3001) -> Advisory:
    submission = kobo_submission(number)
    kobo.submissions.append(submission)
    (event,) = adapter.parse(json.dumps(submission).encode(), {}).events
    return sample_advisory(event)


FIELD = {"mode": "field", "field": "advisory"}


def test_kobo_field_already_holding_the_advisory_is_not_edited_again(
        kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    """Every bulk edit makes a new version of the submission, even with the same value."""
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo, write_back=FIELD))
    advisory = _kobo_advisory(kobo, adapter)
    first, again = adapter.write_back(advisory), adapter.write_back(advisory)
    assert (first.existing, again.existing) == (False, True)
    assert kobo.versions == {"3001": 1}
    assert kobo.fields["3001"]["advisory"] == advisory_text(advisory)
    assert [r.path for r in kobo.applied()] == [f"/api/v2/assets/{KOBO_ASSET}/data/bulk/"]


def test_kobo_field_edit_behind_a_gateway_error_is_read_back(
        kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo, write_back=FIELD))
    advisory = _kobo_advisory(kobo, adapter)
    kobo.lose_answer(GATEWAY[504], when=lambda s: s.method == "PATCH")
    assert adapter.write_back(advisory).existing
    assert kobo.versions == {"3001": 1}


def test_kobo_subject_that_is_a_root_uuid_is_edited_by_its_id(
        kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    """The bulk edit takes whole-number ids only: a root uuid is a 400 however often sent."""
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo, write_back=FIELD))
    advisory = _kobo_advisory(kobo, adapter)
    root = kobo_submission(3001)["meta/rootUuid"]
    by_uuid = attrs.evolve(advisory, subject=root)
    result = adapter.write_back(by_uuid)
    assert not result.existing
    (edit,) = kobo.applied()
    assert edit.json["payload"]["submission_ids"] == [3001]
    assert kobo.fields["3001"]["advisory"] == advisory_text(by_uuid)


def test_kobo_status_a_reviewer_set_is_kept(kobo: FakeKobo,
                                            make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    advisory = _kobo_advisory(kobo, adapter)
    kobo.review(3001, "validation_status_approved", "reviewer_amina")
    result = adapter.write_back(advisory)
    assert kobo.statuses == {"3001": "validation_status_approved"}
    assert kobo.applied() == []
    assert "Approved set by reviewer_amina kept" in result.target
    assert "overwrite_status" in result.target


def test_kobo_status_a_reviewer_set_is_overwritten_when_the_settings_say_so(
        kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(
        kobo, write_back={"mode": "validation_status", "overwrite_status": True}))
    advisory = _kobo_advisory(kobo, adapter)
    kobo.review(3001, "validation_status_approved", "reviewer_amina")
    result = adapter.write_back(advisory)
    assert kobo.statuses == {"3001": "validation_status_on_hold"}
    assert not result.existing
    assert adapter.write_back(advisory).existing  # now it is ours: set, not set again
    assert len(kobo.applied()) == 1


def test_kobo_overwrite_status_setting_is_checked(kobo: FakeKobo,
                                                  make_adapter: Callable[..., Any]) -> None:
    with pytest.raises(AdapterConfigError, match=r"write_back: overwrite_status: expected "
                                                 r"true or false, got 'yes'"):
        make_adapter("kobotoolbox", kobo_settings(
            kobo, write_back={"mode": "validation_status", "overwrite_status": "yes"}))


def test_kobo_status_set_behind_a_gateway_error_is_read_back(
        kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    advisory = _kobo_advisory(kobo, adapter)
    kobo.lose_answer(GATEWAY[502], when=lambda s: s.method == "PATCH")
    assert adapter.write_back(advisory).existing
    assert len(kobo.applied()) == 1


# ------------------------------------------------------------------------ CommCare


@pytest.mark.parametrize("mode", ["case", "property"])
def test_commcare_write_saved_behind_a_gateway_error_is_not_sent_again(
        commcare: FakeCommCare, make_adapter: Callable[..., Any], mode: str) -> None:
    """Every Case API write is one more form in CommCare, even an upsert of the same case."""
    adapter = make_adapter("commcare", commcare_settings(
        commcare, write_back={"mode": mode, "owner_id": "owner-field-team-1"}))
    case = commcare_case(7, "2026-11-20T09:00:00Z")
    commcare.cases.append(case)
    (event,) = adapter.parse(json.dumps(case).encode(), {}).events
    advisory = sample_advisory(event)
    commcare.lose_answer(GATEWAY[504], when=lambda s: s.method == "PUT")
    assert adapter.write_back(advisory).existing
    assert [r.method for r in commcare.applied()] == ["PUT"]
    assert len(commcare.by_external) == (1 if mode == "case" else 0)
