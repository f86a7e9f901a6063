"""A replica's connection to PostgreSQL cut (issue 13): no acknowledged event is lost; the
replica connects again between transactions, and a cut in the middle of one fails only that
request (nothing of it kept), never the service."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from mandate_rules import Engine, Event

from .. import pg
from ..tcpproxy import TcpProxy
from .server import RULES_DIR, Server, demo_events


def post_until_taken(server: Server, event: dict[str, Any]) -> dict[str, Any]:
    """Post `event` until the server takes it (a 503 says nothing was stored: send again)."""
    for _ in range(100):
        response = server.client().events(event)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 503, response.text
        time.sleep(0.1)
    raise AssertionError(f"{event['id']} was never taken")


def test_cutting_the_database_connection_loses_no_acknowledged_event(
        tmp_path: Path, pg_url: str) -> None:
    timeline = demo_events()
    engine = Engine.from_directory(RULES_DIR)
    expected = {e["id"]: [a.id for a in engine.evaluate(Event.from_json(e))] for e in timeline}
    host, port = pg.target(pg_url)
    with TcpProxy(host, port) as proxy:
        server = Server(tmp_path, db=pg.via(pg_url, "127.0.0.1", proxy.port),
                        rules=RULES_DIR).start()
        acknowledged: dict[str, list[str]] = {}
        third = len(timeline) // 3
        for event in timeline[:third]:
            acknowledged[event["id"]] = [a["id"] for a in post_until_taken(server, event)
                                         ["advisories"]]
        proxy.cut()  # between requests: the next transaction connects again
        for event in timeline[third:2 * third]:
            acknowledged[event["id"]] = [a["id"] for a in post_until_taken(server, event)
                                         ["advisories"]]
        # Cut again and again while requests are in flight.
        cutting = threading.Event()

        def cut_repeatedly() -> None:
            while not cutting.wait(0.05):
                proxy.cut()

        cutter = threading.Thread(target=cut_repeatedly)
        cutter.start()
        try:
            for event in timeline[2 * third:]:
                acknowledged[event["id"]] = [a["id"] for a in post_until_taken(server, event)
                                             ["advisories"]]
        finally:
            cutting.set()
            cutter.join()
        assert server.client().get("/readyz").status_code == 200
        server.stop()
    # Read directly, not through the proxy: every acknowledged event stored once, with the
    # advisories it was answered with, which are those one engine raises.
    direct = Server(tmp_path / "reader", db=pg_url)
    rows = {r[0]: json.loads(r[1]) for r in direct.rows(
        "SELECT id, advisory_ids FROM events WHERE kind = 'event'")}
    assert rows == acknowledged
    assert acknowledged == expected
