"""A re-delivery (same source and id) with the same content is idempotent; with other
content it is refused with 409 `conflicting-redelivery`, naming both content hashes, and
counted (issue 10). Files written before the hash was stored are migrated in place."""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mandate_rules._models import Event
from mandate_rules._service._schema import SCHEMA_VERSION

from .packs import at, escort, flight, rule_ids, v1_rules
from .server import Client, Server

pytestmark = pytest.mark.both_backends

SCHEMA_1 = Path(__file__).parent / "data" / "schema-1.sql"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("redelivery")
    server = Server(workdir, rules=v1_rules(workdir / "rules")).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client(server: Server) -> Client:
    return server.client()


def conflicts(client: Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("mandate_rules_conflicting_redeliveries_total "):
            return float(line.split()[-1])
    raise AssertionError("no conflicting_redeliveries_total in /metrics")


def stored(server: Server) -> int:
    return int(server.rows("SELECT COUNT(*) FROM events")[0][0])


def reshaped(doc: dict[str, Any]) -> str:
    """The same content in other JSON text: keys reversed, spaces, +00:00 for Z."""
    again = dict(reversed(list(copy.deepcopy(doc).items())))
    again["time"] = again["time"].replace("Z", "+00:00")
    return json.dumps(again, indent=2)


def test_the_same_content_again_is_a_duplicate_whatever_its_json_text(
        client: Client, server: Server) -> None:
    sent = escort(time=at(0))
    first = client.events(sent).json()
    again = client.events(None, data=reshaped(sent).encode())
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["advisories"] == first["advisories"]
    digest = Event.from_json(sent).content_hash()
    assert server.rows("SELECT content_hash FROM events WHERE id = ?", sent["id"]) == \
        [(digest,)]
    assert digest.startswith("sha256:")


def test_other_content_under_a_stored_source_and_id_is_refused_naming_both_hashes(
        client: Client, server: Server) -> None:
    sent = escort(time=at(0))
    assert client.events(sent).status_code == 200
    other = copy.deepcopy(sent)
    other["data"]["armed"] = False
    before, counted = stored(server), conflicts(client)
    for route in ("/v1/events", "/v1/evaluate"):
        response = client.post(route, other)
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert (error["code"], error["path"]) == ("conflicting-redelivery", "id")
        assert error["stored_hash"] == Event.from_json(sent).content_hash()
        assert error["sent_hash"] == Event.from_json(other).content_hash()
        assert error["stored_hash"] in error["message"]
        assert error["sent_hash"] in error["message"]
    assert conflicts(client) == counted + 2
    assert stored(server) == before
    # An extension attribute more is other content too.
    response = client.events(sent | {"traceparent": "00-1-2-01"})
    assert response.json()["error"]["code"] == "conflicting-redelivery"


def test_a_batch_with_a_conflict_is_refused_whole_naming_the_index(
        client: Client, server: Server) -> None:
    taken = flight(org="org-r", time=at(0))
    assert client.events(taken).status_code == 200
    other = taken | {"time": at(hours=1)}
    fresh = [flight(org="org-r", time=at(hours=2)), flight(org="org-r", time=at(hours=3))]
    before = stored(server)
    response = client.events([fresh[0], other, fresh[1]])
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert (error["code"], error["path"], error["index"]) == \
        ("conflicting-redelivery", "[1].id", 1)
    assert stored(server) == before
    # Within one batch too: the second event re-uses the first one's id.
    twice = client.events([fresh[0], fresh[0] | {"subject": "other"}])
    assert twice.status_code == 409, twice.text
    assert twice.json()["error"]["index"] == 1
    assert stored(server) == before
    # None of the refused flights stayed in the engine's window: this one is the second.
    assert rule_ids(client.events(fresh[1]).json()) == []


def test_a_store_of_schema_1_is_migrated_in_place_and_its_events_keep_their_identity(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA_1.read_text())
    conn.close()
    rows = sqlite3.connect(db).execute("SELECT body FROM events ORDER BY seq").fetchall()
    old = [json.loads(body) for (body,) in rows]
    server = start_server(db=db, rules=v1_rules(tmp_path / "rules"))
    client = server.client()
    assert server.rows("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert server.rows("SELECT COUNT(*) FROM events WHERE content_hash IS NULL") == [(3,)]
    # The same content again: a duplicate, its hash worked out from the stored body.
    again = client.events(old[0])
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    other = copy.deepcopy(old[0])
    other["data"]["armed"] = False
    refused = client.events(other)
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["stored_hash"] == Event.from_json(old[0]).content_hash()
    # The state replayed from the old file still counts its two flights.
    third = flight(org="org-v1", time=at(3))
    assert rule_ids(client.events(third).json()) == ["CNT-001"]
    assert server.rows("SELECT COUNT(*) FROM events") == [(4,)]
    assert server.rows("SELECT content_hash IS NOT NULL FROM events WHERE id = ?",
                       third["id"]) == [(1,)]
    server.restart()
    assert client.events(old[1]).json()["duplicate"] is True
