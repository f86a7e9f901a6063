"""The write-back outbox: advisories waiting to be written to the record they are about.

An advisory is queued once per target (its id and its source: a second `enqueue` of the same
advisory is a no-op), delivered by `deliver_due`, and retried with a growing delay until the
source takes it; then it is marked done and never sent again. A row is leased while it is
being written, so two deliverers (threads or processes) never write the same row at once. On
PostgreSQL, where several sidecar replicas deliver from one table, each due row is claimed
by exactly one of them: ``SELECT … FOR UPDATE SKIP LOCKED`` in a transaction that sets the
rows' lease, so a second replica passes over the rows the first is taking and takes others.

A write the source refuses in a way no retry can change (a 404, 409 or 422: a `SourceError`
that is not `retryable`, other than 401/403; or an advisory the adapter cannot place) is not
retried: the row goes to the *dead* state with the source's message, to be looked at, fixed
(the record, the form, the settings) and put back by hand with `retry` (``mandate-rules
outbox --retry``, ``POST /v1/admin/outbox/retry``). Failures that may pass (no answer,
429/5xx, 401/403 until the credential is fixed, no adapter configured) keep being retried.
Should a process die after the source took a write but before the row was marked done, the
next attempt goes to adapters whose write-back is itself idempotent (Primero checks its flags
for the advisory's mark first; CommCare upserts by external id; Kobo reads the submission and
leaves a status or a field that already holds the advisory alone), so the record still
carries the advisory once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import attrs

from .._database import Connection, Target
from .._models import Advisory
from .contract import Adapter
from .errors import (
    AdapterConfigError,
    AdapterError,
    EgressRefusedError,
    SourceAuthError,
    SourceError,
)
from .tables import ensure_tables, open_db

__all__ = ["DEAD", "DONE", "PENDING", "STATUSES", "Outbox", "OutboxReport", "OutboxRow",
           "cannot_succeed"]

log = logging.getLogger("mandate_rules.adapters.outbox")

PENDING, DONE, DEAD = "pending", "done", "dead"
#: Every state a row can be in.
STATUSES = (PENDING, DONE, DEAD)

_COLUMNS = ("advisory_id, source, subject, status, attempts, last_error, target, remote_id, "
            "seq, created_at, next_at, done_at")


def cannot_succeed(exc: BaseException) -> bool:
    """Whether a write-back that raised `exc` can never succeed as it stands.

    The source refused the request itself (a `SourceError` that is not `retryable`: 404,
    409, 422...), or the adapter cannot place the advisory at all (an `AdapterError` of its
    own, such as an advisory naming no record). A wrong or expired credential (401/403), a
    configuration or loopback-guard refusal, and failures that are not the adapter's own
    (a bug) are fixed outside the row, so those rows keep being retried.
    """
    if isinstance(exc, SourceError):
        return not exc.retryable and not isinstance(exc, SourceAuthError)
    return isinstance(exc, AdapterError) and not isinstance(
        exc, (AdapterConfigError, EgressRefusedError))


@attrs.frozen
class OutboxRow:
    """One advisory to write back, and where its delivery stands.

    `status` is pending, done or dead; `last_error` the last failure (for a dead row: what
    the source answered); `seq` orders the rows (and pages them); times are Unix seconds.
    """

    advisory_id: str
    source: str
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    target: str | None
    remote_id: str | None
    seq: int = 0
    created_at: float = 0.0
    next_at: float | None = None
    done_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as the API and the CLI show it (times in RFC 3339, UTC)."""
        return {"advisory_id": self.advisory_id, "source": self.source,
                "subject": self.subject, "status": self.status, "attempts": self.attempts,
                "last_error": self.last_error, "target": self.target,
                "remote_id": self.remote_id, "created_at": _time(self.created_at),
                "next_attempt_at": _time(self.next_at) if self.status == PENDING else None,
                "done_at": _time(self.done_at)}


