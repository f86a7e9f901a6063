"""The KoboToolbox adapter's real requests code against a loopback KPI v2."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Advisory
from mandate_rules._adapters import (
    AdapterConfigError,
    AdapterStore,
    SourceAuthError,
    SourceRejectedError,
    sync,
)
from mandate_rules.adapters.testing import (
    DERIVED,
    KOBO_ASSET,
    AdapterContract,
    FakeKobo,
    Reply,
    fixture,
    kobo_submission,
    pull_all,
    sample_advisory,
)

from .conftest import kobo_settings


def _escorts(count: int) -> list[dict[str, Any]]:
    return [kobo_submission(3001 + i, submitted=f"2026-11-20T0{i % 10}:00:00")
            for i in range(count)]


class TestKoboContract(AdapterContract):
    @pytest.fixture
    def adapter(self, kobo: FakeKobo, make_adapter: Callable[..., Any]) -> Any:
        kobo.submissions.extend(_escorts(4))
        return make_adapter("kobotoolbox", kobo_settings(kobo))

    @pytest.fixture
    def push_payloads(self) -> list[tuple[bytes, Mapping[str, str]]]:
        return [((DERIVED / "kobotoolbox_escort_submission.json").read_bytes(),
                 {"Content-Type": "application/json",
                  "User-Agent": "KoboToolbox external service #hXyZ123"})]

    @pytest.fixture
    def written(self, kobo: FakeKobo) -> Callable[[Advisory], int]:
        return lambda advisory: int(advisory.subject in kobo.statuses)


def test_pull_pages_by_id_with_token_auth(kobo: FakeKobo,
                                          make_adapter: Callable[..., Any]) -> None:
    kobo.submissions.extend(_escorts(2))
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    pages = pull_all(adapter)
    assert [p.records for p in pages] == [3, 3, 3]
    # The 7 fixture submissions are not escort or movement requests: kept as rejected.
    assert sum(len(p.rejected) for p in pages) == 7
    assert [e.subject for p in pages for e in p.events] == ["3001", "3002"]
    lists = [r for r in kobo.requests if r.method == "GET"]
    assert all(r.headers["authorization"] == "Token fake-kobo-token" for r in lists)
    assert [json.loads(r.query.get("query", "{}")) for r in lists] == [
        {}, {"_id": {"$gt": 2972568}}, {"_id": {"$gt": 2972571}}]
    assert all(r.query["sort"] == '{"_id": 1}' and r.query["limit"] == "3" for r in lists)


def test_since_limits_by_submission_time(kobo: FakeKobo,
                                         make_adapter: Callable[..., Any]) -> None:
    kobo.submissions.extend(_escorts(2))
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo, since="2020-01-01T00:00:00"))
    events = [e for p in pull_all(adapter) for e in p.events]
    assert [e.subject for e in events] == ["3001", "3002"]
    first = json.loads(kobo.requests[0].query["query"])
    assert first == {"_submission_time": {"$gte": "2020-01-01T00:00:00"}}


def test_escort_submission_maps_to_escort_request(kobo: FakeKobo,
                                                  make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    batch = adapter.parse((DERIVED / "kobotoolbox_escort_submission.json").read_bytes(), {})
    (event,) = batch.events
    assert event.type == "escort.request"
    assert event.source == f"kobotoolbox://127.0.0.1:{kobo.port}/assets/{KOBO_ASSET}"
    assert event.id == "3001@uuid:6a1f0c2e-8d3b-4e55-9b1a-2f7c4d9e0a31"
    assert (event.subject, event.country, event.area) == ("3001", "SOM", "SO22")
    assert event.time.isoformat() == "2026-11-20T04:52:44+00:00"
    data = event.to_json()["data"]
    assert data["armed"] is True
    assert data["alternatives_considered"] == ["route_change", "timing_change"]
    assert data["criteria"]["programme_criticality"] == "PC1"
    assert data["org"] == {"id": "ngo-342", "kind": "ingo"}
    assert data["source_system"] == "kobotoolbox"
    assert data["entity_id"] == "3001"


def test_wrong_token_is_an_auth_error_not_retried(kobo: FakeKobo,
                                                  make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo),
                           env={"KOBO_TOKEN": "wrong-token", "PUSH_SECRET": "x"})
    with pytest.raises(SourceAuthError, match=r"401.*Invalid token"):
        adapter.pull(None)
    assert len(kobo.requests) == 1


def test_missing_credential_names_the_variable(kobo: FakeKobo,
                                               make_adapter: Callable[..., Any]) -> None:
    with pytest.raises(AdapterConfigError, match="KOBO_TOKEN is not set"):
        make_adapter("kobotoolbox", kobo_settings(kobo), env={})


def test_source_down_mid_sync_resumes_without_gaps_or_repeats(
        kobo: FakeKobo, make_adapter: Callable[..., Any], tmp_path: Path) -> None:
    kobo.submissions[:] = _escorts(8)
    store = AdapterStore(tmp_path / "state.sqlite")
    got: list[str] = []

    def deliver(events: Any) -> None:
        got.extend(e.subject for e in events)

    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    # The second page fails with 502 on every attempt (1 + 3 retries).
    kobo.fail(Reply.json(502, {"detail": "Bad gateway"}),
              when=lambda s: "query" in s.query, times=4)
    first = sync(adapter, store, deliver)
    assert not first.complete
    assert first.error_type == "SourceUnavailableError"
    assert got == ["3001", "3002", "3003"]
    second = sync(make_adapter("kobotoolbox", kobo_settings(kobo)), store, deliver)
    assert second.complete
    assert got == [str(3001 + i) for i in range(8)]
    kobo.submissions.append(kobo_submission(4000))
    third = sync(make_adapter("kobotoolbox", kobo_settings(kobo)), store, deliver)
    assert third.complete
    assert got[-1] == "4000"
    assert len(got) == 9


def test_server_gone_mid_sync_then_back(kobo: FakeKobo, make_adapter: Callable[..., Any],
                                        tmp_path: Path) -> None:
    """The server stops listening after the first page (connections refused), then returns."""
    kobo.submissions[:] = _escorts(7)
    store = AdapterStore(tmp_path / "state.sqlite")
    got: list[str] = []

    def deliver(events: Any) -> None:
        got.extend(e.subject for e in events)

    def progress(totals: Any) -> None:
        if totals.pages == 1:
            kobo.go_down()

    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    first = sync(adapter, store, deliver, progress=progress)
    assert not first.complete
    assert "no answer from the source" in (first.error or "")
    assert got == ["3001", "3002", "3003"]
    kobo.come_back()
    second = sync(adapter, store, deliver)
    assert second.complete
    assert got == [str(3001 + i) for i in range(7)]


def test_a_deletion_between_pages_skips_nothing(kobo: FakeKobo,
                                                make_adapter: Callable[..., Any]) -> None:
    kobo.submissions[:] = _escorts(6)
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    first = adapter.pull(None)
    del kobo.submissions[0]  # deleted in Kobo after we read it
    rest = pull_all(adapter, first.cursor)
    subjects = [e.subject for p in [first, *rest] for e in p.events]
    assert subjects == [str(3001 + i) for i in range(6)]


def test_sync_recovers_from_transient_failures(kobo: FakeKobo, make_adapter: Callable[..., Any],
                                               tmp_path: Path) -> None:
    kobo.submissions[:] = _escorts(2)
    kobo.fail(Reply.json(503, {"detail": "busy"}, **{"Retry-After": "0"}), times=2)
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    report = sync(adapter, AdapterStore(tmp_path / "s.sqlite"), lambda events: None)
    assert report.complete
    assert report.progress.new == 2
    assert len(kobo.requests) == 3


def test_next_link_off_the_server_is_not_followed(kobo: FakeKobo,
                                                  make_adapter: Callable[..., Any]) -> None:
    kobo.fail(Reply.json(200, {"count": 9, "next": "http://127.0.0.2:9/api/v2/x", "previous": None,
                               "results": [kobo_submission(1)]}))
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    with pytest.raises(SourceRejectedError, match="outside"):
        adapter.pull(None)


def test_validation_status_write_back_has_the_documented_shape(
        kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    kobo.submissions.append(kobo_submission(3001))  # Kobo holds what it pushed
    (event,) = adapter.parse(json.dumps(kobo_submission(3001)).encode(), {}).events
    result = adapter.write_back(sample_advisory(event))
    (write,) = kobo.writes()
    assert (write.method, write.path) == (
        "PATCH", f"/api/v2/assets/{KOBO_ASSET}/data/3001/validation_status/")
    assert write.json == {"validation_status.uid": "validation_status_on_hold"}
    assert write.headers["content-type"] == "application/json"
    assert "On Hold" in result.target


def test_field_write_back_uses_bulk_edit(kobo: FakeKobo,
                                         make_adapter: Callable[..., Any]) -> None:
    adapter = make_adapter("kobotoolbox", kobo_settings(
        kobo, write_back={"mode": "field", "field": "advisory"}))
    kobo.submissions.append(kobo_submission(3001))
    (event,) = adapter.parse(json.dumps(kobo_submission(3001)).encode(), {}).events
    advisory = sample_advisory(event)
    adapter.write_back(advisory)
    (write,) = kobo.writes()
    assert (write.method, write.path) == ("PATCH", f"/api/v2/assets/{KOBO_ASSET}/data/bulk/")
    assert write.json["payload"]["submission_ids"] == [3001]
    assert list(write.json["payload"]["data"]) == ["advisory"]
    assert advisory.id[:16] in kobo.fields["3001"]["advisory"]


def test_field_mode_needs_a_field(kobo: FakeKobo, make_adapter: Callable[..., Any]) -> None:
    with pytest.raises(AdapterConfigError, match="write_back: field"):
        make_adapter("kobotoolbox", kobo_settings(kobo, write_back={"mode": "field"}))


def test_every_fixture_submission_is_accounted_for(kobo: FakeKobo,
                                                   make_adapter: Callable[..., Any]) -> None:
    """Pushed one by one, the fixture submissions are each rejected with a reason (they are
    not escort or movement requests), none silently dropped."""
    adapter = make_adapter("kobotoolbox", kobo_settings(kobo))
    for name in ("formpack_or_other_data_submissions.json",):
        for submission in fixture("kobotoolbox", name):
            batch = adapter.parse(json.dumps(submission).encode(), {})
            (rejected,) = batch.rejected
            assert rejected.record_id == str(submission["_id"])
            assert "no record rule" in rejected.reason
            assert "request_type" in rejected.reason
