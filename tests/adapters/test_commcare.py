"""The CommCare adapter's real requests code against a loopback CommCare HQ Case API v2."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Advisory
from mandate_rules._adapters import AdapterConfigError, AdapterStore, SourceUnavailableError, sync
from mandate_rules.adapters.testing import (
    COMMCARE_DOMAIN,
    AdapterContract,
    FakeCommCare,
    Reply,
    commcare_case,
    fixture,
    fixture_bytes,
    pull_all,
    sample_advisory,
)

from .conftest import commcare_settings


def _cases(count: int) -> list[dict[str, Any]]:
    return [commcare_case(500 + i, f"2026-11-20T08:{i:02d}:00.000000Z") for i in range(count)]


class TestCommCareContract(AdapterContract):
    @pytest.fixture
    def adapter(self, commcare: FakeCommCare, make_adapter: Callable[..., Any]) -> Any:
        commcare.cases.extend(_cases(5))
        return make_adapter("commcare", commcare_settings(commcare))

    @pytest.fixture
    def push_payloads(self) -> list[tuple[bytes, Mapping[str, str]]]:
        return [(fixture_bytes("commcare", "repeater_case_json_body.json"),
                 {"Content-Type": "application/json",
                  "Server-Modified-On": "2012-04-05T23:56:41Z"}),
                (json.dumps(commcare_case(7, "2026-11-20T09:00:00Z")).encode(), {})]

    @pytest.fixture
    def written(self, commcare: FakeCommCare) -> Callable[[Advisory], int]:
        return lambda advisory: int(advisory.id in commcare.by_external)


def test_cursor_paging_follows_next(commcare: FakeCommCare,
                                    make_adapter: Callable[..., Any]) -> None:
    commcare.cases.extend(_cases(5))
    adapter = make_adapter("commcare", commcare_settings(commcare,
                                                         since="2026-11-20T08:01:00.000000Z"))
    pages = pull_all(adapter)
    assert [len(p.events) for p in pages] == [2, 2]
    first, second = commcare.requests[:2]
    assert first.path == f"/a/{COMMCARE_DOMAIN}/api/case/v2/"
    assert first.query == {"case_type": "movement_request", "limit": "2",
                           "indexed_on.gte": "2026-11-20T08:01:00.000000Z"}
    assert set(second.query) == {"cursor"}
    assert first.headers["authorization"] == "ApiKey api@example.org:fake-commcare-key"
    event = pages[0].events[0].to_json()
    assert event["type"] == "movement.request"
    assert event["country"] == "SOM"
    assert event["data"]["escort"] == {"requested": True}
    assert event["data"]["transport_provider"] == {"kind": "commercial"}  # own fleet: otherwise


def test_restart_resumes_on_the_stored_next_link(commcare: FakeCommCare,
                                                 make_adapter: Callable[..., Any],
                                                 tmp_path: Path) -> None:
    commcare.cases.extend(_cases(6))
    store = AdapterStore(tmp_path / "s.sqlite")
    got: list[str] = []
    adapter = make_adapter("commcare", commcare_settings(commcare))
    commcare.fail(Reply(503, b"", {"Retry-After": "0"}), when=lambda s: "cursor" in s.query,
                  times=4)
    first = sync(adapter, store, lambda events: got.extend(e.subject for e in events))
    assert not first.complete
    assert len(got) == 2
    resumed = sync(adapter, store, lambda events: got.extend(e.subject for e in events))
    assert resumed.complete
    assert len(got) == 6
    assert len(set(got)) == 6
    assert "cursor" in commcare.requests[-3].query  # it went on from the stored link


def test_retry_after_is_honoured(commcare: FakeCommCare,
                                 make_adapter: Callable[..., Any]) -> None:
    commcare.cases.extend(_cases(1))
    adapter = make_adapter("commcare", commcare_settings(commcare))
    waits: list[float] = []
    adapter.http._sleep = waits.append
    commcare.fail(Reply.json(429, {"error": "rate limited"}, **{"Retry-After": "3"}))
    assert len(adapter.pull(None).events) == 1
    assert waits
    assert waits[0] >= 3


def test_retry_after_beyond_the_limit_gives_up_at_once(commcare: FakeCommCare,
                                                       make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("commcare", commcare_settings(commcare))
    commcare.fail(Reply.json(429, {"error": "rate limited"}, **{"Retry-After": "3600"}))
    with pytest.raises(SourceUnavailableError) as caught:
        adapter.pull(None)
    assert caught.value.retry_after == 3600
    assert caught.value.retryable
    assert len(commcare.requests) == 1


def test_advisory_case_matches_the_documented_create_shape(
        commcare: FakeCommCare, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("commcare", commcare_settings(commcare))
    (event,) = adapter.parse(json.dumps(commcare_case(7, "2026-11-20T09:00:00Z")).encode(),
                             {}).events
    advisory = sample_advisory(event)
    result = adapter.write_back(advisory)
    assert adapter.write_back(advisory).existing  # read back: no second form in CommCare
    puts = [r for r in commcare.requests if r.method == "PUT"]
    assert [p.path for p in puts] == [f"/a/{COMMCARE_DOMAIN}/api/case/v2/ext/{advisory.id}/"]
    body = puts[0].json
    documented = fixture("commcare", "case_v2_create_update_request.json")
    assert set(body) <= set(documented)
    assert body["case_type"] == "mandate_advisory"
    assert body["owner_id"] == "owner-field-team-1"
    assert all(isinstance(v, str) for v in body["properties"].values())
    assert body["indices"] == {"host": {"case_id": event.subject,
                                        "case_type": "movement_request",
                                        "relationship": "extension"}}
    assert set(body["indices"]["host"]) == set(documented["indices"]["parent"])
    assert len(commcare.by_external) == 1
    assert result.remote_id == "adv-1"


def test_property_write_back(commcare: FakeCommCare, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("commcare", commcare_settings(commcare,
                                                         write_back={"mode": "property"}))
    commcare.cases.append(commcare_case(7, "2026-11-20T09:00:00Z"))  # CommCare holds it
    (event,) = adapter.parse(json.dumps(commcare_case(7, "2026-11-20T09:00:00Z")).encode(),
                             {}).events
    advisory = sample_advisory(event, rule_id="ESC-001")
    adapter.write_back(advisory)
    assert adapter.write_back(advisory).existing  # the property holds it: not set again
    (put,) = [r for r in commcare.requests if r.method == "PUT"]
    assert put.path == f"/a/{COMMCARE_DOMAIN}/api/case/v2/{event.subject}"
    assert list(put.json) == ["properties"]
    assert list(put.json["properties"]) == ["mandate_advisory_esc_001"]


def test_case_mode_needs_an_owner(commcare: FakeCommCare,
                                  make_adapter: Callable[..., Any]) -> None:
    with pytest.raises(AdapterConfigError, match="owner"):
        make_adapter("commcare", commcare_settings(commcare, write_back={"mode": "case"}))


def test_forwarded_bodies(commcare: FakeCommCare, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("commcare", commcare_settings(commcare))
    case_body = adapter.parse(fixture_bytes("commcare", "repeater_case_json_body.json"), {})
    assert case_body.ignored[0].record_id == "b0916685-7247-4c44-b712-633d3d64e0c0"
    assert "do not read" in case_body.ignored[0].reason  # mscase is not a movement request
    stub = adapter.parse(fixture_bytes("commcare", "repeater_form_stub.json"), {})
    assert stub.events == ()
    assert "b0916685" in stub.ignored[0].reason
    form = fixture("commcare", "form_v1_list_response.json")["objects"][0]
    batch = adapter.parse(json.dumps(form).encode(), {})
    assert batch.ignored[0].record_id == "f959449c-8776-42ac-b776-3f564fafc331"
    form["form"]["@xmlns"] = "http://commcarehq.org/case_api"
    assert "Case API form" in adapter.parse(json.dumps(form).encode(), {}).ignored[0].reason


def test_our_advisory_case_coming_back_is_ignored(commcare: FakeCommCare,
                                                  make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("commcare", commcare_settings(commcare))
    (event,) = adapter.parse(json.dumps(commcare_case(7, "2026-11-20T09:00:00Z")).encode(),
                             {}).events
    adapter.write_back(sample_advisory(event))
    echo = dict(next(iter(commcare.by_external.values())))
    batch = adapter.parse(json.dumps(echo).encode(), {})
    assert batch.events == ()
    assert "advisory case" in batch.ignored[0].reason
