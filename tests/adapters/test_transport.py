"""`HttpClient(transport=...)` and the test kit's `MockTransport`: an adapter's logic tested
without a socket (issue 12, point 7); and what `SourceAdapter` holds for every adapter: the
common settings, the source, the write-back guard. The loopback fakes stay the test of the
boundary itself (test_http.py, test_writeback.py, test_overlap.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
import requests

from mandate_rules._adapters import (
    AdapterConfigError,
    AdapterError,
    EgressRefusedError,
    HttpClient,
    SourceAdapter,
    SourceRejectedError,
    SourceUnavailableError,
    load_adapter_class,
)
from mandate_rules.adapters.testing import (
    COMMCARE_DOMAIN,
    KOBO_ASSET,
    MockTransport,
    Reply,
    Seen,
    kobo_submission,
    sample_advisory,
)

from .conftest import ENV

# Nothing listens here, and nothing is sent here: the transport answers.
NOWHERE = "http://127.0.0.1:9/"
SETTINGS: dict[str, dict[str, Any]] = {
    "kobotoolbox": {"asset_uid": KOBO_ASSET, "token_env": "KOBO_TOKEN"},
    "primero": {"auth": {"type": "basic", "user_env": "PRIMERO_USER",
                         "password_env": "PRIMERO_PASSWORD"}},
    "commcare": {"domain": COMMCARE_DOMAIN, "case_type": "movement_request",
                 "username": "api@example.org", "api_key_env": "COMMCARE_KEY",
                 "write_back": {"mode": "case", "owner_id": "owner-1"}},
}


def _adapter(name: str, transport: MockTransport, tmp_path: Path, **extra: Any) -> Any:
    settings = {"base_url": NOWHERE, "push_secret_env": "PUSH_SECRET",
                "retry": {"attempts": 2, "backoff": 0.0}, **SETTINGS[name], **extra}
    return load_adapter_class(name).from_config(settings, base_dir=tmp_path, env=ENV,
                                                transport=transport)


SUBMISSIONS = [kobo_submission(3001), kobo_submission(3002), kobo_submission(3005)]


def _kobo_list(seen: Seen) -> Reply:
    return Reply.json(200, {"count": len(SUBMISSIONS), "next": None, "previous": None,
                            "results": SUBMISSIONS})


def test_the_transport_answers_in_place_of_the_network() -> None:
    answers = iter([Reply.json(503, {"detail": "busy"}), Reply.json(200, {"ok": True})])
    transport = MockTransport(lambda seen: next(answers))
    client = HttpClient(NOWHERE, retries=2, sleep=lambda s: None, transport=transport)
    assert client.get_json("api/things", params={"page": "2"}) == {"ok": True}
    assert [(s.method, s.path, s.query) for s in transport.requests] == [
        ("GET", "/api/things", {"page": "2"})] * 2


def test_a_network_failure_the_transport_raises_is_translated() -> None:
    def refuse(seen: Seen) -> Reply:
        raise requests.ConnectionError("refused")

    client = HttpClient(NOWHERE, retries=1, sleep=lambda s: None,
                        transport=MockTransport(refuse))
    with pytest.raises(SourceUnavailableError, match="no answer from the source"):
        client.request_json("POST", "flags", body={"a": 1})


def test_the_loopback_guard_still_comes_first() -> None:
    transport = MockTransport(_kobo_list)
    client = HttpClient("http://example.org/", guard=True, transport=transport)
    with pytest.raises(EgressRefusedError):
        client.get_json("x")
    assert transport.requests == []


def test_a_kobo_pull_unit_tested_without_a_socket(tmp_path: Path) -> None:
    transport = MockTransport(_kobo_list)
    adapter = _adapter("kobotoolbox", transport, tmp_path, since="2026-01-01")
    page = adapter.pull(None)
    assert len(page.events) == 3
    assert not page.more
    sent = transport.requests[0]
    assert sent.headers["authorization"] == f"Token {ENV['KOBO_TOKEN']}"
    # `since` is sent as KPI writes its own times: UTC, no zone.
    assert json.loads(sent.query["query"]) == {"_submission_time": {"$gte": "2026-01-01T00:00:00"}}
    cursor = json.loads(page.cursor)
    assert (cursor["after_id"], cursor["last_id"]) == (3005, 3005)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_the_write_back_guard_is_the_base_class(name: str, tmp_path: Path) -> None:
    def nothing_may_be_sent(seen: Seen) -> Reply:
        raise AssertionError(f"sent {seen.method} {seen.path}")

    adapter = _adapter(name, MockTransport(nothing_may_be_sent), tmp_path)
    assert isinstance(adapter, SourceAdapter)
    assert adapter.push_secret == ENV["PUSH_SECRET"]
    assert adapter.source.startswith(f"{name}://127.0.0.1:9/")
    kobo = _adapter("kobotoolbox", MockTransport(_kobo_list), tmp_path)
    advisory = sample_advisory(kobo.pull(None).events[0])
    with pytest.raises(AdapterError, match="is about elsewhere://x/y, not "):
        adapter.write_back(attrs.evolve(advisory, source="elsewhere://x/y"))
    with pytest.raises(AdapterError, match=f"names no {adapter.record_noun} \\(subject\\)"):
        adapter.write_back(attrs.evolve(advisory, source=adapter.source, subject=None))


@pytest.mark.parametrize(("extra", "message"), [
    ({"source": "not a uri"}, "kobotoolbox settings: source: expected a URI"),
    ({"since": "tuesday"}, "kobotoolbox settings: since: expected an ISO 8601 time"),
    ({"page_size": 5000}, "kobotoolbox settings: page_size: expected a whole number 1..1000"),
    ({"write_back": {"overwrite_status": "yes"}},
     "kobotoolbox settings: write_back: overwrite_status: expected true or false, got 'yes'"),
])
def test_common_settings_are_checked_once_for_all(extra: dict[str, Any], message: str,
                                                  tmp_path: Path) -> None:
    with pytest.raises(AdapterConfigError, match=message):
        _adapter("kobotoolbox", MockTransport(_kobo_list), tmp_path, **extra)


NOT_A_LIST = {"kobotoolbox": "a submission list", "primero": "a record list",
              "commcare": "a case list"}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_a_page_that_is_not_a_listing_is_refused(name: str, tmp_path: Path) -> None:
    adapter = _adapter(name, MockTransport(lambda seen: Reply.json(200, {"detail": "hi"})),
                       tmp_path)
    with pytest.raises(SourceRejectedError, match=f"not {NOT_A_LIST[name]} \\(unknown\\)"):
        adapter.pull(None)


@pytest.mark.parametrize(("name", "page"), [
    ("kobotoolbox", {"count": 9, "results": SUBMISSIONS, "previous": None}),
    ("commcare", {"matching_records": 9, "cases": []}),
])
def test_a_next_link_off_the_source_is_not_followed(name: str, page: dict[str, Any],
                                                    tmp_path: Path) -> None:
    transport = MockTransport(lambda seen: Reply.json(
        200, {**page, "next": "http://127.0.0.2:9/steal?cursor=x"}))
    adapter = _adapter(name, transport, tmp_path)
    off_origin = re.escape("outside http://127.0.0.1:9/; not followed")
    with pytest.raises(SourceRejectedError, match=off_origin):
        adapter.pull(None)
    assert len(transport.requests) == 1
