"""The store's tables as a fresh file gets them: an advisory of the candidate rule packs
(`shadow_advisories`) has the columns of a live one that the shadow diff compares, with the
same types, in the same order (issue 12: they are declared once for both tables)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mandate_rules._service._store import Store

LIVE_ONLY = {"subject", "source", "country", "raised_at", "raised_ts", "status", "stored_at"}


def _columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, int, int]]:
    return [(row[1], row[2], row[3], row[5])  # name, type, not null, primary key
            for row in conn.execute(f"PRAGMA table_info({table})")]


def test_a_candidates_advisory_has_the_shared_columns_of_a_live_one(tmp_path: Path) -> None:
    Store(tmp_path / "store.db").close()
    with sqlite3.connect(tmp_path / "store.db") as conn:
        live = _columns(conn, "advisories")
        candidate = _columns(conn, "shadow_advisories")
        keys = {table: [list(row) for row in conn.execute(
            f"PRAGMA foreign_key_list({table})")] for table in ("advisories", "shadow_advisories")}
    assert candidate == [c for c in live if c[0] not in LIVE_ONLY]
    assert [c[0] for c in candidate] == ["seq", "tenant", "id", "event_seq", "rule_id",
                                         "severity", "rules_version", "rules_hash", "match_key",
                                         "body"]
    assert keys["advisories"] == keys["shadow_advisories"]  # event_seq -> events (seq)
