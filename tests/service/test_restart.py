"""Restart and recovery: engine state is rebuilt from the stored events, so a restart
changes no advisory, and deadlines started before it still expire once after it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mandate_rules import Engine, Event

from .packs import at, completed_movement, escort, rule_ids, v1_rules
from .server import RULES_DIR, Server, demo_events


def test_a_restart_in_the_middle_of_the_demo_changes_no_advisory(
        start_server: Callable[..., Server]) -> None:
    timeline = demo_events()
    engine = Engine.from_directory(RULES_DIR)
    expected = [[a.id for a in engine.evaluate(Event.from_json(e))] for e in timeline]
    assert sum(map(len, expected)) > 0
    server = start_server(rules=RULES_DIR)
    client = server.client()
    half = len(timeline) // 2
    got = [[a["id"] for a in r["advisories"]] for r in client.events(timeline[:half]).json()
           ["results"]]
    server.restart()
    assert f"tenant default: replayed {half} stored events (0 divergent, 0 failed)" \
        in server.log_text()
    got += [[a["id"] for a in client.events(e).json()["advisories"]] for e in timeline[half:]]
    assert got == expected
    stored = sorted(r[0] for r in server.rows("SELECT id FROM advisories"))
    assert stored == sorted(i for ids in expected for i in ids)


def test_a_deadline_started_before_a_restart_expires_once_after_it(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(rules=v1_rules(tmp_path / "rules"))
    client = server.client()
    started = completed_movement("mov-restart", time=at(0), id="mov-start")
    assert rule_ids(client.events(started).json()) == []
    server.restart()
    later = client.events(escort(time=at(days=4))).json()
    assert rule_ids(later) == ["ABS-001", "STL-001"]
    (overdue,) = [a for a in later["advisories"] if a["rule_id"] == "ABS-001"]
    assert [e["id"] for e in overdue["evidence"]] == ["mov-start"]
    assert overdue["raised_at"] == at(hours=72)
    server.restart()
    assert rule_ids(client.events(escort(time=at(days=5))).json()) == ["STL-001"]
    assert server.rows("SELECT COUNT(*) FROM advisories WHERE rule_id = 'ABS-001'") == [(1,)]
    metrics = client.get("/metrics").text
    assert "mandate_rules_replay_divergence_total 0" in metrics
