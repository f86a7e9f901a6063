"""Many clients at once: no event lost or stored twice, no advisory duplicated, and the
result is exactly that of one engine taking the events one by one in the stored order."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from mandate_rules import Engine, Event

from .packs import at, escort, flight, v1_rules
from .server import Server

pytestmark = pytest.mark.both_backends

CLIENTS = 8
OWN = 24  # events only one client sends
SHARED = 16  # events every client sends, racing


def test_concurrent_clients_lose_and_duplicate_nothing(
        start_server: Callable[..., Server], tmp_path: Any) -> None:
    rules = v1_rules(tmp_path / "rules")
    server = start_server(rules=rules)
    shared = [flight(org="org-shared", time=at(hours=i), id=f"shared-{i}") if i % 2
              else escort(id=f"shared-{i}") for i in range(SHARED)]
    answers: dict[str, list[tuple[bool, tuple[str, ...]]]] = defaultdict(list)
    failures: list[str] = []
    lock = threading.Lock()

    def client_run(number: int) -> None:
        client = server.client()
        own = [flight(org=f"org-{number % 3}", time=at(hours=i), id=f"own-{number}-{i}")
               if i % 3 else escort(id=f"own-{number}-{i}") for i in range(OWN)]
        mine = own + shared[number % 2::2] + shared[(number + 1) % 2::2]
        posts: list[Any] = []
        for i in range(0, len(mine), 4):  # singles and batches, interleaved
            posts.extend(mine[i:i + 2])
            posts.append(mine[i + 2:i + 4])
        for body in posts:
            if body == []:
                continue
            response = client.events(body)
            if response.status_code != 200:
                with lock:
                    failures.append(response.text)
                continue
            result = response.json()
            for item in result.get("results", [result]):
                with lock:
                    answers[item["event"]["id"]].append(
                        (item["duplicate"], tuple(a["id"] for a in item["advisories"])))

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert failures == []
    assert len(answers) == CLIENTS * OWN + SHARED
    for event_id, seen in answers.items():
        assert len({ids for _, ids in seen}) == 1, (event_id, seen)  # same advisories each time
        assert [dup for dup, _ in seen].count(False) == 1, (event_id, seen)
    assert all(len(answers[e["id"]]) == CLIENTS for e in shared)

    stored = server.rows("SELECT id, body, advisory_ids FROM events ORDER BY seq")
    assert sorted(r[0] for r in stored) == sorted(answers)
    advisory_ids = [r[0] for r in server.rows("SELECT id FROM advisories")]
    assert len(advisory_ids) == len(set(advisory_ids))
    assert set(advisory_ids) == {i for seen in answers.values() for i in seen[0][1]}
    assert server.rows("SELECT outcome, COUNT(*) FROM decisions GROUP BY outcome ORDER BY 1") \
        == [("duplicate", SHARED * (CLIENTS - 1)), ("evaluated", CLIENTS * OWN + SHARED)]

    # Serialisable: one engine, the stored order, the same advisories for every event.
    engine = Engine.from_directory(rules)
    for event_id, body, ids in stored:
        expected = [a.id for a in engine.evaluate(Event.from_json(json.loads(body)))]
        assert expected == json.loads(ids), event_id
    # The windows were shared by concurrent clients, and still counted right.
    assert server.rows("SELECT COUNT(*) FROM advisories WHERE rule_id = 'CNT-001'")[0][0] > 0
