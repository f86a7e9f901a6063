"""The embedded store: one SQLite file in WAL mode, the event log and everything derived from it.

Tables (every row carries its tenant; no query runs without one):

* `events`: the event log in arrival order (`seq`): each event, and each `clock.tick` the
  service applied, with the rules version that evaluated it and the advisories it raised;
* `advisories`: each advisory once (`UNIQUE(tenant, id)`), its body as JSON, its status;
* `resolutions`: what field officers decided about an advisory, append-only;
* `decisions`: the decision log: every evaluation (and every re-delivery), with duration;
* `shadow_advisories`: what the candidate rule packs raised, kept apart;
* the adapters' write-back outbox (`adapter_outbox`) is created by
  `mandate_rules._adapters.outbox` in the same file.

One writer: the engine thread owns the write connection, and the service sends a 2xx only
after `commit()` returned (``synchronous=FULL``: the commit has reached the disk). Readers
use their own connections (one per thread), which WAL lets run beside the writer.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .._compare import Compared, compare, tally
from .._models import RulesVersion, content_hash

# 2: events.content_hash and decisions.missing_keys (a file of schema 1 gets both
# columns when opened; see `_migrate`).
SCHEMA_VERSION = 2

_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('event', 'tick')),
    source TEXT NOT NULL,
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    country TEXT NOT NULL,
    time TEXT NOT NULL,
    received_at TEXT NOT NULL,
    body TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    advisory_ids TEXT NOT NULL,
    content_hash TEXT,
    UNIQUE (tenant, source, id)
);
CREATE INDEX IF NOT EXISTS events_by_tenant ON events (tenant, seq);

CREATE TABLE IF NOT EXISTS advisories (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    subject TEXT,
    source TEXT NOT NULL,
    country TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    raised_ts REAL NOT NULL,
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    match_key TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'open',
    stored_at TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, id)
);
CREATE INDEX IF NOT EXISTS advisories_by_rule ON advisories (tenant, rule_id, seq);
CREATE INDEX IF NOT EXISTS advisories_by_subject ON advisories (tenant, subject, seq);
CREATE INDEX IF NOT EXISTS advisories_by_time ON advisories (tenant, raised_ts);

CREATE TABLE IF NOT EXISTS resolutions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    advisory_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    text TEXT,
    decided_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    FOREIGN KEY (tenant, advisory_id) REFERENCES advisories (tenant, id)
);
CREATE INDEX IF NOT EXISTS resolutions_by_advisory ON resolutions (tenant, advisory_id, seq);

CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_ts REAL NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('evaluated', 'duplicate')),
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    advisory_ids TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    shadow_version TEXT,
    shadow_hash TEXT,
    shadow_advisory_ids TEXT,
    shadow_error TEXT,
    -- JSON list: stateful rules that matched the event but lacked a key field (NULL: none)
    missing_keys TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_tenant ON decisions (tenant, seq);

-- One per tenant: its live engine's state (Engine.snapshot) holding every stored event of
-- the tenant up to seq, under the rule packs of rules_hash. A restart restores it and
-- replays only the events after seq.
CREATE TABLE IF NOT EXISTS snapshots (
    tenant TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    rules_hash TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    clocks TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS shadow_advisories (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    match_key TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, id)
);

"""


