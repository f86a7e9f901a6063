"""The Primero adapter's real requests code against a loopback Primero v2."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Advisory
from mandate_rules._adapters import (
    AdapterStore,
    SourceAuthError,
    SourceRejectedError,
    advisory_marker,
    sync,
)
from mandate_rules.adapters.testing import (
    PRIMERO_FORBIDDEN_USER,
    PRIMERO_PASSWORD,
    AdapterContract,
    FakePrimero,
    Reply,
    fixture,
    fixture_bytes,
    primero_case,
    primero_webhook,
    pull_all,
    sample_advisory,
)

from .conftest import primero_settings


def _cases(count: int, *, same_time_from: int | None = None) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        minute = same_time_from if same_time_from is not None and i >= same_time_from else i
        out.append(primero_case(100 + i, f"2026-11-20T10:{minute:02d}:00.000Z"))
    return out


class TestPrimeroContract(AdapterContract):
    @pytest.fixture
    def adapter(self, primero: FakePrimero, make_adapter: Callable[..., Any]) -> Any:
        primero.cases.extend(_cases(5))
        return make_adapter("primero", primero_settings(primero))

    @pytest.fixture
    def push_payloads(self) -> list[tuple[bytes, Mapping[str, str]]]:
        return [(primero_webhook(primero_case(7, "2026-11-20T09:00:00.000Z")),
                 {"Content-Type": "application/json", "x-api-key": "fake-push-secret"})]

    @pytest.fixture
    def written(self, primero: FakePrimero) -> Callable[[Advisory], int]:
        return lambda advisory: sum(advisory_marker(advisory) in f["message"]
                                    for f in primero.flags.get(str(advisory.subject), []))


def test_pull_uses_last_updated_at_and_page_per(primero: FakePrimero,
                                                make_adapter: Callable[..., Any]) -> None:
    primero.cases.extend(_cases(5))
    adapter = make_adapter("primero", primero_settings(primero, since="2026-11-20T10:01:00.000Z"))
    events = [e for p in pull_all(adapter) for e in p.events]
    assert [e.subject[-3:] for e in events] == ["065", "066", "067", "068"]  # ids 101..104
    first = primero.requests[0]
    assert first.query["last_updated_at"] == "2026-11-20T10:01:00.000Z.."
    assert (first.query["order_by"], first.query["order"]) == ("last_updated_at", "asc")
    assert (first.query["page"], first.query["per"]) == ("1", "2")
    assert first.headers["authorization"].startswith("Basic ")
    # Only the fields the mapping reads are asked for: no names, no dates of birth.
    fields = set(first.query["fields"].split(","))
    assert {"info_share_counterparty", "owned_by_agency_id", "last_updated_at"} <= fields
    assert not fields & {"name", "date_of_birth", "telephone_current"}
    event = events[0].to_json()
    assert event["type"] == "info.share"
    assert event["country"] == "SSD"
    assert event["data"]["counterparty"] == {"kind": "mission_military", "id": "Sector East J2"}
    assert event["data"]["categories"] == ["personal_data", "beneficiary_locations"]
    assert event["data"]["org"] == {"id": "unhcr", "kind": "un_agency"}
    assert event["data"]["consent"] is True


def test_a_page_of_one_timestamp_advances_by_page(primero: FakePrimero,
                                                  make_adapter: Callable[..., Any]) -> None:
    primero.cases.extend(_cases(7, same_time_from=1))  # six cases share 10:01
    adapter = make_adapter("primero", primero_settings(primero))
    subjects = [e.subject for p in pull_all(adapter) for e in p.events]
    assert len(set(subjects)) == 7  # every case, despite the shared timestamp
    pages = [(r.query.get("last_updated_at"), r.query["page"]) for r in primero.requests]
    assert ("2026-11-20T10:01:00.000Z..", "2") in pages


def test_bearer_auth(primero: FakePrimero, make_adapter: Callable[..., Any]) -> None:
    primero.cases.extend(_cases(1))
    settings = primero_settings(primero, auth={"type": "bearer", "token_env": "TOKEN"})
    adapter = make_adapter("primero", settings, env={"TOKEN": "fake-primero-bearer"})
    assert len(adapter.pull(None).events) == 1
    assert primero.requests[0].headers["authorization"] == "Bearer fake-primero-bearer"


def test_403_and_401_bodies_become_auth_errors(primero: FakePrimero,
                                               make_adapter: Callable[..., Any]) -> None:
    forbidden = make_adapter("primero", primero_settings(primero), env={
        "PRIMERO_USER": PRIMERO_FORBIDDEN_USER, "PRIMERO_PASSWORD": PRIMERO_PASSWORD})
    with pytest.raises(SourceAuthError, match=r"403.*Forbidden") as caught:
        forbidden.pull(None)
    assert caught.value.status == 403
    wrong = make_adapter("primero", primero_settings(primero), env={
        "PRIMERO_USER": "someone", "PRIMERO_PASSWORD": "wrong"})
    with pytest.raises(SourceAuthError, match="Invalid User name or password"):
        wrong.pull(None)


def test_documented_list_response_is_read(primero: FakePrimero,
                                          make_adapter: Callable[..., Any]) -> None:
    """The doc's own list (cases_index_response.json, served byte for byte)."""
    primero.serve_doc_list = True
    page = make_adapter("primero", primero_settings(primero)).pull(None)
    assert not page.more
    assert page.events == ()
    assert [i.record_id for i in page.ignored] == ["b3222e84-a5d7-4692-a643-1ab3d41f17d6",
                                                   "442fa6e6-4682-4fdf-b9dc-2cdf51c5e8c3"]