def _time(value: float | None) -> str | None:
    if value is None:
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat().replace("+00:00", "Z")


@attrs.frozen
class OutboxReport:
    """What one `deliver_due` pass did."""

    written: int = 0
    failed: int = 0
    pending: int = 0
    dead: int = 0


class Outbox:
    """Advisories to write back: in a SQLite file of their own, or in the sidecar's database
    (SQLite or PostgreSQL). `db`: a `Target`, a path (a SQLite file), or an open connection."""

    def __init__(self, db: Target | str | Path | Connection, *, base_delay: float = 5.0,
                 max_delay: float = 3600.0, lease: float = 120.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.conn = open_db(db)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.clock = clock
        self._lock = threading.RLock()
        with self._lock:
            ensure_tables(self.conn)

    def close(self) -> None:
        self.conn.close()

    def enqueue(self, advisory: Advisory) -> bool:
        """Queue `advisory` for its source; False when it was queued (or written) before."""
        with self._lock:
            row = self.conn.execute(
                "INSERT INTO adapter_outbox (advisory_id, source, subject, advisory, next_at, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING seq",
                (advisory.id, advisory.source, advisory.subject,
                 json.dumps(advisory.to_json(), ensure_ascii=False), self.clock(),
                 self.clock())).fetchone()
            return row is not None

    def rows(self, *, statuses: Collection[str] = (), sources: Collection[str] | None = None,
             after: int = 0, limit: int | None = None) -> list[OutboxRow]:
        """The rows in the order they were queued: only those in `statuses` (all when empty)
        and for `sources` (all when None), after the row `after` (a `seq`), at most `limit`."""
        if sources is not None and not sources:
            return []
        query = f"SELECT {_COLUMNS} FROM adapter_outbox WHERE seq > ?"
        params: list[Any] = [after]
        if statuses:
            query += f" AND status IN ({', '.join('?' * len(statuses))})"
            params.extend(statuses)
        if sources is not None:
            query += f" AND source IN ({', '.join('?' * len(sources))})"
            params.extend(sources)
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._lock:
            found = self.conn.execute(query, params).fetchall()
        return [OutboxRow(*row) for row in found]

    def counts(self) -> dict[tuple[str, str], int]:
        """How many rows each (source, status) has."""
        with self._lock:
            found = self.conn.execute("SELECT source, status, COUNT(*) FROM adapter_outbox "
                                      "GROUP BY source, status").fetchall()
        return {(source, status): int(n) for source, status, n in found}

    def retry(self, *, advisory_id: str | None = None,
              sources: Collection[str] | None = None) -> list[str]:
        """Put dead rows (the one of `advisory_id`, or all; only for `sources` when given)
        back to pending, due now: after the record, the form or the settings were fixed.
        Returns the advisory ids put back."""
        if sources is not None and not sources:
            return []
        query = "UPDATE adapter_outbox SET status = ?, next_at = ?, lease_until = NULL, " \
                "done_at = NULL WHERE status = ?"
        params: list[Any] = [PENDING, self.clock(), DEAD]
        if advisory_id is not None:
            query += " AND advisory_id = ?"
            params.append(advisory_id)
        if sources is not None:
            query += f" AND source IN ({', '.join('?' * len(sources))})"
            params.extend(sources)
        with self._lock:
            found = self.conn.execute(query + " RETURNING advisory_id", params).fetchall()
        for (retried,) in found:
            log.info("write-back of %s put back in the queue by hand", retried)
        return sorted(row[0] for row in found)

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
            row = self.conn.execute(
                "UPDATE adapter_outbox SET lease_until = ? WHERE advisory_id = ? AND source = ? "
                "AND status = ? AND next_at <= ? AND (lease_until IS NULL OR lease_until < ?) "
                "RETURNING seq", (clock + self.lease, advisory_id, source, PENDING, now,
                                  clock)).fetchone()
            return row is not None

    def _claim_due(self, now: float, limit: int) -> list[Any]:
        """PostgreSQL: lease up to `limit` due rows no one else holds, in one transaction.
        SKIP LOCKED passes over the rows another replica is claiming at this moment, and the
        lease set here keeps them from everyone once this transaction commits."""
        with self._lock:
            clock = min(now, self.clock())
            self.conn.execute(self.conn.begin_sql)
            try:
                due = self.conn.execute(
                    "SELECT seq, advisory_id, source, advisory, attempts FROM adapter_outbox "
                    "WHERE status = ? AND next_at <= ? AND (lease_until IS NULL OR "
                    "lease_until < ?) ORDER BY next_at, seq LIMIT ? FOR UPDATE SKIP LOCKED",
                    (PENDING, now, clock, limit)).fetchall()
                if due:
                    seqs = [row[0] for row in due]
                    self.conn.execute(
                        f"UPDATE adapter_outbox SET lease_until = ? WHERE seq IN "
                        f"({', '.join('?' * len(seqs))})", (clock + self.lease, *seqs))
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        return [tuple(row)[1:] for row in due]

    def _release(self, rows: list[Any]) -> None:
        """Give back the leases of claimed rows this pass will not write (it was stopped)."""
        with self._lock:
            for advisory_id, source, *_ in rows:
                self.conn.execute("UPDATE adapter_outbox SET lease_until = NULL WHERE "
                                  "advisory_id = ? AND source = ? AND status = ?",
                                  (advisory_id, source, PENDING))

    def deliver_due(self, resolve: Callable[[str], Adapter | None], *, limit: int = 100,
                    all_pending: bool = False,
                    keep_going: Callable[[], bool] = lambda: True) -> OutboxReport:
        """Write every due advisory with the adapter `resolve` gives for its source
        (`all_pending`: every waiting one, due or not, as a run of the CLI does), asking
        `keep_going` before each (a stopping sidecar ends the pass between two rows)."""
        now = float("inf") if all_pending else self.clock()
        claimed = self.conn.dialect == "postgresql"
        if claimed:
            due = self._claim_due(now, limit)
        else:  # SQLite: one writer at a time; each row is leased just before it is written
            with self._lock:
                due = self.conn.execute(
                    "SELECT advisory_id, source, advisory, attempts FROM adapter_outbox "
                    "WHERE status = ? AND next_at <= ? ORDER BY next_at LIMIT ?",
                    (PENDING, now, limit)).fetchall()
        written = failed = dead = 0
        for index, (advisory_id, source, text, attempts) in enumerate(due):
            if not keep_going():
                if claimed:
                    self._release(due[index:])
                break
            if not claimed and not self._claim(advisory_id, source, now):
                continue
            adapter = resolve(source)
            error: str
            retry_after: float | None = None
            hopeless = False
            if adapter is None:
                error = f"no adapter is configured for {source}"
            else:
                try:
                    result = adapter.write_back(Advisory.from_json(json.loads(text)))
                except SourceError as exc:
                    error, retry_after = f"{type(exc).__name__}: {exc}", exc.retry_after
                    hopeless = cannot_succeed(exc)
                except AdapterError as exc:
                    error, hopeless = f"{type(exc).__name__}: {exc}", cannot_succeed(exc)
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
            if hopeless:
                log.error("write-back of %s to %s refused (attempt %d), not retried until put "
                          "back by hand: %s", advisory_id, source, attempts + 1, error)
                with self._lock:
                    self.conn.execute(
                        "UPDATE adapter_outbox SET status = ?, attempts = attempts + 1, "
                        "done_at = ?, lease_until = NULL, last_error = ? WHERE advisory_id = ? "
                        "AND source = ?", (DEAD, self.clock(), error[:1000], advisory_id, source))
                dead += 1
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
        return OutboxReport(written, failed, self.pending(), dead)
