"""Content no store or engine can take is refused at the edge, named by its path, and the
server goes on: lone surrogates, numbers beyond a double, control characters in names,
over-long names, date-only times, other charsets (issue 10)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mandate_rules._service._errors import ApiError

from .packs import at, escort, v1_rules
from .server import Client, Server

SURROGATE = "\\ud800"  # as JSON escapes it: json.loads makes a lone surrogate of it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, module_db: str | None) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("hostile")
    server = Server(workdir, db=module_db, rules=v1_rules(workdir / "rules")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return server.client()


def post(client: Client, path: str, text: str,
         content_type: str = "application/json") -> requests.Response:
    return client.session.post(client.base + path, data=text.encode("ascii"),
                               headers={"Content-Type": content_type}, timeout=60)


def with_marker(doc: Any) -> str:
    """`doc` as ASCII JSON, its text "MARK" replaced by a JSON-escaped lone surrogate."""
    return json.dumps(doc).replace("MARK", SURROGATE)


def assert_alive(client: Client, server: Server) -> None:
    assert client.get("/readyz").status_code == 200
    good = client.events(escort(time=at(1)))
    assert good.status_code == 200, good.text


SURROGATE_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("id", escort(id="x-MARK"), "id"),
    ("source", escort(source="test://MARK"), "source"),
    ("subject", escort(subject="MARK"), "subject"),
    ("area", escort(area="SO-MARK"), "area"),
    ("data value", escort() | {"data": {"org": {"id": "MARK", "kind": "ingo"},
                                        "armed": True}}, "data.org.id"),
    ("data key", escort() | {"data": {"org": {"id": "o", "kind": "ingo"}, "armed": True,
                                      "MARK": 1}}, "data.\\ud800"),
    ("extension", escort(traceparent="MARK"), "traceparent"),
    ("extension list", escort(tags=["a", "MARK"]), "tags[1]"),
]


@pytest.mark.parametrize(("doc", "path"), [c[1:] for c in SURROGATE_CASES],
                         ids=[c[0] for c in SURROGATE_CASES])
def test_a_lone_surrogate_is_refused_naming_its_field(client: Client, server: Server,
                                                      doc: dict[str, Any], path: str) -> None:
    before = server.rows("SELECT COUNT(*) FROM events")[0][0]
    response = post(client, "/v1/events", with_marker(doc))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["path"]) == ("invalid-event", path)
    assert "surrogate" in error["problems"][0]["message"]
    dry = post(client, "/v1/evaluate", with_marker(doc))
    assert dry.status_code == 422, dry.text
    assert dry.json()["error"]["path"] == path
    batch = post(client, "/v1/events", "[" + json.dumps(escort()) + "," + with_marker(doc)
                 + "]", "application/cloudevents-batch+json")
    assert batch.status_code == 422, batch.text
    assert (batch.json()["error"]["code"], batch.json()["error"]["path"]) == \
        ("invalid-batch", f"[1].{path}")
    assert server.rows("SELECT COUNT(*) FROM events")[0][0] == before
    assert_alive(client, server)


NUMBER_CASES: list[tuple[str, str, str]] = [
    ("in data", '"location": {"lat": 1e400}', "data.location.lat"),
    ("negative", '"location": {"lon": -1e999}', "data.location.lon"),
    ("an integer beyond a double", f'"version": 1{"0" * 400}', "data.version"),
]


@pytest.mark.parametrize(("member", "path"), [c[1:] for c in NUMBER_CASES],
                         ids=[c[0] for c in NUMBER_CASES])
def test_a_number_beyond_a_double_is_refused_naming_its_field(
        client: Client, server: Server, member: str, path: str) -> None:
    doc = escort()
    text = json.dumps(doc).replace('"armed": true', f'"armed": true, {member}')
    before = server.rows("SELECT COUNT(*) FROM events")[0][0]
    for route in ("/v1/events", "/v1/evaluate"):
        response = post(client, route, text)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert (error["code"], error["path"]) == ("invalid-event", path)
        assert "finite number" in error["message"]
    extension = post(client, "/v1/events", json.dumps(escort())[:-1] + ', "weight": 1e400}')
    assert extension.status_code == 422, extension.text
    assert extension.json()["error"]["path"] == "weight"
    assert server.rows("SELECT COUNT(*) FROM events")[0][0] == before
    assert_alive(client, server)


NAME_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("NUL in id", escort(id="a\x00b"), "id", "control character U+0000"),
    ("CR LF in source", escort(source="test://a\r\nforged: line"), "source",
     "control character U+000D"),
    ("escape in id", escort(id="a\x1b[31m"), "id", "control character U+001B"),
    ("C1 control in subject", escort(subject="a\x85b"), "subject", "control character U+0085"),
    ("long id", escort(id="x" * 1025), "id", "at most 1024 characters, got 1025"),
    ("long source", escort(source="s" * 900_000), "source", "at most 1024 characters"),
    ("date-only time", escort(time="2026-11-20"), "time", "RFC 3339 date-time"),
    ("zone-less time", escort(time="2026-11-20T08:00:00"), "time", "RFC 3339 date-time"),
]


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose body limit lets a 900 KB id through to the event's own checks."""
    workdir = tmp_path_factory.mktemp("hostile-roomy")
    config = workdir / "sidecar.toml"
    config.write_text(f"max_body_bytes = {4 * 1024 * 1024}\n")
    server = Server(workdir, rules=v1_rules(workdir / "rules"),
                    args=["--config", str(config)]).start()
    yield server
    server.stop()


