"""Advisories are encoded once, for the store and the response: what a client gets must be
what `Advisory.to_json()` gives, in the bytes Starlette's JSONResponse would have sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.responses import JSONResponse

from mandate_rules import Engine, Event
from mandate_rules._service._intake import MAX_DEPTH, depth_ok

from .packs import at, escort, flight, v1_rules
from .server import Server

pytestmark = pytest.mark.both_backends


def rendered(response: requests.Response) -> bytes:
    """The body JSONResponse renders for the content of `response`."""
    return bytes(JSONResponse(response.json()).body)


def expected(engine: Engine, *events: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Each event's advisories as `Advisory.to_json()` gives them, from a twin engine."""
    return [[a.to_json() for a in engine.evaluate(Event.from_json(e))] for e in events]


def test_responses_carry_the_advisories_to_json_gives_in_jsonresponse_bytes(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    rules = v1_rules(tmp_path / "rules")
    server = start_server(rules=rules)
    client = server.client()
    twin = Engine.from_directory(rules)
    # Text outside ASCII goes out as UTF-8, not as \u escapes, as before.
    single = escort(subject="évacuation-Ü", time=at(0))
    flights = [flight(org="org-enc", time=at(hours=i)) for i in range(3)]
    response = client.events(single)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == rendered(response)
    assert "évacuation-Ü".encode() in response.content
    body = response.json()
    assert body["advisories"] == expected(twin, single)[0]
    assert body["advisories"]  # STL-001: there is something to compare

    batch = client.events(flights)
    assert batch.status_code == 200
    assert batch.content == rendered(batch)
    assert [r["advisories"] for r in batch.json()["results"]] == expected(twin, *flights)
    assert batch.json()["results"][2]["advisories"]  # CNT-001 on the third flight

    again = client.events([single, flights[2]])
    assert again.content == rendered(again)
    results = again.json()["results"]
    assert [r["duplicate"] for r in results] == [True, True]
    assert results[0]["advisories"] == body["advisories"]
    assert results[1]["advisories"] == batch.json()["results"][2]["advisories"]

    # The store keeps the very text that was sent.
    stored = dict(server.rows("SELECT id, body FROM advisories"))
    for advisory in body["advisories"]:
        text = stored[advisory["id"]]
        assert json.loads(text) == advisory
        assert text.encode() in response.content


def nested(depth: int, kind: type) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value] if kind is list else {"k": value}
    return value


def test_the_depth_limit_counts_arrays_and_objects_from_the_top() -> None:
    for kind in (list, dict):
        assert depth_ok(nested(MAX_DEPTH, kind))
        assert not depth_ok(nested(MAX_DEPTH + 1, kind))
        assert depth_ok([1, "x", nested(MAX_DEPTH - 1, kind)])
        assert not depth_ok({"a": 1, "b": [nested(MAX_DEPTH, kind)]})
    assert depth_ok(1)
    assert depth_ok("text")
    assert depth_ok({})
