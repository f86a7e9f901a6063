"""Every class of bad input gets a 4xx JSON error naming the field, and nothing is stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mandate_rules import Engine, EngineError, Event

from .packs import at, escort, flight, rule_ids, v1_rules
from .server import Client, Server

pytestmark = pytest.mark.both_backends

MAX_BODY = 8192
MAX_BATCH = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("bad-input")
    config = workdir / "sidecar.toml"
    config.write_text(f"max_body_bytes = {MAX_BODY}\nmax_batch = {MAX_BATCH}\n")
    server = Server(workdir, rules=v1_rules(workdir / "rules"),
                    args=["--config", str(config)]).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return server.client()


def raw(client: Client, path: str, data: bytes, content_type: str | None) -> requests.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return client.session.post(client.base + path, data=data, headers=headers, timeout=60)


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"x": value}
    return value


def bad_armed() -> dict[str, Any]:
    sent = escort()
    sent["data"]["armed"] = "yes"
    return sent


CASES: list[tuple[str, bytes, str | None, int, str, str | None]] = [
    # name, body, content type, status, code, path
    ("malformed JSON", b'{"specversion": ', "application/json", 400, "malformed-json", "body"),
    ("empty body", b"", "application/json", 400, "malformed-json", "body"),
    ("not UTF-8", b'{"id": "\xff"}', "application/json", 400, "malformed-json", "body"),
    ("NaN", b'{"n": NaN}', "application/json", 400, "malformed-json", "body"),
    ("nested 100 deep", json.dumps(nested(100)).encode(), "application/json", 400,
     "malformed-json", "body"),
    ("wrong content type", json.dumps(escort()).encode(), "text/plain", 415,
     "unsupported-media-type", "header.content-type"),
    ("no content type", json.dumps(escort()).encode(), None, 415, "unsupported-media-type",
     "header.content-type"),
    ("too large", json.dumps(escort(subject="x" * MAX_BODY)).encode(), "application/json", 413,
     "payload-too-large", "body"),
    ("unknown event type", json.dumps(escort() | {"type": "escort.requets"}).encode(),
     "application/json", 422, "invalid-event", "type"),
    ("missing attribute", json.dumps({k: v for k, v in escort().items() if k != "id"}).encode(),
     "application/json", 422, "invalid-event", "id"),
    ("wrong type in data", json.dumps(bad_armed()).encode(), "application/cloudevents+json",
     422, "invalid-event", "data.armed"),
    ("bad time", json.dumps(escort() | {"time": "yesterday"}).encode(), "application/json",
     422, "invalid-event", "time"),
    ("time out of range", json.dumps(escort() | {"time": "9999-12-31T23:00:00Z"}).encode(),
     "application/json", 422, "invalid-event", "time"),
    ("the service's own source", json.dumps(escort(source="mandate-rules://sidecar/x")).encode(),
     "application/json", 422, "invalid-event", "source"),
    ("not an object", b"42", "application/json", 422, "invalid-event", ""),
    ("array as one cloudevent", json.dumps([escort()]).encode(), "application/cloudevents+json",
     422, "invalid-event", "body"),
    ("object as a batch", json.dumps(escort()).encode(), "application/cloudevents-batch+json",
     422, "invalid-batch", "body"),
    ("empty batch", b"[]", "application/cloudevents-batch+json", 422, "invalid-batch", "body"),
    ("batch too large", json.dumps([escort() for _ in range(MAX_BATCH + 1)]).encode(),
     "application/json", 413, "batch-too-large", "body"),
]


@pytest.mark.parametrize(("name", "body", "content_type", "status", "code", "path"), CASES,
                         ids=[c[0] for c in CASES])
def test_bad_event_input_is_refused_with_a_code_and_a_path(
        client: Client, server: Server, name: str, body: bytes, content_type: str | None,
        status: int, code: str, path: str | None) -> None:
    before = server.rows("SELECT COUNT(*) FROM events")[0][0]
    response = raw(client, "/v1/events", body, content_type)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["path"] == path
    assert error["message"]
    assert server.rows("SELECT COUNT(*) FROM events")[0][0] == before
    assert client.get("/readyz").status_code == 200


def test_every_problem_of_an_event_is_listed(client: Client) -> None:
    sent = escort() | {"time": "soon", "country": "Somalia"}
    sent.pop("id")
    error = client.events(sent).json()["error"]
    assert sorted(p["path"] for p in error["problems"]) == ["country", "id", "time"]


def test_a_batch_with_one_bad_event_is_refused_whole_naming_it(client: Client,
                                                               server: Server) -> None:
    good = [escort(), escort()]
    batch = [good[0], good[1], bad_armed(), escort() | {"type": "nope"}]
    response = client.events(batch, content_type="application/cloudevents-batch+json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid-batch"
    assert error["path"] == "[2].data.armed"
    assert [item["index"] for item in error["items"]] == [2, 3]
    assert error["items"][1]["problems"][0]["path"] == "type"
    ids = [e["id"] for e in good]
    assert server.rows(f"SELECT COUNT(*) FROM events WHERE id IN ('{ids[0]}', '{ids[1]}')") \
        == [(0,)]
    results = client.events(good).json()["results"]
    assert [r["duplicate"] for r in results] == [False, False]


def test_an_event_the_engine_refuses_changes_nothing_even_half_way_through_a_batch(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    # durable_rules refuses a property over 16 MiB (its error 314); the body limit is raised
    # so that such an event reaches the engine.
    config = tmp_path / "big.toml"
    config.write_text(f"max_body_bytes = {40 * 1024 * 1024}\nmax_batch = {MAX_BATCH}\n")
    server = start_server(rules=v1_rules(tmp_path / "rules"), args=["--config", str(config)])
    client = server.client()
    refused = flight(org="x" * (17 * 1024 * 1024), time=at(days=40))
    assert server.rules is not None
    with pytest.raises(EngineError):
        Engine.from_directory(server.rules).evaluate(Event.from_json(refused))
    single = client.events(refused)
    assert single.status_code == 422
    assert single.json()["error"]["code"] == "engine-refused"
    batch = [flight(org="org-refused", time=at(days=41)),
             flight(org="org-refused", time=at(days=42)), refused]
    response = client.events(batch)
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["path"], error["index"]) == ("engine-refused", "[2]", 2)
    ids = [e["id"] for e in batch[:2]]
    assert server.rows("SELECT COUNT(*) FROM events WHERE id IN (?, ?)", *ids) == [(0,)]
    # Had the first two flights stayed in the engine's window, this would be the third.
    assert rule_ids(client.events(flight(org="org-refused", time=at(days=43))).json()) == []


def test_a_body_without_length_is_cut_off_at_the_limit(client: Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"specversion": "1.0", "subject": "'
        for _ in range(MAX_BODY // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    response = client.session.post(client.base + "/v1/events", data=chunks(),
                                   headers={"Content-Type": "application/json"}, timeout=60)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload-too-large"


QUERIES = [
    ("/v1/advisories?limit=0", "invalid-query", "query.limit"),
    ("/v1/advisories?limit=abc", "invalid-query", "query.limit"),
    ("/v1/advisories?limit=99999999999999999999999", "invalid-query", "query.limit"),
    ("/v1/advisories?severity=urgent", "invalid-query", "query.severity"),
    ("/v1/advisories?status=closed", "invalid-query", "query.status"),
    ("/v1/advisories?since=tuesday", "invalid-query", "query.since"),
    ("/v1/advisories?until=2026-11-01T08:00:00", "invalid-query", "query.until"),
    ("/v1/advisories?cursor=bm9wZQ", "invalid-cursor", "query.cursor"),
    ("/v1/decisions?cursor=%%%", "invalid-cursor", "query.cursor"),
    ("/v1/advisories/nope", "advisory-not-found", "path.advisory_id"),
    ("/v1/shadow/diff", "shadow-not-configured", "path"),
    ("/v1/nowhere", "not-found", "path"),
]


@pytest.mark.parametrize(("url", "code", "path"), QUERIES, ids=[q[0] for q in QUERIES])
def test_bad_queries(client: Client, url: str, code: str, path: str) -> None:
    response = client.get(url)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["path"] == path


RESOLUTIONS: list[tuple[bytes, str, int, str, str]] = [
    (b'{"decision": "approved", "by": "x"}', "application/json", 422, "invalid-resolution",
     "decision"),
    (b'{"decision": "dismissed"}', "application/json", 422, "invalid-resolution", "by"),
    (b'{"decision": "dismissed", "by": "x", "why": 1}', "application/json", 422,
     "invalid-resolution", "why"),
    (b'{"decision": "dismissed", "by": "x", "text": 5}', "application/json", 422,
     "invalid-resolution", "text"),
    (b"[]", "application/json", 422, "invalid-resolution", "body"),
    (b"decision=dismissed", "application/x-www-form-urlencoded", 415, "unsupported-media-type",
     "header.content-type"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "code", "path"), RESOLUTIONS)
def test_bad_resolutions(client: Client, body: bytes, content_type: str, status: int,
                         code: str, path: str) -> None:
    advisory = client.events(escort()).json()["advisories"][0]["id"]
    response = raw(client, f"/v1/advisories/{advisory}/resolution", body, content_type)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["path"] == path
    assert client.get(f"/v1/advisories/{advisory}").json()["resolutions"] == []


def test_wrong_method(client: Client) -> None:
    response = client.session.delete(client.base + "/v1/events", timeout=60)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method-not-allowed"


def test_errors_are_counted_by_code(client: Client) -> None:
    before = client.get("/metrics").text
    raw(client, "/v1/events", b"{", "application/json")
    after = client.get("/metrics").text

    def count(text: str) -> float:
        for line in text.splitlines():
            if line.startswith('mandate_rules_errors_total{code="malformed-json"}'):
                return float(line.split()[-1])
        return 0.0

    assert count(after) == count(before) + 1
