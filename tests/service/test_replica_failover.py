"""The differential test of replicas (issue 13): three replicas on one PostgreSQL database,
eight clients posting a seeded stream across all three, one replica killed (SIGKILL) and
another paused (SIGSTOP) and resumed mid-stream. Every acknowledged event is judged exactly
once, and what was stored equals what one SQLite server stores for the same stream in the
same per-operation order."""

from __future__ import annotations

import itertools
import json
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from benchmarks._common import catalogue
from benchmarks.stream import EventStream, StreamConfig

from .server import RULES_DIR, Client, Server

LEASE = 2.0
CLIENTS = 8
STREAM = StreamConfig(seed=13, operations=12, ticks=0.0, duplicates=0.02,
                      context_updates=0.002)


def stream(count: int) -> list[dict[str, Any]]:
    events = EventStream(catalogue(), STREAM)
    return [dict(next(events)) for _ in range(count)]


def stored(server: Server) -> tuple[dict[tuple[str, str], list[str]], set[tuple[str, ...]]]:
    """Each stored event's advisory ids, and every advisory (id, rule, severity)."""
    events = {(r[0], r[1]): json.loads(r[2]) for r in server.rows(
        "SELECT source, id, advisory_ids FROM events WHERE kind = 'event'")}
    advisories = {tuple(r) for r in server.rows("SELECT id, rule_id, severity FROM advisories")}
    return events, advisories


class Poster(threading.Thread):
    """One client: posts its operations' events in order, each until a replica takes it."""

    def __init__(self, events: list[dict[str, Any]], urls: list[str], seed: int,
                 progress: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self.events = events
        self.clients = [Client(url) for url in urls]
        self.random = random.Random(seed)
        self.progress = progress
        self.failed: list[str] = []

    def run(self) -> None:
        for event in self.events:
            for attempt in itertools.count():
                client = self.random.choice(self.clients)
                try:
                    response = client.session.post(client.base + "/v1/events", json=event,
                                                   timeout=5)
                except requests.RequestException:
                    continue  # killed or paused: another replica
                if response.status_code == 200:
                    self.progress()
                    break
                if response.status_code != 503 or attempt > 200:
                    self.failed.append(f"{event['id']}: {response.status_code} "
                                       f"{response.text[:300]}")
                    return
                time.sleep(0.1)


def test_three_replicas_with_one_killed_and_one_paused_store_what_one_server_stores(
        tmp_path: Path, pg_url: str, start_server: Callable[..., Server]) -> None:
    events = stream(900)
    config = tmp_path / "replica.toml"
    config.write_text(f"lease_seconds = {LEASE}\n")
    replicas = []
    for n in range(3):
        workdir = tmp_path / f"replica-{n}"
        workdir.mkdir()
        replicas.append(Server(workdir, db=pg_url, rules=RULES_DIR,
                               args=["--config", str(config)]).start())
    try:
        # Each operation's events go through one client, in stream order.
        countries = sorted({e["country"] for e in events})
        per_client: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]
        for event in events:
            per_client[countries.index(event["country"]) % CLIENTS].append(event)
        acknowledged = itertools.count(1)
        done = [0]
        lock = threading.Lock()

        def progress() -> None:
            with lock:
                done[0] = next(acknowledged)

        posters = [Poster(mine, [r.url for r in replicas], seed, progress)
                   for seed, mine in enumerate(per_client)]
        for poster in posters:
            poster.start()
        wait_for(lambda: done[0] >= len(events) // 3, done)
        replicas[0].kill()
        wait_for(lambda: done[0] >= len(events) // 2, done)
        assert replicas[1].proc is not None
        replicas[1].proc.send_signal(signal.SIGSTOP)
        time.sleep(LEASE + 1.5)
        replicas[1].proc.send_signal(signal.SIGCONT)
        for poster in posters:
            poster.join(600)
        assert [f for p in posters for f in p.failed] == []
        assert done[0] == len(events)
        got_events, got_advisories = stored(replicas[2])
        # The killed replica's operations were taken over (their fencing tokens moved on).
        tokens = [r[0] for r in replicas[2].rows("SELECT token FROM operation_leases")]
        assert max(tokens) >= 2, tokens
    finally:
        for replica in replicas:
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGCONT)
                replica.proc.kill()
                replica.proc.wait(30)
    unique = {(e["source"], e["id"]) for e in events}
    assert len(got_events) == len(unique)  # every event once (UNIQUE forbids twice)
    one = start_server(rules=RULES_DIR)
    for country in countries:  # the same per-operation order, one operation after another
        mine = [e for e in events if e["country"] == country]
        for start in range(0, len(mine), 200):
            response = one.client().events(mine[start:start + 200])
            assert response.status_code == 200, response.text
    want_events, want_advisories = stored(one)
    assert got_events == want_events
    assert got_advisories == want_advisories
    assert sum(map(len, want_events.values())) > 50  # the stream raises advisories


def wait_for(condition: Callable[[], bool], done: list[int]) -> None:
    deadline = time.monotonic() + 300
    while not condition():
        assert time.monotonic() < deadline, f"stuck at {done[0]} acknowledged events"
        time.sleep(0.05)
