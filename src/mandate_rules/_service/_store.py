"""The store: the event log and everything derived from it, in a SQLite file (WAL mode) or
a PostgreSQL database (several replicas on one database), through the same SQL.

One writer per process: the engine thread owns the write connection, and the service sends
a 2xx only after `commit()` returned (SQLite ``synchronous=FULL``, PostgreSQL's default
``synchronous_commit``: the commit has reached the disk). Readers use their own connections
(one per thread), which WAL (or PostgreSQL's MVCC) lets run beside the writer.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .._content import content_hash
from .._database import Connection, DatabaseError, Target
from .._models import RulesVersion
from ._dbfile import StoreError, connect_target
from ._reads import StoreReads
from ._rows import (
    AdvisoryRow,
    Duplicate,
    Evaluated,
    LogRow,
    SnapshotRow,
    StoredEvent,
    now_text,
)
from ._schema import SCHEMA_VERSION, SchemaTooNew, migrate

__all__ = ["Store"]

_T = TypeVar("_T")


def _text(ids: Sequence[str]) -> str:
    return json.dumps(list(ids))


def _values(columns: int, rows: int) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([one] * rows)


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + size]



class Store(StoreReads):
    """The database. `writer` methods belong to the engine thread; readers to any thread."""

    def __init__(self, target: Target | Path,
                 writer_options: Mapping[str, str] | None = None) -> None:
        self.target = target if isinstance(target, Target) else Target(path=target)
        # The SQLite file (None on PostgreSQL): the lock beside it (one server per file).
        self.path = self.target.path
        shown = self.target.shown
        try:
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._w: Connection = connect_target(self.target, reader=False, role="writer",
                                                 options=writer_options)
            migrate(self._w)
        except SchemaTooNew as exc:
            raise StoreError(f"{shown} was written by a newer mandate-rules (schema "
                             f"{exc.args[0]}; this one knows {SCHEMA_VERSION})") from None
        except DatabaseError as exc:  # its message names the database already
            raise StoreError(str(exc)) from exc
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{shown}: {exc}") from exc
        self.dialect = self._w.dialect
        # Every multi-row statement binds the tenant once more.
        self._max_args = self._w.max_params - 1
        self._local = threading.local()
        self._readers: list[tuple[threading.Thread, Connection]] = []
        self._readers_lock = threading.Lock()

    @property
    def connection(self) -> Connection:
        """The writer's connection (the engine thread's only)."""
        return self._w

    def close(self) -> None:
        with self._readers_lock:
            for _, conn in self._readers:
                conn.close()
            self._readers.clear()
        self._w.close()

    def _rows(self, columns: int) -> int:
        """How many rows of `columns` values one statement may bind."""
        return max(1, self._max_args // columns)

    # ---------------------------------------------------------------- transactions (writer)

    def begin(self) -> None:
        if not self._w.in_transaction:
            self._w.execute(self._w.begin_sql)

    def commit(self) -> None:
        if self._w.in_transaction:
            self._w.execute("COMMIT")

    def rollback(self) -> None:
        if self._w.in_transaction:
            self._w.execute("ROLLBACK")

    def savepoint(self) -> None:
        self.begin()
        self._w.execute("SAVEPOINT job")

    def release(self) -> None:
        self._w.execute("RELEASE job")

    def rollback_to(self) -> None:
        self._w.execute("ROLLBACK TO job")
        self._w.execute("RELEASE job")

    # ---------------------------------------------------------------- writes (writer)

    def find_events(self, tenant: str,
                    keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredEvent]:
        """The stored events among these (source, id) pairs, one query per chunk."""
        found: dict[tuple[str, str], StoredEvent] = {}
        unique = list(dict.fromkeys(keys))
        for part in _chunks(unique, self._rows(2)):
            # A join, not `(source, id) IN (VALUES ...)`: SQLite plans that one as a scan
            # of the tenant's events once there are two pairs.
            rows = self._w.execute(
                "SELECT e.seq, e.source, e.id, e.rules_version, e.rules_hash, e.advisory_ids, "
                "e.content_hash, CASE WHEN e.content_hash IS NULL THEN e.body END AS body "
                "FROM (VALUES " + _values(2, len(part)) + ") AS k JOIN events e "
                "ON e.tenant = ? AND e.source = k.column1 AND e.id = k.column2",
                [*(v for key in part for v in key), tenant]).fetchall()
            for row in rows:
                # Stored before schema 2: the hash of the body, which is the event's to_json.
                digest = row["content_hash"] or content_hash(json.loads(row["body"]))
                found[(row["source"], row["id"])] = StoredEvent(
                    row["seq"], RulesVersion(row["rules_version"], row["rules_hash"]),
                    tuple(json.loads(row["advisory_ids"])), digest)
        return found

    def record(self, tenant: str, rules_version: RulesVersion,
               entries: Sequence[Evaluated | Duplicate]) -> tuple[list[int], list[list[str]]]:
        """Write evaluated events in order: each entry's log row (a duplicate has none), its
        advisories (each once per tenant), the candidate's, and its decision-log row.

        Returns each entry's `seq` in the log, and the ids of the advisories it stored first.
        Each table gets one multi-row statement (per chunk), not one per row: the engine
        thread hands the interpreter lock to the event loop on every statement, and may wait
        up to a switch interval to get it back.
        """
        self.begin()
        seqs: list[int] = []
        log: list[tuple[int, Evaluated]] = []
        advisories: list[tuple[int, AdvisoryRow]] = []
        shadow: list[tuple[int, AdvisoryRow]] = []
        fresh = iter(self._next_seqs(sum(isinstance(e, Evaluated) for e in entries)))
        for entry in entries:
            if isinstance(entry, Duplicate):
                seqs.append(entry.seq if entry.seq is not None else seqs[entry.earlier or 0])
                continue
            last = next(fresh)
            seqs.append(last)
            log.append((last, entry))
            advisories += ((last, row) for row in entry.advisories)
            if entry.shadow is not None:
                shadow += ((last, row) for row in entry.shadow.advisories or ())
        self._insert_events(tenant, rules_version, log)
        stored = self._insert_advisories(tenant, advisories)
        self._insert_shadow(tenant, shadow)
        self._insert_decisions(tenant, rules_version, list(zip(seqs, entries, strict=True)))
        new: list[list[str]] = []
        for entry in entries:
            mine = []
            if isinstance(entry, Evaluated):
                for row in entry.advisories:
                    if row.id in stored:
                        stored.discard(row.id)  # the first entry that raised it stored it
                        mine.append(row.id)
            new.append(mine)
        return seqs, new

    def _next_seqs(self, count: int) -> list[int]:
        """`count` new log positions, in increasing order, never handed out before.

        On PostgreSQL from the table's sequence, which replicas writing at once share (the
        positions of one operation increase in commit order, since one replica writes it);
        on SQLite past the largest ever handed out (AUTOINCREMENT never reuses one), which
        the one writer holding the write lock may count itself.
        """
        if count == 0:
            return []
        if self.dialect == "postgresql":
            return [int(row[0]) for row in self._w.execute(
                "SELECT nextval('events_seq_seq') FROM generate_series(1, ?)", (count,))]
        row = self._w.execute(
            "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), "
            "COALESCE((SELECT max(seq) FROM events), 0))").fetchone()
        return list(range(int(row[0]) + 1, int(row[0]) + 1 + count))

    def _insert_events(self, tenant: str, rules_version: RulesVersion,
                       entries: Sequence[tuple[int, Evaluated]]) -> None:
        # `seq` is given, not left to SQLite: `RETURNING` costs more than the insert itself.
        received_at = now_text()
        for part in _chunks(entries, self._rows(14)):
            args: list[Any] = []
            for seq, entry in part:
                body = entry.body
                args += (seq, tenant, entry.kind, body["source"], body["id"], body["type"],
                         body["country"], body["time"], received_at, entry.body_text,
                         rules_version.version, rules_version.hash,
                         _text([row.id for row in entry.advisories]), entry.content_hash)
            self._w.execute(
                "INSERT INTO events (seq, tenant, kind, source, id, type, country, time, "
                "received_at, body, rules_version, rules_hash, advisory_ids, content_hash) "
                "VALUES " + _values(14, len(part)), args)

    def _insert_advisories(self, tenant: str,
                           rows: Sequence[tuple[int, AdvisoryRow]]) -> set[str]:
        """Store each advisory unless this tenant already has it; the ids newly stored."""
        if not rows:
            return set()
        seen = set(self._present("advisories", tenant, [row.id for _, row in rows]))
        fresh: list[tuple[int, AdvisoryRow]] = []
        for seq, row in rows:
            if row.id not in seen:
                seen.add(row.id)
                fresh.append((seq, row))
        stored_at = now_text()
        for part in _chunks(fresh, self._rows(15)):
            args: list[Any] = []
            for seq, row in part:
                args += (tenant, row.id, seq, row.rule_id, row.severity, row.subject,
                         row.source, row.country, row.raised_at, row.raised_ts,
                         row.rules_version.version, row.rules_version.hash, row.match_key,
                         stored_at, row.body)
            self._w.execute(
                "INSERT INTO advisories (tenant, id, event_seq, rule_id, severity, subject, "
                "source, country, raised_at, raised_ts, rules_version, rules_hash, match_key, "
                "stored_at, body) VALUES " + _values(15, len(part)), args)
        return {row.id for _, row in fresh}

    def _present(self, table: str, tenant: str, ids: Sequence[str]) -> list[str]:
        """Which of these ids `table` already holds for the tenant (writer connection)."""
        found: list[str] = []
        for part in _chunks(list(dict.fromkeys(ids)), self._rows(1)):
            found += (r[0] for r in self._w.execute(
                f"SELECT id FROM {table} WHERE tenant = ? "
                f"AND id IN ({', '.join('?' * len(part))})", [tenant, *part]))
        return found

    def _insert_shadow(self, tenant: str, rows: Sequence[tuple[int, AdvisoryRow]]) -> None:
        for part in _chunks(rows, self._rows(9)):
            args: list[Any] = []
            for seq, row in part:
                args += (tenant, row.id, seq, row.rule_id, row.severity,
                         row.rules_version.version, row.rules_version.hash, row.match_key,
                         row.body)
            self._w.execute(
                "INSERT INTO shadow_advisories (tenant, id, event_seq, rule_id, "
                "severity, rules_version, rules_hash, match_key, body) VALUES "
                + _values(9, len(part)) + " ON CONFLICT DO NOTHING", args)

    def _insert_decisions(self, tenant: str, rules_version: RulesVersion,
                          entries: Sequence[tuple[int, Evaluated | Duplicate]]) -> None:
        now = dt.datetime.now(dt.UTC)
        recorded_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        recorded_ts = now.timestamp()
        for part in _chunks(entries, self._rows(17)):
            args: list[Any] = []
            for seq, entry in part:
                missing = None
                if isinstance(entry, Duplicate):
                    ref, outcome, version = entry.ref, "duplicate", entry.rules_version
                    ids, duration_ms, shadow = entry.advisory_ids, 0.0, None
                else:
                    ref, outcome, version = entry.body, "evaluated", rules_version
                    ids = tuple(row.id for row in entry.advisories)
                    duration_ms, shadow = entry.duration_ms, entry.shadow
                    missing = _text(entry.missing_keys) if entry.missing_keys else None
                candidate = shadow.advisories if shadow is not None else None
                args += (tenant, recorded_at, recorded_ts, seq, ref["source"], ref["id"],
                         ref["type"], outcome, version.version, version.hash, _text(ids),
                         round(duration_ms, 3),
                         shadow.version.version if shadow else None,
                         shadow.version.hash if shadow else None,
                         _text([r.id for r in candidate]) if candidate is not None else None,
                         shadow.error if shadow else None, missing)
            self._w.execute(
                "INSERT INTO decisions (tenant, recorded_at, recorded_ts, event_seq, source, "
                "event_id, type, outcome, rules_version, rules_hash, advisory_ids, "
                "duration_ms, shadow_version, shadow_hash, shadow_advisory_ids, shadow_error, "
                "missing_keys) VALUES " + _values(17, len(part)), args)

    def insert_resolution(self, tenant: str, advisory_id: str, decision: str, text: str | None,
                          decided_by: str) -> dict[str, Any] | None:
        """Record a resolution and make it the advisory's status; None if no such advisory."""
        found = self._w.execute("SELECT 1 FROM advisories WHERE tenant = ? AND id = ?",
                                (tenant, advisory_id)).fetchone()
        if found is None:
            return None
        recorded_at = now_text()
        seq = self._w.execute(
            "INSERT INTO resolutions (tenant, advisory_id, decision, text, decided_by, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
            (tenant, advisory_id, decision, text, decided_by, recorded_at)).fetchone()[0]
        self._w.execute("UPDATE advisories SET status = ? WHERE tenant = ? AND id = ?",
                        (decision, tenant, advisory_id))
        return {"seq": seq, "advisory_id": advisory_id, "decision": decision,
                "text": text, "by": decided_by, "recorded_at": recorded_at}

    def advisory_texts(self, tenant: str, ids: Sequence[str]) -> tuple[str, ...]:
        """The stored advisories with these ids as JSON text, in the order given (writer
        connection)."""
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(ids))
        for part in _chunks(unique, self._rows(1)):
            for row in self._w.execute(
                    f"SELECT id, body FROM advisories WHERE tenant = ? "
                    f"AND id IN ({', '.join('?' * len(part))})", [tenant, *part]):
                found[row["id"]] = row["body"]
        return tuple(found[i] for i in ids if i in found)

    # ---------------------------------------------------------------- replay (writer)

    def tenants(self) -> list[str]:
        return [r[0] for r in self._w.execute("SELECT DISTINCT tenant FROM events")]

    def countries(self, tenant: str) -> list[str]:
        """The operations (countries) the tenant's log holds events of."""
        return [r[0] for r in self._w.execute(
            "SELECT DISTINCT country FROM events WHERE tenant = ?", (tenant,))]

    def last_seq(self, tenant: str, back: int = 0,
                 countries: Collection[str] | None = None) -> int:
        """The seq of the tenant's last stored event (0 if none), or of the one `back` before
        it (0 if there are not that many); of these operations only, when named."""
        where, args = _operations(tenant, countries)
        row = self._w.execute(
            f"SELECT seq FROM events WHERE {where} ORDER BY seq DESC LIMIT 1 OFFSET ?",
            (*args, back)).fetchone()
        return int(row[0]) if row is not None else 0

    def put_snapshot(self, tenant: str, country: str, seq: int, rules_hash: str, clocks: str,
                     body: str) -> None:
        self._w.execute(
            "INSERT INTO operation_snapshots (tenant, country, seq, rules_hash, taken_at, "
            "clocks, body) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, country) DO "
            "UPDATE SET seq = excluded.seq, rules_hash = excluded.rules_hash, "
            "taken_at = excluded.taken_at, clocks = excluded.clocks, body = excluded.body",
            (tenant, country, seq, rules_hash, now_text(), clocks, body))

    def get_snapshots(self, tenant: str,
                      countries: Collection[str] | None = None) -> list[SnapshotRow]:
        """The last snapshot of each of the tenant's operations (of these only, if named)."""
        where, args = _operations(tenant, countries)
        return [SnapshotRow(row["country"], row["seq"], row["rules_hash"], row["taken_at"],
                            row["clocks"], row["body"])
                for row in self._w.execute(
                    "SELECT country, seq, rules_hash, taken_at, clocks, body FROM "
                    f"operation_snapshots WHERE {where} ORDER BY country", args)]

    def log(self, tenant: str, chunk: int = 1000, *, after: int = 0,
            countries: Collection[str] | None = None) -> Iterator[LogRow]:
        """The tenant's event log in arrival order, from after seq `after`, read in chunks;
        of these operations only, when named."""
        where, args = _operations(tenant, countries)
        while True:
            rows = self._w.execute(
                "SELECT seq, kind, country, time, body, rules_hash, advisory_ids FROM events "
                f"WHERE {where} AND seq > ? ORDER BY seq LIMIT ?",
                (*args, after, chunk)).fetchall()
            if not rows:
                return
            for row in rows:
                yield LogRow(row["seq"], row["kind"], row["country"], row["time"],
                             row["body"], row["rules_hash"],
                             tuple(json.loads(row["advisory_ids"])))
            after = rows[-1]["seq"]


def _operations(tenant: str, countries: Collection[str] | None) -> tuple[str, list[Any]]:
    """The condition selecting the tenant's rows, of the named operations only if named."""
    if countries is None:
        return "tenant = ?", [tenant]
    names = sorted(countries)
    if not names:
        return "tenant = ? AND 1 = 0", [tenant]
    return f"tenant = ? AND country IN ({', '.join('?' * len(names))})", [tenant, *names]
