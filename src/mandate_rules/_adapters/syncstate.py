"""What adapters keep between runs, in SQLite or PostgreSQL: sync cursors, the fingerprint
of the last version of each record seen, and the records that could not be mapped.

The tables are prefixed ``adapter_`` and created if missing (`tables`), so they can live in a
file of their own (the CLI's ``--state``) or beside the sidecar's tables in its database.

A record is *new* when the content of its event (type, subject, country, area and data: not
the id, the time, or the source, which is part of the key) differs from the last one seen for
the same record. That one
rule makes push and pull safe to overlap, makes a re-read page harmless, and stops the echo
of our own write-back: a flag, a note or an advisory property changes the record in the
source, but none of the fields the rules read, so the echo is not new.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs

from .._database import Connection, Target
from .._models import Event
from .contract import Batch, Rejected
from .tables import connect, ensure_tables, open_db

__all__ = ["AdapterStore", "Admitted", "Moved", "Retried", "connect", "event_fingerprint"]

def event_fingerprint(event: Event) -> str:
    """A hash of what the rules can read of `event` (not its id, not its time, not its source:
    the store keys the hash by source, and a connection's source can be renamed)."""
    return _fingerprint(event, None)


def _fingerprint(event: Event, source: str | None) -> str:
    # `source` given: the hash as stores written before the source left it were (the
    # event's content with that source), so their rows still match.
    body = event.to_json()
    keys = ("type", "subject", "country", "area", "data")
    content = {k: body.get(k) for k in keys}
    if source is not None:
        content["source"] = source
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _address_only(a: str, b: str) -> bool:
    """Whether two source URIs differ only in their host and port."""
    one, two = urlsplit(a), urlsplit(b)
    return (one.scheme, one.path, one.query) == (two.scheme, two.path, two.query) \
        and one.netloc != two.netloc


@attrs.frozen
class Admitted:
    """The outcome of admitting one batch: the events to evaluate, and the rest counted."""

    new: tuple[Event, ...]
    unchanged: int
    rejected: int
    ignored: int


@attrs.frozen
class Moved:
    """What `AdapterStore.follow_source` found: the state moved from `before` (None: nothing
    to move), or the several earlier sources it could not choose between."""

    before: str | None = None
    ambiguous: tuple[str, ...] = ()


@attrs.frozen
class Retried:
    """Rejected records mapped again with the current mapping: the events they now give
    (the caller admits them), how many now are ignored, and how many are still rejected."""

    events: tuple[Event, ...] = ()
    ignored: int = 0
    still_rejected: int = 0


def storable_text(text: str) -> str:
    """`text` with any lone UTF-16 surrogate written as its escape (`\\ud800`), and any NUL
    as `\\x00`: such strings come from real form data, SQLite cannot take the first and
    PostgreSQL's text cannot take the second, so a record kept as rejected for holding one
    would otherwise fail the whole pull or push that brought it."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\0", "\\x00")


def _digest(item: Rejected, body: str) -> str:
    return hashlib.sha256(
        f"{item.source}\0{item.record_id}\0{item.reason}\0{body}".encode()).hexdigest()


class AdapterStore:
    """Cursors, seen records and rejected records; safe to share between threads."""

    def __init__(self, db: Target | str | Path | Connection) -> None:
        """`db`: a `Target` (the sidecar's database, SQLite or PostgreSQL), a path (a SQLite
        file), or a connection already open."""
        self.conn = open_db(db)
        self._lock = threading.RLock()
        with self._lock:
            ensure_tables(self.conn)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction: everything in it is kept, or nothing is."""
        with self._lock:
            self.conn.execute(self.conn.begin_sql)
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def cursor(self, adapter: str, source: str) -> str | None:
        with self._lock:
            row = self.conn.execute("SELECT cursor FROM adapter_cursor WHERE adapter = ? AND "
                                    "source = ?", (adapter, source)).fetchone()
        return None if row is None else row[0]

    def save_cursor(self, adapter: str, source: str, cursor: str | None) -> None:
        with self._lock:
            self.conn.execute(
                "INSERT INTO adapter_cursor (adapter, source, cursor, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (adapter, source) DO UPDATE SET "
                "cursor = excluded.cursor, updated_at = excluded.updated_at",
                (adapter, source, cursor, time.time()))

    def admit(self, adapter: str, batch: Batch) -> Admitted:
        """Keep the rejected records, remember every event, and return those that are new.

        Call it inside `transaction()` together with handing the new events on, so that a
        failure forgets both.
        """
        with self._lock:
            new, unchanged = self.fresh(batch.events)
            self.remember(new)
            self.keep_rejected(adapter, batch.rejected)
        return Admitted(tuple(new), unchanged, len(batch.rejected), len(batch.ignored))

    def fresh(self, events: Iterable[Event]) -> tuple[list[Event], int]:
        """The events whose content differs from the last seen for their record (nothing is
        written), and how many were unchanged. Call `remember` once they are handed on."""
        new: list[Event] = []
        unchanged = 0
        latest: dict[tuple[str, str], str] = {}
        earlier: dict[str, list[str]] = {}  # source -> the sources it was known by
        with self._lock:
            for event in events:
                key = (event.source, event.subject or event.id)
                fingerprint = event_fingerprint(event)
                if key not in latest:
                    row = self.conn.execute("SELECT fingerprint FROM adapter_seen WHERE "
                                            "source = ? AND subject = ?", key).fetchone()
                    latest[key] = "" if row is None else row[0]
                    if event.source not in earlier:
                        earlier[event.source] = [r[0] for r in self.conn.execute(
                            "SELECT before FROM adapter_source_move WHERE source = ?",
                            (event.source,))]
                    # A row written before the source left the hash matches its old hash.
                    if latest[key] in {_fingerprint(event, s)
                                       for s in (event.source, *earlier[event.source])}:
                        latest[key] = fingerprint
                if latest[key] == fingerprint:
                    unchanged += 1
                    continue
                latest[key] = fingerprint
                new.append(event)
        return new, unchanged

    def remember(self, events: Iterable[Event]) -> None:
        """Record `events` as the latest seen version of their records."""
        with self._lock:
            for event in events:
                self.conn.execute(
                    "INSERT INTO adapter_seen (source, subject, fingerprint, event_id, seen_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (source, subject) DO UPDATE SET "
                    "fingerprint = excluded.fingerprint, event_id = excluded.event_id, "
                    "seen_at = excluded.seen_at",
                    (event.source, event.subject or event.id, event_fingerprint(event),
                     event.id, time.time()))

    def keep_rejected(self, adapter: str, rejected: Iterable[Rejected]) -> None:
        with self._lock:
            for received in rejected:
                record = received.to_json()["record"]
                body = json.dumps(record, sort_keys=True, ensure_ascii=False)
                if storable_text(body) != body:
                    body = json.dumps(record, sort_keys=True)
                item = attrs.evolve(received, source=storable_text(received.source),
                                    record_id=None if received.record_id is None
                                    else storable_text(received.record_id),
                                    reason=storable_text(received.reason))
                digest = _digest(item, body)
                self.conn.execute(
                    "INSERT INTO adapter_rejected (adapter, source, record_id, reason, record, "
                    "digest, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (adapter, item.source, item.record_id, item.reason, body, digest,
                     time.time()))

    def rejected(self, source: str | None = None) -> list[Rejected]:
        """The records kept because they could not be mapped, oldest first."""
        query = "SELECT source, record_id, reason, record FROM adapter_rejected"
        params: Sequence[Any] = ()
        if source is not None:
            query += " WHERE source = ?"
            params = (source,)
        with self._lock:
            rows = self.conn.execute(query + " ORDER BY id", params).fetchall()
        return [Rejected(s, r, why, json.loads(record)) for s, r, why, record in rows]

    def retry_rejected(self, source: str, remap: Callable[[Mapping[str, Any]], Batch | None],
                       *, write: bool = True) -> Retried:
        """Map every record kept as rejected for `source` again with `remap` (the adapter's
        current mapping). A record that now gives an event or is ignored leaves the table; one
        still rejected keeps its row, with today's reason. With `write` False nothing is
        changed (a look). Call it inside `transaction()` with admitting the events."""
        events: list[Event] = []
        ignored = still = 0
        with self._lock:
            rows = self.conn.execute("SELECT id, record_id, reason, record FROM adapter_rejected "
                                     "WHERE source = ? ORDER BY id", (source,)).fetchall()
            for row_id, record_id, reason, text in rows:
                outcome = remap(json.loads(text))
                if outcome is None:  # the adapter cannot map a record alone: keep them all
                    return Retried(still_rejected=len(rows))
                events.extend(outcome.events)
                ignored += len(outcome.ignored)
                now = outcome.rejected[0] if outcome.rejected else None
                still += 1 if now is not None else 0
                if not write:
                    continue
                if now is None:
                    self.conn.execute("DELETE FROM adapter_rejected WHERE id = ?", (row_id,))
                elif now.reason != reason:
                    digest = _digest(Rejected(source, record_id, now.reason), text)
                    taken = self.conn.execute("SELECT 1 FROM adapter_rejected WHERE digest = ?",
                                              (digest,)).fetchone()
                    if taken:  # the same record under today's reason is already kept
                        self.conn.execute("DELETE FROM adapter_rejected WHERE id = ?",
                                          (row_id,))
                    else:
                        self.conn.execute("UPDATE adapter_rejected SET reason = ?, digest = ? "
                                          "WHERE id = ?", (now.reason, digest, row_id))
        return Retried(tuple(events), ignored, still)

    def follow_source(self, adapter: str, source: str, *, write: bool = True) -> Moved:
        """Move a connection's state to `source` when it was kept under a source that differs
        only in host and port (the server's address changed, or a ``source`` setting now
        names the connection): cursor, seen and rejected records, and outbox rows with their
        advisories. Nothing moves when `source` already has state, or when several earlier
        sources qualify (`Moved.ambiguous`). With `write` False, only say what would move."""
        scheme = urlsplit(source).scheme
        with self._lock:
            if self.cursor(adapter, source) is not None or self.conn.execute(
                    "SELECT 1 FROM adapter_seen WHERE source = ? LIMIT 1", (source,)).fetchone():
                return Moved()  # the connection's state is where it belongs
            known = {r[0] for r in self.conn.execute(
                "SELECT source FROM adapter_cursor WHERE adapter = ? UNION "
                "SELECT DISTINCT source FROM adapter_seen UNION "
                "SELECT source FROM adapter_rejected WHERE adapter = ?", (adapter, adapter))}
            known |= {r[0] for r in self.conn.execute(
                "SELECT source FROM adapter_outbox WHERE status = 'pending'")}
            candidates = sorted(s for s in known
                                if urlsplit(s).scheme == scheme and _address_only(s, source))
            if len(candidates) != 1:
                return Moved(ambiguous=tuple(candidates) if len(candidates) > 1 else ())
            before = candidates[0]
            if write:
                with self.transaction():
                    self._move(adapter, before, source)
        return Moved(before=before)

    def _move(self, adapter: str, before: str, source: str) -> None:
        # `source` has no cursor and no seen record (`follow_source` checked): those move
        # as they are; a rejected record or an outbox row already kept under `source` wins
        # over its twin under `before`, which is dropped.
        conn = self.conn
        conn.execute("UPDATE adapter_cursor SET source = ? WHERE adapter = ? AND source = ?",
                     (source, adapter, before))
        conn.execute("UPDATE adapter_seen SET source = ? WHERE source = ?", (source, before))
        rows = conn.execute("SELECT id, record_id, reason, record FROM adapter_rejected "
                            "WHERE source = ?", (before,)).fetchall()
        for row_id, record_id, reason, text in rows:
            digest = _digest(Rejected(source, record_id, reason), text)
            conn.execute("UPDATE adapter_rejected SET source = ?, digest = ? WHERE id = ? AND "
                         "NOT EXISTS (SELECT 1 FROM adapter_rejected WHERE digest = ?)",
                         (source, digest, row_id, digest))
        conn.execute("DELETE FROM adapter_rejected WHERE source = ?", (before,))
        # The advisory keeps its id (what was written carries its mark), and is now about
        # the record under its new source, where the adapter writes it.
        moved = ("json_set(advisory, '$.source', ?)" if conn.dialect == "sqlite"
                 else "jsonb_set(advisory::jsonb, '{source}', to_jsonb(?::text))::text")
        conn.execute(f"UPDATE adapter_outbox SET source = ?, advisory = {moved} WHERE "
                     "source = ? AND advisory_id NOT IN (SELECT advisory_id FROM "
                     "adapter_outbox WHERE source = ?)", (source, source, before, source))
        # What is left had a twin already queued under the new source.
        conn.execute("DELETE FROM adapter_outbox WHERE source = ?", (before,))
        conn.execute("INSERT INTO adapter_source_move (source, before, moved_at) "
                     "VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (source, before, time.time()))
        conn.execute("INSERT INTO adapter_source_move (source, before, moved_at) "
                     "SELECT ?, before, moved_at FROM adapter_source_move WHERE source = ? "
                     "ON CONFLICT DO NOTHING", (source, before))
