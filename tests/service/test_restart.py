"""Restart and recovery: engine state is rebuilt from the stored events, so a restart
changes no advisory, and deadlines started before it still expire once after it."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mandate_rules import Engine, Event

from .packs import at, completed_movement, escort, rule_ids, v1_rules
from .server import RULES_DIR, Server, demo_events

pytestmark = pytest.mark.both_backends


def replayed_total(log: str) -> int:
    """The stored events replayed, summed over the log's lines (one per tenant on SQLite,
    one per operation taken over on PostgreSQL); each line must report none divergent."""
    lines = re.findall(r"tenant default: replayed (\d+) stored events \((\d+) divergent, "
                       r"(\d+) failed\)", log)
    assert lines, log
    assert all(d == "0" and f == "0" for _, d, f in lines), lines
    return sum(int(n) for n, _, _ in lines)


def wait_until_taken(server: Server, operations: int) -> None:
    """PostgreSQL: a replica started after a crash takes the operations over once the dead
    process's leases run out (lease_seconds); wait for that."""
    deadline = time.monotonic() + 60
    # An operation is rebuilt (its "replayed" line logged) after its lease is taken.
    while server.log_text().rsplit("--- start", 1)[1].count("tenant default: replayed") \
            < operations:
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.2)


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
    last = server.log_text().rsplit("--- start", 1)[1]
    # Stopping wrote the state as a snapshot; the restart loads it and replays nothing.
    assert "tenant default: restored the snapshots of" in last
    assert replayed_total(last) == 0
    got += [[a["id"] for a in client.events(e).json()["advisories"]] for e in timeline[half:]]
    assert got == expected
    stored = sorted(r[0] for r in server.rows("SELECT id FROM advisories"))
    assert stored == sorted(i for ids in expected for i in ids)


@pytest.mark.parametrize(("every", "restored"), [(0, False), (6, True)])
def test_after_a_crash_state_comes_from_the_last_snapshot_and_the_events_after_it(
        start_server: Callable[..., Server], every: int, restored: bool) -> None:
    """SIGKILL writes no snapshot: the restart loads the last periodic one (every 6 events
    here) and replays what was stored after it, or replays the whole log (0: snapshots only
    when stopping); either way the rest of the timeline raises exactly what it would have."""
    timeline = demo_events()
    engine = Engine.from_directory(RULES_DIR)
    expected = [[a.id for a in engine.evaluate(Event.from_json(e))] for e in timeline]
    server = start_server(rules=RULES_DIR, args=["--snapshot-every", str(every)])
    client = server.client()
    cut = 2 * len(timeline) // 3
    got = [[a["id"] for a in client.events(e).json()["advisories"]] for e in timeline[:cut]]
    snapshots = server.rows("SELECT DISTINCT seq FROM operation_snapshots")
    assert bool(snapshots) is restored
    server.kill()
    server.start()
    if server.on_postgresql:
        wait_until_taken(server, len({e["country"] for e in timeline[:cut]}))
    last = server.log_text().rsplit("--- start", 1)[1]
    assert ("restored the snapshots of" in last) is restored
    (replayed,) = server.rows("SELECT COUNT(*) FROM events WHERE seq > ?",
                              snapshots[0][0] if restored else 0)[0]
    assert 0 < replayed < (every if restored else cut + 1)
    assert replayed_total(last) == replayed
    got += [[a["id"] for a in client.events(e).json()["advisories"]] for e in timeline[cut:]]
    assert got == expected


def test_a_snapshot_of_other_rule_packs_is_not_used(start_server: Callable[..., Server],
                                                    tmp_path: Path) -> None:
    """After the rule packs change, the snapshot (of the old packs' state) is left alone and
    the whole log is replayed under the new packs."""
    timeline = demo_events()[:12]
    server = start_server(rules=RULES_DIR)
    client = server.client()
    for event in timeline:
        client.events(event)
    server.stop()
    changed = tmp_path / "changed-rules"
    shutil.copytree(RULES_DIR, changed)
    bundle = changed / "bundle.yaml"
    bundle.write_text(bundle.read_text().replace("version:", "version: 9.9.9\n# was:", 1))
    server.rules = changed
    server.start()
    last = server.log_text().rsplit("--- start", 1)[1]
    assert "restored the snapshot" not in last
    assert replayed_total(last) == len(timeline)


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


def test_a_dry_run_after_a_restart_from_the_snapshot_answers_as_before_it(
        start_server: Callable[..., Server]) -> None:
    # The restored state holds its deadlines' explanations as frozen items, which the dry
    # run's copy of an operation's state once failed on (a 500 for nearly every event).
    timeline = demo_events()
    server = start_server(rules=RULES_DIR)
    client = server.client()
    assert client.events(timeline).status_code == 200
    again = [e | {"id": e["id"] + "-dry"} for e in timeline]
    before = [client.post("/v1/evaluate", e).json()["advisories"] for e in again]
    server.restart()
    assert "restored the snapshot" in server.log_text().rsplit("--- start", 1)[1]
    for event, expected in zip(again, before, strict=True):
        response = client.post("/v1/evaluate", event)
        assert response.status_code == 200, response.text
        assert response.json()["advisories"] == expected