class StoreError(Exception):
    """The database cannot be opened or written."""


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a file written by an older schema up to this one, in place.

    Schema 1 had no `events.content_hash`: the column is added, and left empty for the
    events already stored; their hash is worked out from the stored body when a
    re-delivery needs it (`Store.find_events`), which gives the same hash. Nor had it
    `decisions.missing_keys`, added empty.
    """
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if "content_hash" not in columns:
        conn.execute("ALTER TABLE events ADD COLUMN content_hash TEXT")
    # Nor `decisions.missing_keys` (the stateful rules an event matched without a key
    # field); the rows written before it name none.
    columns = {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
    if "missing_keys" not in columns:
        conn.execute("ALTER TABLE decisions ADD COLUMN missing_keys TEXT")


# The encoding of Starlette's JSONResponse, so that texts encoded here can be stored and
# then spliced into a response unchanged. Values come from `to_json()` methods, which build
# trees, never cycles: skipping the cycle check saves a quarter of the time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False,
                            separators=(",", ":"))


def json_text(value: Any) -> str:
    """`value` as compact JSON, byte for byte as JSONResponse renders it."""
    return _ENCODER.encode(value)


def _text(ids: Sequence[str]) -> str:
    return json.dumps(list(ids))


def _values(columns: int, rows: int) -> str:
    one = "(" + ", ".join("?" * columns) + ")"
    return ", ".join([one] * rows)


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start:start + size]


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@attrs.frozen
class AdvisoryRow:
    """An advisory as the store writes it."""

    id: str
    rule_id: str
    severity: str
    subject: str | None
    source: str
    country: str
    raised_at: str
    raised_ts: float
    rules_version: RulesVersion
    match_key: str
    body: str


@attrs.frozen
class ShadowOutcome:
    """What the candidate rule packs made of an event: their advisories, or why they failed."""

    version: RulesVersion
    advisories: tuple[AdvisoryRow, ...] | None
    error: str | None


@attrs.frozen
class Evaluated:
    """An event (or a clock tick) just evaluated, as the store writes it."""

    kind: str
    body: Mapping[str, Any]  # the event as JSON: the log's columns are read from it
    body_text: str  # the same, encoded once
    advisories: tuple[AdvisoryRow, ...]
    duration_ms: float
    shadow: ShadowOutcome | None = None
    missing_keys: tuple[str, ...] = ()  # see Engine.evaluate_detailed
    content_hash: str | None = None  # an event's (`Event.content_hash`); None for a tick


@attrs.frozen
class Duplicate:
    """A re-delivery: only its decision-log row is written. It points at the stored event
    (`seq`), or at the entry of the same `Store.record` call that evaluated it (`earlier`)."""

    ref: Mapping[str, str]  # source, id, type
    rules_version: RulesVersion
    advisory_ids: tuple[str, ...]
    seq: int | None = None
    earlier: int | None = None


@attrs.frozen
class StoredEvent:
    seq: int
    rules_version: RulesVersion
    advisory_ids: tuple[str, ...]
    content_hash: str


@attrs.frozen
class LogRow:
    """One entry of the event log, for replay (`body` as stored: JSON text)."""

    seq: int
    kind: str
    country: str
    time: str
    body: str
    rules_hash: str
    advisory_ids: tuple[str, ...]


@attrs.frozen
class SnapshotRow:
    """A tenant's last snapshot: its state holds every stored event up to `seq`."""

    seq: int
    rules_hash: str
    taken_at: str
    clocks: str
    body: str


@attrs.frozen
class AdvisoryFilter:
    subject: str | None = None
    source: str | None = None
    country: str | None = None
    rules: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    since: float | None = None
    until: float | None = None