def test_flag_write_back_shape_and_once_only(primero: FakePrimero,
                                             make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(primero))
    (event,) = adapter.parse(primero_webhook(primero_case(9, "2026-11-20T09:00:00.000Z")),
                             {}).events
    advisory = sample_advisory(event)
    first = adapter.write_back(advisory)
    again = adapter.write_back(advisory)
    posts = [r for r in primero.requests if r.method == "POST"]
    assert len(posts) == 1
    assert not first.existing
    assert again.existing
    assert posts[0].path == f"/api/v2/cases/{event.subject}/flags"
    body = posts[0].json
    assert set(body) == {"data"}
    assert set(body["data"]) == {"date", "message"}
    assert body["data"]["date"] == advisory.raised_at.date().isoformat()
    assert body["data"]["message"].startswith(advisory_marker(advisory))
    # The answer is the documented flag_create_response.json: its id is what we keep.
    assert first.remote_id == str(fixture("primero", "flag_create_response.json")["data"]["id"])


def test_existing_flags_from_the_doc_do_not_block_a_new_advisory(
        primero: FakePrimero, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(primero))
    case = primero_case(9, "2026-11-20T09:00:00.000Z", id="749e9c6e-60db-45ec-8f5a-69da7c223a79")
    (event,) = adapter.parse(primero_webhook(case), {}).events
    result = adapter.write_back(sample_advisory(event))  # flags_index_response.json is served
    assert not result.existing
    assert [r.method for r in primero.requests] == ["GET", "POST"]


def test_note_write_back_matches_the_patch_shape(primero: FakePrimero,
                                                 make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(primero, write_back={"mode": "note"}))
    (event,) = adapter.parse(primero_webhook(primero_case(9, "2026-11-20T09:00:00.000Z")),
                             {}).events
    advisory = sample_advisory(event)
    adapter.write_back(advisory)
    assert adapter.write_back(advisory).existing
    (patch,) = [r for r in primero.requests if r.method == "PATCH"]
    documented = fixture("primero", "case_patch_request.json")
    assert set(patch.json) == set(documented) == {"data"}
    (note,) = patch.json["data"]["notes_section"]
    assert set(note) == {"note_subject", "note_text"}
    assert advisory_marker(advisory) in note["note_text"]


def test_422_on_patch_is_a_rejected_write(primero: FakePrimero,
                                          make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(primero, write_back={"mode": "note"}))
    (event,) = adapter.parse(primero_webhook(primero_case(9, "2026-11-20T09:00:00.000Z")),
                             {}).events
    primero.fail(Reply(422, fixture_bytes("primero", "case_patch_422_response.json"),
                       {"Content-Type": "application/json"}), when=lambda s: s.method == "PATCH")
    with pytest.raises(SourceRejectedError, match=r"valid format.*registration_date") as caught:
        adapter.write_back(sample_advisory(event))
    assert caught.value.status == 422
    assert not caught.value.retryable


def test_webhook_echo_of_our_flag_is_not_new(primero: FakePrimero,
                                             make_adapter: Callable[..., Any],
                                             tmp_path: Path) -> None:
    """add_flag! saves the case, so Primero fires case.update: the echo changes flag_count and
    last_updated_at, nothing the rules read, and is not evaluated again."""
    adapter = make_adapter("primero", primero_settings(primero))
    store = AdapterStore(tmp_path / "s.sqlite")
    case = primero_case(9, "2026-11-20T09:00:00.000Z")
    with store.transaction():
        assert len(store.admit("primero", adapter.parse(primero_webhook(case), {})).new) == 1
    echo = dict(case, flag_count=1, last_updated_at="2026-11-20T09:00:05.000Z")
    with store.transaction():
        admitted = store.admit("primero", adapter.parse(primero_webhook(echo), {}))
    assert admitted.new == ()
    assert admitted.unchanged == 1
    changed = dict(echo, info_share_purpose="deconfliction",
                   last_updated_at="2026-11-20T09:10:00.000Z")
    with store.transaction():
        assert len(store.admit("primero", adapter.parse(primero_webhook(changed), {})).new) == 1


def test_webhook_for_another_record_type_is_ignored(primero: FakePrimero,
                                                    make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("primero", primero_settings(primero))
    body = json.loads(primero_webhook(primero_case(9, "2026-11-20T09:00:00.000Z")))
    body["data"]["record_type"] = "incident"
    batch = adapter.parse(json.dumps(body).encode(), {})
    assert batch.events == ()
    assert "incident" in batch.ignored[0].reason


def test_pull_restarts_after_an_outage(primero: FakePrimero, make_adapter: Callable[..., Any],
                                       tmp_path: Path) -> None:
    primero.cases.extend(_cases(6))
    store = AdapterStore(tmp_path / "s.sqlite")
    got: list[str] = []
    adapter = make_adapter("primero", primero_settings(primero))
    primero.fail(Reply.json(500, {"errors": [{"code": 500, "message": "boom"}]}),
                 when=lambda s: s.query.get("last_updated_at") is not None, times=4)
    first = sync(adapter, store, lambda events: got.extend(e.subject for e in events))
    assert not first.complete
    assert len(got) == 2
    second = sync(adapter, store, lambda events: got.extend(e.subject for e in events))
    assert second.complete
    assert len(got) == 6
    assert len(set(got)) == 6