@pytest.mark.parametrize(("doc", "path", "message"), [c[1:] for c in NAME_CASES],
                         ids=[c[0] for c in NAME_CASES])
def test_names_with_control_characters_or_over_long_and_date_only_times_are_refused(
        roomy: Server, doc: dict[str, Any], path: str, message: str) -> None:
    client = roomy.client()
    response = client.events(doc)
    assert response.status_code == 422, response.text[:2000]
    error = response.json()["error"]
    assert (error["code"], error["path"]) == ("invalid-event", path)
    assert message in error["message"]
    assert roomy.rows("SELECT COUNT(*) FROM events") == [(0,)]


def test_names_at_the_limit_and_times_with_an_offset_are_taken(client: Client) -> None:
    taken = [escort(id="i" * 1024, source="s" * 1024, subject="é-Ü" * 300),
             escort(time="2026-11-20T08:00:00+03:00"), escort(time="2026-11-20t08:00:00z")]
    for doc in taken:
        response = client.events(doc)
        assert response.status_code == 200, response.text


def test_a_resolution_with_a_lone_surrogate_is_refused_naming_its_field(
        client: Client) -> None:
    advisory = client.events(escort()).json()["advisories"][0]["id"]
    url = f"/v1/advisories/{advisory}/resolution"
    for body, path in (({"decision": "dismissed", "by": "MARK"}, "by"),
                       ({"decision": "justified", "by": "x", "text": "ok MARK"}, "text"),
                       ({"decision": "dismissed", "by": "a\nb"}, "by"),
                       # A NUL in the free text: PostgreSQL could not store it.
                       ({"decision": "justified", "by": "x", "text": "ok \x00"}, "text"),
                       ({"decision": "dismissed", "by": "x", "MARK": 1}, "\\ud800")):
        response = post(client, url, with_marker(body))
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid-resolution"
        assert response.json()["error"]["path"] == path
    assert client.get(f"/v1/advisories/{advisory}").json()["resolutions"] == []
    done = client.post(url, {"decision": "justified", "by": "Amina", "text": "line 1\nline 2"})
    assert done.status_code == 201, done.text


@pytest.mark.parametrize("query", ["subject=%ED%A0%80", "source=%00%0D%0A", "rule=%ED%A0%80",
                                   "country=%ff", "since=0001-01-01T00:00:00%2B14:00",
                                   "until=9999-12-31T23:59:59-14:00", "limit=1e400"])
def test_hostile_query_parameters_never_fail_the_server(client: Client, server: Server,
                                                        query: str) -> None:
    # Percent-decoding replaces bytes that are no UTF-8, so no query text reaches the store
    # with a lone surrogate; what is left is read as text or refused as 400.
    for route in ("/v1/advisories", "/v1/decisions"):
        response = client.get(f"{route}?{query}")
        assert response.status_code in (200, 400), response.text
    assert_alive(client, server)


