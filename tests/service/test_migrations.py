"""Schema migrations (issue 13): a store written by the previous release (schema 2) opens
with nothing lost; replicas starting at once on an empty PostgreSQL database never both
migrate; a database of a newer schema is refused, unchanged."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mandate_rules import Engine, Event
from mandate_rules._database import parse_target
from mandate_rules._service._dbfile import StoreError
from mandate_rules._service._schema import MIGRATIONS, SCHEMA_VERSION
from mandate_rules._service._store import Store

from .server import RULES_DIR, Server, demo_events

# Made by the release before this schema (commit 89c229c): half the demo timeline posted to
# `serve`, one advisory acknowledged, the server stopped (which wrote the tenant's snapshot).
SCHEMA_2 = Path(__file__).parent / "data" / "schema-2.sql"


def test_a_store_of_the_previous_release_opens_with_nothing_lost(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    conn = sqlite3.connect(db)
    conn.executescript(SCHEMA_2.read_text())
    before = {table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
              for table in ("events", "advisories", "resolutions", "decisions")}
    (seq,) = conn.execute("SELECT seq FROM snapshots").fetchone()
    conn.close()
    timeline = demo_events()
    half = len(timeline) // 2
    assert before["events"] == half
    assert before["resolutions"] == 1
    server = start_server(db=db, rules=RULES_DIR)
    assert server.rows("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    for table, count in before.items():
        assert server.rows(f"SELECT COUNT(*) FROM {table}") == [(count,)]
    # The tenant's snapshot became one per operation, at the same seq, and was restored.
    countries = sorted({e["country"] for e in timeline[:half]})
    assert server.rows("SELECT country, seq FROM operation_snapshots ORDER BY country") == \
        [(c, seq) for c in countries]
    last = server.log_text().rsplit("--- start", 1)[1]
    assert f"restored the snapshots of {len(countries)} operations" in last
    assert "replayed 0 stored events (0 divergent, 0 failed)" in last
    engine = Engine.from_directory(RULES_DIR)
    expected = [[a.id for a in engine.evaluate(Event.from_json(e))] for e in timeline]
    client = server.client()
    again = client.events(timeline[:half]).json()["results"]
    assert [r["duplicate"] for r in again] == [True] * half
    assert [[a["id"] for a in r["advisories"]] for r in again] == expected[:half]
    rest = [[a["id"] for a in client.events(e).json()["advisories"]] for e in timeline[half:]]
    assert rest == expected[half:]
    assert server.rows("SELECT status FROM advisories WHERE status != 'open'") == \
        [("acknowledged",)]


_MIGRATE = """
import json, sys
from mandate_rules._database import parse_target
from mandate_rules._service._dbfile import connect_target
from mandate_rules._service._schema import migrate
conn = connect_target(parse_target(sys.argv[1]), reader=False)
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.readline()  # all start migrating at once
print(json.dumps(migrate(conn)))
"""


def test_replicas_starting_at_once_never_both_migrate(pg_url: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", _MIGRATE, pg_url], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    applied = []
    for proc in procs:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0
        applied.append(json.loads(out))
    versions = [m.version for m in MIGRATIONS]
    assert sorted(v for a in applied for v in a) == versions  # each applied by one process
    store = Store(parse_target(pg_url))
    rows = store.connection.execute(
        "SELECT version, applied_by FROM schema_migrations ORDER BY version").fetchall()
    assert [r[0] for r in rows] == versions
    store.close()


def test_a_database_of_a_newer_schema_is_refused_unchanged(db_url: str) -> None:
    target = parse_target(db_url)
    Store(target).close()
    store = Store(target)
    conn = store.connection
    if conn.dialect == "sqlite":
        conn.execute("PRAGMA user_version = 99")
    else:
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at, applied_by) "
                     "VALUES (99, 'from the future', 'now', 'test')")
    store.close()
    with pytest.raises(StoreError, match=r"written by a newer mandate-rules \(schema 99; "
                                         rf"this one knows {SCHEMA_VERSION}\)"):
        Store(target)
