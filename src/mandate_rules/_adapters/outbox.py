"""The write-back outbox: advisories waiting to be written to the record they are about.

An advisory is queued once per target (its id and its source: a second `enqueue` of the same
advisory is a no-op), delivered by `deliver_due`, and retried with a growing delay until the
source takes it; then it is marked done and never sent again. A row is leased while it is
being written, so two deliverers (threads or processes) never write the same row at once.
Should a process die after the source took a write but before the row was marked done, the
next attempt goes to adapters whose write-back is itself idempotent (Primero checks its flags
for the advisory's mark first; CommCare upserts by external id; Kobo sets a status or a
field), so the record still carries the advisory once.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import attrs

from .._models import Advisory
from .contract import Adapter
from .errors import AdapterError, SourceError
from .store import connect

__all__ = ["Outbox", "OutboxReport", "OutboxRow"]

log = logging.getLogger("mandate_rules.adapters.outbox")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS adapter_outbox (
    advisory_id TEXT NOT NULL, source TEXT NOT NULL, subject TEXT, advisory TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, lease_until REAL, last_error TEXT, target TEXT, remote_id TEXT,
    created_at REAL NOT NULL, done_at REAL,
    PRIMARY KEY (advisory_id, source));
CREATE INDEX IF NOT EXISTS adapter_outbox_due ON adapter_outbox (status, next_at);
"""

PENDING, DONE = "pending", "done"


@attrs.frozen
class OutboxRow:
    advisory_id: str
    source: str
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    target: str | None
    remote_id: str | None


@attrs.frozen
class OutboxReport:
    """What one `deliver_due` pass did."""

    written: int = 0
    failed: int = 0
    pending: int = 0


class Outbox:
    """Advisories to write back, in SQLite (its own file, or the sidecar's store)."""

    def __init__(self, db: str | Path | sqlite3.Connection, *, base_delay: float = 5.0,
                 max_delay: float = 3600.0, lease: float = 120.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.conn = db if isinstance(db, sqlite3.Connection) else connect(db)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.clock = clock
        self._lock = threading.RLock()
        with self._lock:
            self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        self.conn.close()

    def enqueue(self, advisory: Advisory) -> bool:
        """Queue `advisory` for its source; False when it was queued (or written) before."""
        with self._lock:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO adapter_outbox (advisory_id, source, subject, advisory, "
                "next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (advisory.id, advisory.source, advisory.subject,
                 json.dumps(advisory.to_json(), ensure_ascii=False), self.clock(), self.clock()))
            return cur.rowcount == 1

    def rows(self) -> list[OutboxRow]:
        with self._lock:
            found = self.conn.execute(
                "SELECT advisory_id, source, subject, status, attempts, last_error, target, "
                "remote_id FROM adapter_outbox ORDER BY created_at, advisory_id").fetchall()
        return [OutboxRow(*row) for row in found]

    def pending(self) -> int:
        with self._lock:
            row = self.conn.execute("SELECT COUNT(*) FROM adapter_outbox WHERE status = ?",
                                    (PENDING,)).fetchone()
        return int(row[0])

    def next_due(self) -> float | None:
        """When the earliest pending row is due (None: nothing pending)."""
        with self._lock:
            row = self.conn.execute("SELECT MIN(next_at) FROM adapter_outbox WHERE status = ?",
                                    (PENDING,)).fetchone()
        return None if row[0] is None else float(row[0])

    def _claim(self, advisory_id: str, source: str, now: float) -> bool:
        with self._lock:
            clock = min(now, self.clock())
            cur = self.conn.execute(
                "UPDATE adapter_outbox SET lease_until = ? WHERE advisory_id = ? AND source = ? "
                "AND status = ? AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?)",
                (clock + self.lease, advisory_id, source, PENDING, now, clock))
            return cur.rowcount == 1

    def deliver_due(self, resolve: Callable[[str], Adapter | None], *, limit: int = 100,
                    all_pending: bool = False) -> OutboxReport:
        """Write every due advisory with the adapter `resolve` gives for its source
        (`all_pending`: every waiting one, due or not, as a run of the CLI does)."""
        now = float("inf") if all_pending else self.clock()
        with self._lock:
            due = self.conn.execute(
                "SELECT advisory_id, source, advisory, attempts FROM adapter_outbox "
                "WHERE status = ? AND next_at <= ? ORDER BY next_at LIMIT ?",
                (PENDING, now, limit)).fetchall()
        written = failed = 0
        for advisory_id, source, text, attempts in due:
            if not self._claim(advisory_id, source, now):
                continue
            adapter = resolve(source)
            error: str
            retry_after: float | None = None
            if adapter is None:
                error = f"no adapter is configured for {source}"
            else:
                try:
                    result = adapter.write_back(Advisory.from_json(json.loads(text)))
                except SourceError as exc:
                    error, retry_after = f"{type(exc).__name__}: {exc}", exc.retry_after
                except AdapterError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                except Exception as exc:  # a bug in an adapter must not stop the other rows
                    log.exception("write-back of %s to %s failed", advisory_id, source)
                    error = f"{type(exc).__name__}: {exc}"
                else:
                    with self._lock:
                        self.conn.execute(
                            "UPDATE adapter_outbox SET status = ?, attempts = attempts + 1, "
                            "done_at = ?, lease_until = NULL, last_error = NULL, target = ?, "
                            "remote_id = ? WHERE advisory_id = ? AND source = ?",
                            (DONE, self.clock(), result.target, result.remote_id, advisory_id,
                             source))
                    written += 1
                    continue
            delay = min(self.max_delay, self.base_delay * (2 ** attempts))
            delay = max(delay, retry_after or 0.0)
            log.warning("write-back of %s to %s failed (attempt %d), next in %.0f s: %s",
                        advisory_id, source, attempts + 1, delay, error)
            with self._lock:
                self.conn.execute(
                    "UPDATE adapter_outbox SET attempts = attempts + 1, next_at = ?, "
                    "lease_until = NULL, last_error = ? WHERE advisory_id = ? AND source = ?",
                    (self.clock() + delay, error[:500], advisory_id, source))
            failed += 1
        return OutboxReport(written, failed, self.pending())
