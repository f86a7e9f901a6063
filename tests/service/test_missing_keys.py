"""The sidecar follows a record by its `subject` when the data has no `entity_id`, and counts,
logs and writes in the decision log every event a stateful rule matched but could not follow
(a key field missing)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mandate_rules._service._schema import SCHEMA_VERSION
from mandate_rules._service._store import Store

from .packs import at, escort, event, rule_ids, v1_rules
from .server import Client, Server


def missing_keys(client: Client) -> dict[tuple[str, str], float]:
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return {(s.labels["rule"], s.labels["field"]): s.value
            for s in families["mandate_rules_missing_keys"].samples
            if s.name.endswith("_total")}


def test_a_trip_known_by_its_subject_is_followed_and_one_known_by_nothing_is_counted(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    server = start_server(rules=v1_rules(tmp_path / "rules"))
    client = server.client()
    trip = event("movement.request", {"status": "completed"}, time=at(0), subject="kobo-77")
    assert client.events(trip).status_code == 200
    assert missing_keys(client) == {}
    later = client.events(escort(time=at(hours=79))).json()
    assert rule_ids(later) == ["ABS-001", "STL-001"]
    debt = next(a for a in later["advisories"] if a["rule_id"] == "ABS-001")
    assert debt["subject"] == "kobo-77"

    anonymous = event("movement.request", {"status": "completed"}, time=at(hours=80))
    assert client.events(anonymous).status_code == 200
    assert missing_keys(client) == {("ABS-001", "entity_id"): 1.0}
    assert (f"event {anonymous['id']} from test://service: ABS-001 no-debrief: the event has "
            "no entity_id to group by") in server.log_text()
    decisions = {d["event"]["id"]: d for d in client.get("/v1/decisions").json()["items"]}
    assert decisions[anonymous["id"]]["missing_keys"] == [
        "ABS-001 no-debrief: the event has no entity_id to group by"]
    assert decisions[trip["id"]]["missing_keys"] == []


def test_a_store_written_before_the_column_gains_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:  # as schema 1 left it
        conn.execute("ALTER TABLE decisions DROP COLUMN missing_keys")
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    store = Store(path)
    try:
        rows = store._w.execute("PRAGMA table_info(decisions)").fetchall()
        assert "missing_keys" in {row[1] for row in rows}
        assert store._w.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        store.close()
