"""SIGKILL in the middle of a stream of events: after a restart, every event that got a 2xx
is stored, once, with its advisories, each once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from .packs import at, completed_movement, escort, flight, v1_rules
from .server import Server

pytestmark = pytest.mark.both_backends

CLIENTS = 4
KILL_AFTER = 120  # acknowledged events before the kill; the clients keep sending through it


def stream(number: int) -> list[Any]:
    """Singles and batches of three kinds of events, unique to this client."""
    bodies: list[Any] = []
    for i in range(400):
        name = f"c{number}-{i}"
        kinds = (escort(id=name, time=at(hours=i)),
                 flight(id=name, org=f"org-{number}", time=at(hours=i)),
                 completed_movement(f"mov-{name}", id=name, time=at(hours=i)))
        one = kinds[i % 3]
        if i % 5 == 4:
            bodies.append([one, escort(id=name + "-b", time=at(hours=i))])
        else:
            bodies.append(one)
    return bodies


def test_sigkill_loses_no_acknowledged_event_and_duplicates_nothing(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(rules=v1_rules(tmp_path / "rules"))
    acked: dict[str, tuple[str, ...]] = {}
    sent: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    enough = threading.Event()

    def client_run(number: int) -> None:
        client = server.client()
        for body in stream(number):
            for item in body if isinstance(body, list) else [body]:
                with lock:
                    sent[item["id"]] = item
            try:
                response = client.events(body)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                # the server is gone (killed before the answer, or while sending it): this
                # body was not acknowledged
                return
            if response.status_code != 200:
                continue
            result = response.json()
            with lock:
                for item in result.get("results", [result]):
                    acked[item["event"]["id"]] = tuple(a["id"] for a in item["advisories"])
                if len(acked) >= KILL_AFTER:
                    enough.set()

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    assert enough.wait(300), "the clients never got enough answers"
    server.kill()
    for thread in threads:
        thread.join(120)
    assert len(acked) >= KILL_AFTER
    assert len(sent) > len(acked)  # the kill landed mid-stream

    server.start()
    if not server.on_postgresql:  # a SQLite file's own check; PostgreSQL recovers by its WAL
        assert server.rows("PRAGMA integrity_check") == [("ok",)]
    counts = dict(server.rows("SELECT id, COUNT(*) FROM events GROUP BY id"))
    assert all(counts.get(event_id) == 1 for event_id in acked), "an acknowledged event is lost"
    advisory_counts = dict(server.rows("SELECT id, COUNT(*) FROM advisories GROUP BY id"))
    for ids in acked.values():
        assert all(advisory_counts.get(i) == 1 for i in ids)
    assert set(advisory_counts) >= {i for ids in acked.values() for i in ids}

    client = server.client()
    for event_id, ids in acked.items():
        again = client.events(sent[event_id]).json()
        assert again["duplicate"] is True
        assert tuple(a["id"] for a in again["advisories"]) == ids
    assert server.rows("SELECT COUNT(*) FROM advisories") == [(len(advisory_counts),)]
    assert "mandate_rules_replay_divergence_total 0" in client.get("/metrics").text
