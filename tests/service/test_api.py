"""The API end to end against one real server: events, dry runs, advisories, resolutions,
rules, the decision log, auth and tenants, health and metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .packs import at, completed_movement, escort, event, flight, rule_ids, v1_rules
from .server import Client, Server, token, tokens_env

TOKENS = {name: token() for name in ("a", "a_read", "a_submit", "b", "admin", "metrics")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_db: str | None) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("api")
    env = tokens_env([
        {"token": TOKENS["a"], "tenant": "ngo-a", "roles": ["submit", "read"]},
        {"token": TOKENS["a_read"], "tenant": "ngo-a", "role": "read"},
        {"token": TOKENS["a_submit"], "tenant": "ngo-a", "role": "submit"},
        {"token": TOKENS["b"], "tenant": "ngo-b", "roles": ["submit", "read"]},
        {"token": TOKENS["admin"], "tenant": "ngo-a", "role": "admin"},
        {"token": TOKENS["metrics"], "roles": ["metrics", "reload"]},  # an operator's
    ])
    server = Server(workdir, db=module_db, rules=v1_rules(workdir / "rules"),
                    env=env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def a(server: Server) -> Client:
    return server.client(TOKENS["a"])


@pytest.fixture(scope="module")
def b(server: Server) -> Client:
    return server.client(TOKENS["b"])


def decisions(client: Client) -> list[dict[str, Any]]:
    response = client.get("/v1/decisions/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


class TestEvents:
    def test_an_event_is_answered_with_its_advisories_and_stored(self, a: Client) -> None:
        sent = escort(id="esc-answered")
        response = a.events(sent, content_type="application/cloudevents+json")
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["duplicate"] is False
        assert rule_ids(result) == ["STL-001"]
        assert result["event"] == {"source": sent["source"], "id": "esc-answered",
                                   "type": "escort.request"}
        advisory = result["advisories"][0]
        assert advisory["rules_version"]["version"] == "1.0.0"
        stored = a.get(f"/v1/advisories/{advisory['id']}").json()
        assert {k: stored[k] for k in advisory} == advisory

    def test_a_redelivered_event_returns_the_same_advisories_and_stores_nothing(
            self, a: Client, server: Server) -> None:
        sent = escort(id="esc-twice")
        first = a.events(sent).json()
        before = server.rows("SELECT COUNT(*) FROM advisories")[0][0]
        second = a.events(sent).json()
        assert second["duplicate"] is True
        assert second["advisories"] == first["advisories"]
        assert server.rows("SELECT COUNT(*) FROM advisories")[0][0] == before
        assert server.rows("SELECT COUNT(*) FROM events WHERE id = 'esc-twice'") == [(1,)]
        outcomes = [d["outcome"] for d in decisions(a)
                    if d["event"]["id"] == "esc-twice"]
        assert outcomes == ["evaluated", "duplicate"]

    def test_a_batch_answers_each_event_in_order(self, a: Client) -> None:
        batch = [escort(armed=True), escort(armed=False), escort(armed=True)]
        response = a.events(batch, content_type="application/cloudevents-batch+json")
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert [r["event"]["id"] for r in results] == [e["id"] for e in batch]
        assert [rule_ids(r) for r in results] == [["STL-001"], [], ["STL-001"]]

    def test_a_plain_json_array_is_a_batch_and_a_repeat_inside_it_is_a_duplicate(
            self, a: Client) -> None:
        one = escort()
        results = a.events([one, one]).json()["results"]
        assert [r["duplicate"] for r in results] == [False, True]
        assert results[0]["advisories"] == results[1]["advisories"]

    def test_a_dry_run_changes_no_state_and_stores_nothing(self, a: Client,
                                                          server: Server) -> None:
        org = "org-dry-run"
        for day in (0, 1):
            assert rule_ids(a.events(flight(org=org, time=at(day))).json()) == []
        events_before = server.rows("SELECT COUNT(*) FROM events")[0][0]
        preview = a.post("/v1/evaluate", flight(org=org, time=at(2), id="dry-1"))
        assert preview.status_code == 200, preview.text
        assert preview.json()["dry_run"] is True
        assert rule_ids(preview.json()) == ["CNT-001"]
        assert server.rows("SELECT COUNT(*) FROM events")[0][0] == events_before
        # Had the dry run counted, a third real flight would make four and quote it.
        real = a.events(flight(org=org, time=at(3), id="real-3")).json()
        assert rule_ids(real) == ["CNT-001"]
        evidence = [e["id"] for e in real["advisories"][0]["evidence"]]
        assert len(evidence) == 3
        assert "dry-1" not in evidence

    def test_a_dry_run_of_a_stored_event_says_so(self, a: Client) -> None:
        sent = escort()
        stored = a.events(sent).json()
        preview = a.post("/v1/evaluate", sent).json()
        assert preview["duplicate"] is True
        assert preview["advisories"] == stored["advisories"]


class TestAdvisories:
    def test_filters_and_cursor_pagination(self, a: Client) -> None:
        subject = "case-paged"
        sent = [escort(subject=subject, time=at(hours=h)) for h in range(5)]
        assert a.events(sent).status_code == 200
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params = {"subject": subject, "limit": "2", **({"cursor": cursor} if cursor else {})}
            page = a.get("/v1/advisories", params=params).json()
            seen.extend(item["evidence"][0]["id"] for item in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [e["id"] for e in sent]
        assert pages == 3
        late = a.get("/v1/advisories", params={"subject": subject,
                                               "since": at(hours=3)}).json()["items"]
        assert [i["evidence"][0]["id"] for i in late] == [e["id"] for e in sent[3:]]
        warnings = a.all_advisories(subject=subject, severity="warning", rule="STL-001")
        assert len(warnings) == 5
        assert a.all_advisories(subject=subject, severity="critical,info") == []

    def test_detail_explains_in_sentences(self, a: Client) -> None:
        advisory = a.events(escort(subject="case-explained")).json()["advisories"][0]
        detail = a.get(f"/v1/advisories/{advisory['id']}").json()
        assert detail["explanation"] == advisory["explanation"]
        assert detail["readable"] == ["armed is true: held (armed = true)"]
        assert detail["raised_by"]["type"] == "escort.request"
        assert detail["status"] == "open"
        assert detail["resolutions"] == []

    def test_a_resolution_is_kept_in_the_audit_trail_and_sets_the_status(
            self, a: Client) -> None:
        advisory = a.events(escort(subject="case-resolved")).json()["advisories"][0]
        path = f"/v1/advisories/{advisory['id']}/resolution"
        refused = a.post(path, {"decision": "justified", "by": "officer-7"})
        assert refused.status_code == 422
        assert refused.json()["error"] == {
            "code": "invalid-resolution", "path": "text",
            "message": "a justified decision needs its justification in text"}
        first = a.post(path, {"decision": "acknowledged", "by": "officer-7"})
        assert first.status_code == 201, first.text
        second = a.post(path, {"decision": "justified", "by": "officer-9",
                               "text": "no civilian carrier reaches the site this week"})
        assert second.status_code == 201
        detail = a.get(f"/v1/advisories/{advisory['id']}").json()
        assert detail["status"] == "justified"
        assert [(r["decision"], r["by"]) for r in detail["resolutions"]] == [
            ("acknowledged", "officer-7"), ("justified", "officer-9")]
        justified = a.all_advisories(subject="case-resolved", status="justified")
        assert [i["id"] for i in justified] == [advisory["id"]]
        assert a.all_advisories(subject="case-resolved", status="open") == []

    def test_unknown_advisory(self, a: Client) -> None:
        response = a.get("/v1/advisories/adv-nope")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "advisory-not-found"
        resolution = a.post("/v1/advisories/adv-nope/resolution",
                            {"decision": "dismissed", "by": "officer-1"})
        assert resolution.status_code == 404


class TestRules:
    def test_list_and_detail(self, a: Client) -> None:
        listed = a.get("/v1/rules").json()
        assert [r["id"] for r in listed["rules"]] == ["ABS-001", "CNT-001", "NUM-001", "STL-001"]
        assert listed["rules_version"]["version"] == "1.0.0"
        detail = a.get("/v1/rules/CNT-001").json()
        assert detail["triggers"][0]["pattern"] == "count"
        assert detail["text"].startswith("CNT-001: repeated mission flights")

    def test_unknown_rule_suggests_the_closest(self, a: Client) -> None:
        response = a.get("/v1/rules/STL-01")
        assert response.status_code == 404
        assert "did you mean 'STL-001'?" in response.json()["error"]["message"]


class TestDecisionLog:
    def test_every_evaluation_is_logged_with_version_advisories_and_duration(
            self, a: Client) -> None:
        result = a.events(escort(id="esc-logged")).json()
        (row,) = [d for d in decisions(a) if d["event"]["id"] == "esc-logged"]
        assert row["outcome"] == "evaluated"
        assert row["rules_version"] == result["rules_version"]
        assert row["advisory_ids"] == [adv["id"] for adv in result["advisories"]]
        assert isinstance(row["duration_ms"], float)
        assert row["duration_ms"] > 0

    def test_pages_cover_the_log_once(self, a: Client) -> None:
        everything = decisions(a)
        paged: list[int] = []
        cursor = None
        while True:
            params = {"limit": "7", **({"cursor": cursor} if cursor else {})}
            page = a.get("/v1/decisions", params=params).json()
            paged.extend(d["seq"] for d in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert paged == [d["seq"] for d in everything]


class TestAuthAndTenants:
    def test_no_token_or_an_unknown_one_is_refused(self, server: Server) -> None:
        anonymous = server.client().get("/v1/advisories")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.json()["error"]["code"] == "unauthorized"
        forged = server.client(token()).events(escort())
        assert forged.status_code == 401

    def test_roles(self, server: Server) -> None:
        reader = server.client(TOKENS["a_read"])
        submitter = server.client(TOKENS["a_submit"])
        assert reader.events(escort()).status_code == 403
        assert reader.get("/v1/advisories").status_code == 200
        assert reader.post("/v1/evaluate", escort()).status_code == 200
        assert submitter.events(escort()).status_code == 200
        denied = submitter.get("/v1/advisories")
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "forbidden"
        assert submitter.get("/v1/rules").status_code == 200
        assert submitter.get("/metrics").status_code == 403
        assert server.client(TOKENS["metrics"]).get("/metrics").status_code == 200
        assert server.client(TOKENS["a"]).post("/v1/admin/reload").status_code == 403
        assert server.client(TOKENS["admin"]).post("/v1/admin/reload").status_code == 403
        reload = server.client(TOKENS["metrics"]).post("/v1/admin/reload")
        assert reload.status_code == 200
        assert reload.json()["changed"] is False  # the same packs: nothing to rebuild

    def test_a_tenant_never_sees_another_tenants_events_or_advisories(
            self, a: Client, b: Client) -> None:
        same = escort(id="shared-id", source="test://same-source", subject="case-a")
        from_a = a.events(same).json()
        from_b = b.events(same).json()
        assert from_a["duplicate"] is False
        assert from_b["duplicate"] is False  # another tenant's log knows nothing of it
        a_ids = {adv["id"] for adv in a.all_advisories()}
        b_ids = {adv["id"] for adv in b.all_advisories()}
        assert from_a["advisories"][0]["id"] in a_ids
        only_a = a.events(escort(subject="case-only-a")).json()["advisories"][0]["id"]
        assert only_a not in b_ids
        assert b.get(f"/v1/advisories/{only_a}").status_code == 404
        resolve = b.post(f"/v1/advisories/{only_a}/resolution",
                         {"decision": "dismissed", "by": "intruder"})
        assert resolve.status_code == 404
        assert all(d["event"]["id"] != only_a for d in decisions(b))

    def test_windows_are_counted_per_tenant(self, a: Client, b: Client) -> None:
        org = "org-shared-by-name"
        assert rule_ids(a.events(flight(org=org, time=at(10))).json()) == []
        assert rule_ids(a.events(flight(org=org, time=at(11))).json()) == []
        assert rule_ids(b.events(flight(org=org, time=at(12))).json()) == []
        third = a.events(flight(org=org, time=at(13))).json()
        assert rule_ids(third) == ["CNT-001"]
        assert rule_ids(b.events(flight(org=org, time=at(14))).json()) == []


class TestHealthAndMetrics:
    def test_health(self, server: Server) -> None:
        client = server.client()
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready"
        assert ready["rules_version"]["version"] == "1.0.0"

    def test_metrics_count_events_advisories_errors_and_latency(self, server: Server,
                                                                a: Client) -> None:
        scraper = server.client(TOKENS["metrics"])

        def sample(name: str, **labels: str) -> float:
            text = scraper.get("/metrics").text
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                        return float(s.value)
            return 0.0

        stored = sample("mandate_rules_events_total", type="movement.request", outcome="stored")
        raised = sample("mandate_rules_advisories_total", rule="STL-001", severity="warning")
        invalid = sample("mandate_rules_errors_total", code="invalid-event")
        requests_seen = sample("mandate_rules_http_request_duration_seconds_count",
                               method="POST", route="/v1/events")
        a.events(completed_movement("mov-metrics"))
        a.events(escort())
        a.events(event("nonsense.type", {}))
        assert sample("mandate_rules_events_total", type="movement.request",
                      outcome="stored") == stored + 1
        assert sample("mandate_rules_advisories_total", rule="STL-001",
                      severity="warning") == raised + 1
        assert sample("mandate_rules_errors_total", code="invalid-event") == invalid + 1
        assert sample("mandate_rules_http_request_duration_seconds_count", method="POST",
                      route="/v1/events") == requests_seen + 3
        assert sample("mandate_rules_rules_info", role="live", version="1.0.0") == 1.0
        assert sample("mandate_rules_engine_state", kind="pending_deadlines") >= 1


def test_the_store_is_sqlite_in_wal_mode(server: Server) -> None:
    if server.on_postgresql:
        pytest.skip("a SQLite file's journal mode; PostgreSQL has its own write-ahead log")
    assert server.rows("PRAGMA journal_mode") == [("wal",)]
    assert Path(f"{server.db}-wal").exists()