def test_a_charset_other_than_utf8_is_refused_naming_it(client: Client) -> None:
    body = json.dumps(escort(subject="café")).encode("latin-1")
    for charset in ("latin-1", "ISO-8859-1", "utf-16"):
        response = client.session.post(
            client.base + "/v1/events", data=body, timeout=60,
            headers={"Content-Type": f"application/json; charset={charset}"})
        assert response.status_code == 415, response.text
        error = response.json()["error"]
        assert (error["code"], error["path"]) == ("unsupported-media-type",
                                                 "header.content-type")
        assert charset in error["message"]
    fine = client.session.post(client.base + "/v1/events", timeout=60,
                               data=json.dumps(escort()).encode(),
                               headers={"Content-Type": 'application/json; charset="UTF-8"'})
    assert fine.status_code == 200, fine.text


def test_an_error_quoting_a_lone_surrogate_is_still_sent_as_json() -> None:
    # Were a message to quote what the client sent as is, encoding the answer must not
    # fail (and turn a 422 into a 500): the surrogate goes out as a JSON escape.
    error = ApiError("invalid-event", "bad: x\ud800", "data.x\ud800")
    body = bytes(error.response().body)
    assert b"\\ud800" in body
    assert json.loads(body)["error"]["path"] == "data.x\ud800"


NUL_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("data value", escort() | {"data": {"org": {"id": "a\x00b", "kind": "ingo"},
                                        "armed": True}}, "data.org.id"),
    ("data key", escort() | {"data": {"org": {"id": "o", "kind": "ingo"}, "armed": True,
                                      "a\x00b": 1}}, "data.a\\x00b"),
    ("extension list", escort(tags=["a", "b\x00"]), "tags[1]"),
]


@pytest.mark.parametrize(("doc", "path"), [c[1:] for c in NUL_CASES],
                         ids=[c[0] for c in NUL_CASES])
def test_a_nul_in_any_text_is_refused_naming_its_field(client: Client, server: Server,
                                                       doc: dict[str, Any], path: str) -> None:
    # PostgreSQL can store no U+0000 in text, nor read one out of JSON: accepted, such an
    # event would be stored on SQLite and not on PostgreSQL, and an advisory quoting it would
    # fail every filtered read of its tenant's queue there. Refused on both, by its path.
    before = server.rows("SELECT COUNT(*) FROM events")[0][0]
    response = post(client, "/v1/events", json.dumps(doc))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["path"]) == ("invalid-event", path)
    assert "U+0000" in error["problems"][0]["message"], error
    assert server.rows("SELECT COUNT(*) FROM events")[0][0] == before
    assert client.get("/v1/advisories?area=SO-BN").status_code == 200
    assert_alive(client, server)


@pytest.mark.parametrize(("text", "key"), [
    ('{"country": "SOM", "country": "AFG"}', "country"),
    ('{"data": {"armed": false, "armed": true}}', "armed"),
    ('[{"id": "a"}, {"id": "b", "id": "c"}]', "id"),
], ids=["attribute", "data", "in a batch"])
def test_a_key_named_twice_in_one_object_is_refused_naming_it(
        client: Client, server: Server, text: str, key: str) -> None:
    # Python's parser keeps the last of two, other parsers the first: a body whose meaning
    # depends on the parser that reads it is refused, whole, before anything is judged.
    doc = escort()
    body = json.dumps(doc)[:-1] + ", " + text[1:-1] + "}" if text.startswith("{") else text
    before = server.rows("SELECT COUNT(*) FROM events")[0][0]
    media = "application/json" if text.startswith("{") else "application/cloudevents-batch+json"
    response = post(client, "/v1/events", body, media)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["path"]) == ("malformed-json", "body")
    assert f"the key '{key}' appears twice" in error["message"], error
    assert server.rows("SELECT COUNT(*) FROM events")[0][0] == before
    assert_alive(client, server)
