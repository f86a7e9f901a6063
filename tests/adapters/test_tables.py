"""The adapters' tables: a SQLite file written before their schema was versioned opens with
nothing lost, and the outbox's rows keep their order (their rowid becomes their seq)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mandate_rules._adapters import AdapterStore, Outbox, Rejected
from mandate_rules._adapters.tables import ADAPTER_SCHEMA_VERSION
from mandate_rules._adapters.testing import sample_advisory

from .helpers_local import event_for

_BEFORE = Path(__file__).resolve().parent / "data" / "adapter-tables-before-seq.sql"
_SOURCE = "test://flaky"


def _old_file(path: Path) -> list[str]:
    """A state file as the release before `adapter_schema` left it: three outbox rows queued,
    the second deleted (rowids 1 and 3 remain), a cursor and a rejected record."""
    ids = []
    with sqlite3.connect(path) as conn:
        conn.executescript(_BEFORE.read_text("utf-8"))
        for n in range(3):
            advisory = sample_advisory(event_for(_SOURCE, subject=f"rec-{n}"))
            ids.append(advisory.id)
            conn.execute("INSERT INTO adapter_outbox (advisory_id, source, subject, advisory, "
                         "next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                         (advisory.id, _SOURCE, advisory.subject,
                          json.dumps(advisory.to_json()), 100.0 + n, 100.0 + n))
        conn.execute("DELETE FROM adapter_outbox WHERE rowid = 2")
        conn.execute("INSERT INTO adapter_cursor VALUES ('flaky', ?, 'page-7', 1.0)", (_SOURCE,))
        conn.execute("INSERT INTO adapter_rejected (adapter, source, record_id, reason, record, "
                     "digest, received_at) VALUES ('flaky', ?, 'r9', 'no date', '{\"a\": 1}', "
                     "'d', 2.0)", (_SOURCE,))
    conn.close()
    return [ids[0], ids[2]]


def test_a_file_from_before_the_versioned_schema_opens_with_nothing_lost(
        tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    kept = _old_file(path)
    store = AdapterStore(path)
    outbox = Outbox(store.conn)
    assert store.cursor("flaky", _SOURCE) == "page-7"
    assert store.rejected() == [Rejected(_SOURCE, "r9", "no date", {"a": 1})]
    rows = outbox.rows()
    assert [(r.advisory_id, r.seq, r.status) for r in rows] == [
        (kept[0], 1, "pending"), (kept[1], 3, "pending")]
    assert [r.advisory_id for r in outbox.rows(after=1)] == [kept[1]]  # pages go on
    # A new row comes after every old one, and the same advisory is still queued once.
    fresh = sample_advisory(event_for(_SOURCE, subject="rec-new"))
    assert outbox.enqueue(fresh)
    assert not outbox.enqueue(fresh)
    assert [r.seq for r in outbox.rows()] == [1, 3, 4]
    versions = [r[0] for r in store.conn.execute("SELECT version FROM adapter_schema "
                                                 "ORDER BY version")]
    assert versions == list(range(1, ADAPTER_SCHEMA_VERSION + 1))
    store.close()
    # Opened again: nothing to migrate, nothing changed.
    again = Outbox(path)
    assert [r.seq for r in again.rows()] == [1, 3, 4]
    again.close()
