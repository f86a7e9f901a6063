"""Shadow mode: candidate packs see the same traffic, their advisories are kept apart, and
the diff says what they would raise, drop or grade differently, by rule and event."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .packs import at, completed_movement, escort, flight, rule_ids, v1_rules, v2_rules
from .server import Server

pytestmark = pytest.mark.both_backends


def test_the_diff_shows_what_the_candidate_would_raise_drop_or_regrade(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(rules=v1_rules(tmp_path / "live"),
                          args=["--shadow", str(v2_rules(tmp_path / "candidate"))])
    client = server.client()
    armed_escort = escort(armed=True, id="e-armed")
    unarmed = escort(armed=False, id="e-unarmed")
    flights = [flight(org="org-s", time=at(day), id=f"f-{day}") for day in range(3)]
    movement = completed_movement("mov-s", id="m-1")
    results = client.events([armed_escort, unarmed, *flights, movement]).json()["results"]
    assert [rule_ids(r) for r in results] == [["STL-001"], [], [], [], ["CNT-001"], []]
    assert all(r["rules_version"]["version"] == "1.0.0" for r in results)

    diff = client.get("/v1/shadow/diff").json()
    assert diff["live"]["version"] == "1.0.0"
    assert diff["candidate"]["version"] == "2.0.0"
    assert diff["events_compared"] == 6
    assert diff["summary"] == {"STL-001": {"raise": 0, "drop": 0, "severity": 1},
                               "STL-002": {"raise": 1, "drop": 0, "severity": 0},
                               "CNT-001": {"raise": 0, "drop": 1, "severity": 0}}
    by_change = {c["change"]: c for c in diff["changes"]}
    assert by_change["raise"]["event"]["id"] == "e-unarmed"
    assert by_change["raise"]["candidate"]["rules_version"]["version"] == "2.0.0"
    assert by_change["drop"]["event"]["id"] == "f-2"
    assert by_change["drop"]["live"]["id"] == results[4]["advisories"][0]["id"]
    assert by_change["severity"]["live"]["severity"] == "warning"
    assert by_change["severity"]["candidate"]["severity"] == "critical"

    # The candidate's advisories are stored apart: the live API never shows them.
    assert client.all_advisories(rule="STL-002") == []
    assert server.rows("SELECT rule_id FROM shadow_advisories ORDER BY seq") == [
        ("STL-001",), ("STL-002",)]
    (logged,) = [d for d in client.get("/v1/decisions").json()["items"]
                 if d["event"]["id"] == "e-unarmed"]
    assert logged["shadow"]["rules_version"]["version"] == "2.0.0"
    assert len(logged["shadow"]["advisory_ids"]) == 1

    pages: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/shadow/diff", params=params).json()
        pages.extend(page["changes"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == diff["changes"]