def _connect(path: Path, *, reader: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    if reader:
        conn.execute("PRAGMA query_only = ON")
    else:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: SQLite refused WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous = FULL")
    return conn


class Store:
    """The SQLite file. `writer` methods belong to the engine thread; readers to any thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._w = _connect(path, reader=False)
            version = self._w.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(f"{path} was written by a newer mandate-rules (schema "
                                 f"{version}; this one knows {SCHEMA_VERSION})")
            self._w.executescript(_SCHEMA)
            _migrate(self._w)
            self._w.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"{path}: {exc}") from exc
        # Every multi-row statement binds the tenant once more.
        self._max_args = self._w.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._w.close()

    def _rows(self, columns: int) -> int:
        """How many rows of `columns` values one statement may bind."""
        return max(1, self._max_args // columns)

    # ---------------------------------------------------------------- transactions (writer)

    def begin(self) -> None:
        if not self._w.in_transaction:
            self._w.execute("BEGIN IMMEDIATE")

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
        last = self._last_seq()
        for entry in entries:
            if isinstance(entry, Duplicate):
                seqs.append(entry.seq if entry.seq is not None else seqs[entry.earlier or 0])
                continue
            last += 1
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

    def _last_seq(self) -> int:
        """The largest `seq` the log has ever handed out (AUTOINCREMENT never reuses one)."""
        row = self._w.execute(
            "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), "
            "COALESCE((SELECT max(seq) FROM events), 0))").fetchone()
        return int(row[0])

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
                "INSERT OR IGNORE INTO shadow_advisories (tenant, id, event_seq, rule_id, "
                "severity, rules_version, rules_hash, match_key, body) VALUES "
                + _values(9, len(part)), args)

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
        cur = self._w.execute(
            "INSERT INTO resolutions (tenant, advisory_id, decision, text, decided_by, "
            "recorded_at) VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, advisory_id, decision, text, decided_by, recorded_at))
        self._w.execute("UPDATE advisories SET status = ? WHERE tenant = ? AND id = ?",
                        (decision, tenant, advisory_id))
        return {"seq": cur.lastrowid, "advisory_id": advisory_id, "decision": decision,
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

    def last_seq(self, tenant: str, back: int = 0) -> int:
        """The seq of the tenant's last stored event (0 if none), or of the one `back` before
        it (0 if there are not that many)."""
        row = self._w.execute(
            "SELECT seq FROM events WHERE tenant = ? ORDER BY seq DESC LIMIT 1 OFFSET ?",
            (tenant, back)).fetchone()
        return int(row[0]) if row is not None else 0

    def put_snapshot(self, tenant: str, seq: int, rules_hash: str, clocks: str,
                     body: str) -> None:
        self._w.execute(
            "INSERT OR REPLACE INTO snapshots (tenant, seq, rules_hash, taken_at, clocks, body) "
            "VALUES (?, ?, ?, ?, ?, ?)", (tenant, seq, rules_hash, now_text(), clocks, body))

    def get_snapshot(self, tenant: str) -> SnapshotRow | None:
        row = self._w.execute(
            "SELECT seq, rules_hash, taken_at, clocks, body FROM snapshots WHERE tenant = ?",
            (tenant,)).fetchone()
        return None if row is None else SnapshotRow(row["seq"], row["rules_hash"],
                                                    row["taken_at"], row["clocks"],
                                                    row["body"])

    def log(self, tenant: str, chunk: int = 1000, *, after: int = 0) -> Iterator[LogRow]:
        """The tenant's event log in arrival order, from after seq `after`, read in chunks."""
        while True:
            rows = self._w.execute(
                "SELECT seq, kind, country, time, body, rules_hash, advisory_ids FROM events "
                "WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?",
                (tenant, after, chunk)).fetchall()
            if not rows:
                return
            for row in rows:
                yield LogRow(row["seq"], row["kind"], row["country"], row["time"],
                             row["body"], row["rules_hash"],
                             tuple(json.loads(row["advisory_ids"])))
            after = rows[-1]["seq"]

    # ---------------------------------------------------------------- reads (any thread)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, reader=True)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def ping(self) -> None:
        self._reader().execute("SELECT 1 FROM events LIMIT 1").fetchall()

    def list_advisories(self, tenant: str, where: AdvisoryFilter, after: int,
                        limit: int) -> tuple[list[dict[str, Any]], int | None]:
        sql = ["SELECT seq, body, status, stored_at FROM advisories WHERE tenant = ? AND seq > ?"]
        args: list[Any] = [tenant, after]
        for column, value in (("subject", where.subject), ("source", where.source),
                              ("country", where.country)):
            if value is not None:
                sql.append(f"AND {column} = ?")
                args.append(value)
        for column, values in (("rule_id", where.rules), ("severity", where.severities),
                               ("status", where.statuses)):
            if values:
                sql.append(f"AND {column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        if where.since is not None:
            sql.append("AND raised_ts >= ?")
            args.append(where.since)
        if where.until is not None:
            sql.append("AND raised_ts < ?")
            args.append(where.until)
        sql.append("ORDER BY seq LIMIT ?")
        args.append(limit + 1)
        rows = self._reader().execute(" ".join(sql), args).fetchall()
        items = [{**json.loads(r["body"]), "status": r["status"], "stored_at": r["stored_at"]}
                 for r in rows[:limit]]
        return items, (rows[limit - 1]["seq"] if len(rows) > limit else None)

    def get_advisory(self, tenant: str, advisory_id: str) -> dict[str, Any] | None:
        conn = self._reader()
        row = conn.execute(
            "SELECT a.body, a.status, a.stored_at, e.source, e.id, e.type, e.kind "
            "FROM advisories a JOIN events e ON e.seq = a.event_seq "
            "WHERE a.tenant = ? AND a.id = ?", (tenant, advisory_id)).fetchone()
        if row is None:
            return None
        resolutions = [
            {"seq": r["seq"], "advisory_id": advisory_id, "decision": r["decision"],
             "text": r["text"], "by": r["decided_by"], "recorded_at": r["recorded_at"]}
            for r in conn.execute(
                "SELECT seq, decision, text, decided_by, recorded_at FROM resolutions "
                "WHERE tenant = ? AND advisory_id = ? ORDER BY seq", (tenant, advisory_id))]
        return {**json.loads(row["body"]), "status": row["status"], "stored_at": row["stored_at"],
                "raised_by": {"source": row["source"], "id": row["id"], "type": row["type"]},
                "resolutions": resolutions}

    def list_decisions(self, tenant: str, after: int, limit: int, since: float | None,
                       until: float | None) -> tuple[list[dict[str, Any]], int | None]:
        rows = self._decision_rows(tenant, after, limit + 1, since, until)
        items = [_decision(r) for r in rows[:limit]]
        return items, (rows[limit - 1]["seq"] if len(rows) > limit else None)

    def iter_decisions(self, tenant: str, since: float | None,
                       until: float | None) -> Iterator[dict[str, Any]]:
        """The decision log for export: each evaluation also carries the event or tick it
        evaluated (`cloudevent`), so that `mandate-rules diff` can run the log again."""
        after = 0
        while True:
            rows = self._decision_rows(tenant, after, 500, since, until)
            if not rows:
                return
            seqs = [r["event_seq"] for r in rows if r["outcome"] == "evaluated"]
            bodies = {r["seq"]: r["body"] for r in self._reader().execute(
                f"SELECT seq, body FROM events WHERE tenant = ? AND seq IN "
                f"({', '.join('?' * len(seqs))})", [tenant, *seqs])} if seqs else {}
            for row in rows:
                item = _decision(row)
                if row["outcome"] == "evaluated" and row["event_seq"] in bodies:
                    item["cloudevent"] = json.loads(bodies[row["event_seq"]])
                yield item
            after = rows[-1]["seq"]

    def _decision_rows(self, tenant: str, after: int, limit: int, since: float | None,
                       until: float | None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM decisions WHERE tenant = ? AND seq > ?"
        args: list[Any] = [tenant, after]
        if since is not None:
            sql += " AND recorded_ts >= ?"
            args.append(since)
        if until is not None:
            sql += " AND recorded_ts < ?"
            args.append(until)
        return self._reader().execute(sql + " ORDER BY seq LIMIT ?", [*args, limit]).fetchall()

    def shadow_diff(self, tenant: str, shadow_hash: str, after: int,
                    limit: int) -> dict[str, Any]:
        """What the candidate raised that the live packs did not, and the reverse, per event.

        Advisories are matched by rule, trigger and evidence (their ids differ, since an id
        includes the bundle's hash). Every evaluation made with the candidate `shadow_hash`
        counts towards `summary`; `changes` holds those after the cursor, up to `limit`.
        """
        conn = self._reader()
        summary: dict[str, dict[str, int]] = {}
        changes: list[dict[str, Any]] = []
        compared, cursor, last_seq = 0, 0, after
        next_cursor: int | None = None
        while True:
            rows = conn.execute(
                "SELECT seq, source, event_id, type, advisory_ids, shadow_advisory_ids "
                "FROM decisions WHERE tenant = ? AND outcome = 'evaluated' AND shadow_hash = ? "
                "AND shadow_advisory_ids IS NOT NULL AND seq > ? ORDER BY seq LIMIT 500",
                (tenant, shadow_hash, cursor)).fetchall()
            if not rows:
                break
            cursor = rows[-1]["seq"]
            live = _keyed(conn, "advisories", tenant,
                          [i for r in rows for i in json.loads(r["advisory_ids"])])
            cand = _keyed(conn, "shadow_advisories", tenant,
                          [i for r in rows for i in json.loads(r["shadow_advisory_ids"])])
            for row in rows:
                compared += 1
                found = compare(
                    [live[i] for i in json.loads(row["advisory_ids"]) if i in live],
                    [cand[i] for i in json.loads(row["shadow_advisory_ids"]) if i in cand])
                tally(found, summary)
                if not found or row["seq"] <= after:
                    continue
                if len(changes) >= limit:
                    next_cursor = last_seq
                    continue
                event = {"source": row["source"], "id": row["event_id"], "type": row["type"]}
                changes.extend({**c.to_json(), "event": event} for c in found)
                last_seq = row["seq"]
        return {"events_compared": compared, "summary": summary, "changes": changes,
                "next_cursor": next_cursor}


def _keyed(conn: sqlite3.Connection, table: str, tenant: str,
           ids: Sequence[str]) -> dict[str, Compared]:
    out: dict[str, Compared] = {}
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), 500):
        part = unique[start:start + 500]
        for row in conn.execute(
                f"SELECT id, rule_id, severity, rules_version, rules_hash, match_key FROM {table} "
                f"WHERE tenant = ? AND id IN ({', '.join('?' * len(part))})", [tenant, *part]):
            out[row["id"]] = Compared(
                id=row["id"], rule_id=row["rule_id"], severity=row["severity"],
                rules_version=RulesVersion(row["rules_version"], row["rules_hash"]),
                match_key=row["match_key"])
    return out


def _decision(row: sqlite3.Row) -> dict[str, Any]:
    shadow = None
    if row["shadow_hash"] is not None:
        shadow = {"rules_version": {"version": row["shadow_version"], "hash": row["shadow_hash"]},
                  "advisory_ids": (json.loads(row["shadow_advisory_ids"])
                                   if row["shadow_advisory_ids"] is not None else None),
                  "error": row["shadow_error"]}
    return {"seq": row["seq"], "recorded_at": row["recorded_at"],
            "event": {"source": row["source"], "id": row["event_id"], "type": row["type"]},
            "outcome": row["outcome"],
            "rules_version": {"version": row["rules_version"], "hash": row["rules_hash"]},
            "advisory_ids": json.loads(row["advisory_ids"]), "duration_ms": row["duration_ms"],
            "shadow": shadow,
            "missing_keys": json.loads(row["missing_keys"]) if row["missing_keys"] else []}
