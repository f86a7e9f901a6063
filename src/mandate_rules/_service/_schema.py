"""The store's tables, on either backend, and the versioned list of migrations that builds
them and brings an older database up to date.

Tables (every row carries its tenant; no query runs without one):

* `events`: the event log in arrival order (`seq`): each event, and each `clock.tick` the
  service applied, with the rules version that evaluated it and the advisories it raised;
* `advisories`: each advisory once (`UNIQUE(tenant, id)`), its body as JSON, its status;
* `resolutions`: what field officers decided about an advisory, append-only;
* `decisions`: the decision log: every evaluation (and every re-delivery), with duration;
* `shadow_advisories`: what the candidate rule packs raised, kept apart;
* `operation_snapshots`: per operation (tenant + country), its engine state up to a `seq`;
* `operation_leases` (PostgreSQL only): which replica owns each operation, until when, and
  its fencing token (see `_service/_leases.py`); `replica_secret`: what replicas forward
  jobs to each other with (`_service/_replicas.py`);
* `console_sessions`: who is signed in to the console (by a hash of the cookie), and
  `console_secret`: the key of its forms' CSRF tokens, shared by every replica
  (`_service/_console/_session.py`);
* `replica_heartbeats` (PostgreSQL only): when each replica was last seen, so that the
  operations are shared out among all the live ones;
* `schema_migrations`: each migration applied, when and by which process;
* the adapters' tables (write-back outbox, sync cursors) are created by `_adapters` in the
  same database.

Migrations run in order, each in its own transaction, under a lock that keeps two servers
starting at once from both running one: on SQLite the file's write lock (``BEGIN
IMMEDIATE``; the sidecar's `<db>.lock` already allows one server per file), on PostgreSQL a
transaction-level advisory lock. A database of a newer schema than this release knows is
refused, unchanged. SQLite's ``PRAGMA user_version`` keeps the version too, as releases
before migrations had a table read it.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable

import attrs

from .._database import Connection, column_types
from .._errors import MandateRulesError
from ._rows import now_text

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "SchemaTooNew", "current_version",
           "migrate"]

# Any fixed 64-bit number, the same in every release: the advisory lock migrations hold.
_MIGRATION_LOCK = 0x6D616E6461746531

# The columns an advisory of the live rule packs and one of the candidate's share, declared
# once for both tables (the shadow diff compares their rows).
_ADVISORY_KEYS = """\
    seq {serial},
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    event_seq {int} NOT NULL REFERENCES events (seq),
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
"""
_ADVISORY_VERSION = """\
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    match_key TEXT NOT NULL,
"""

# Schema 1, as the first release wrote it (schema 2 added two columns, below).
_SCHEMA_1 = f"""
CREATE TABLE IF NOT EXISTS events (
    seq {{serial}},
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
    UNIQUE (tenant, source, id)
);
CREATE INDEX IF NOT EXISTS events_by_tenant ON events (tenant, seq);

CREATE TABLE IF NOT EXISTS advisories (
{_ADVISORY_KEYS}    subject TEXT,
    source TEXT NOT NULL,
    country TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    raised_ts {{real}} NOT NULL,
{_ADVISORY_VERSION}    status TEXT NOT NULL DEFAULT 'open',
    stored_at TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, id)
);
CREATE INDEX IF NOT EXISTS advisories_by_rule ON advisories (tenant, rule_id, seq);
CREATE INDEX IF NOT EXISTS advisories_by_subject ON advisories (tenant, subject, seq);
CREATE INDEX IF NOT EXISTS advisories_by_time ON advisories (tenant, raised_ts);

CREATE TABLE IF NOT EXISTS resolutions (
    seq {{serial}},
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
    seq {{serial}},
    tenant TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_ts {{real}} NOT NULL,
    event_seq {{int}} NOT NULL REFERENCES events (seq),
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    type TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('evaluated', 'duplicate')),
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    advisory_ids TEXT NOT NULL,
    duration_ms {{real}} NOT NULL,
    shadow_version TEXT,
    shadow_hash TEXT,
    shadow_advisory_ids TEXT,
    shadow_error TEXT
);
CREATE INDEX IF NOT EXISTS decisions_by_tenant ON decisions (tenant, seq);

CREATE TABLE IF NOT EXISTS snapshots (
    tenant TEXT PRIMARY KEY,
    seq {{int}} NOT NULL,
    rules_hash TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    clocks TEXT NOT NULL,
    body TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS shadow_advisories (
{_ADVISORY_KEYS}{_ADVISORY_VERSION}    body TEXT NOT NULL,
    UNIQUE (tenant, id)
);
"""


class SchemaTooNew(MandateRulesError):
    """The database was written by a newer mandate-rules (its version is `args[0]`)."""


@attrs.frozen
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def _schema_1(conn: Connection) -> None:
    conn.run_script(_SCHEMA_1.format(**column_types(conn.dialect)))


def _columns(conn: Connection, table: str) -> set[str]:
    if conn.dialect == "sqlite":
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    return {row[0] for row in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = current_schema()", (table,))}


def _schema_2(conn: Connection) -> None:
    """events.content_hash (left empty for the events already stored: a re-delivery works
    it out from the stored body, which gives the same hash) and decisions.missing_keys (the
    stateful rules an event matched without a key field; the rows written before name none).
    """
    if "content_hash" not in _columns(conn, "events"):
        conn.execute("ALTER TABLE events ADD COLUMN content_hash TEXT")
    if "missing_keys" not in _columns(conn, "decisions"):
        conn.execute("ALTER TABLE decisions ADD COLUMN missing_keys TEXT")


def _schema_3(conn: Connection) -> None:
    """Snapshots per operation (tenant + country), so that each replica writes those of the
    operations it owns; each tenant's snapshot becomes one per operation, holding the same
    state up to the same seq. The log is read per operation (an index), and on PostgreSQL
    the operations' leases get their table."""
    types = column_types(conn.dialect)
    conn.run_script(f"""
CREATE TABLE IF NOT EXISTS operation_snapshots (
    tenant TEXT NOT NULL,
    country TEXT NOT NULL,
    seq {types['int']} NOT NULL,
    rules_hash TEXT NOT NULL,
    taken_at TEXT NOT NULL,
    clocks TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, country)
);
CREATE INDEX IF NOT EXISTS events_by_operation ON events (tenant, country, seq);
""")
    old = conn.execute("SELECT tenant, seq, rules_hash, taken_at, clocks, body FROM snapshots"
                       ).fetchall() if "seq" in _columns(conn, "snapshots") else []
    for row in old:
        for country, (clocks, body) in split_snapshot(row["clocks"], row["body"]).items():
            conn.execute("INSERT INTO operation_snapshots (tenant, country, seq, rules_hash, "
                         "taken_at, clocks, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (row["tenant"], country, row["seq"], row["rules_hash"],
                          row["taken_at"], clocks, body))
    conn.execute("DROP TABLE IF EXISTS snapshots")
    if conn.dialect == "postgresql":
        conn.run_script("""
CREATE TABLE IF NOT EXISTS operation_leases (
    tenant TEXT NOT NULL,
    country TEXT NOT NULL,
    owner TEXT NOT NULL,
    owner_url TEXT,
    token BIGINT NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant, country)
);
CREATE TABLE IF NOT EXISTS replica_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);
""")


def _schema_4(conn: Connection) -> None:
    """An index on `event_seq` of each table that references an event. Retention
    (`_service/_retention.py`) asks of each old event whether anything kept still refers
    to it, and deleting an event makes both backends check those references: without the
    index each check reads the whole table."""
    conn.run_script("""
CREATE INDEX IF NOT EXISTS advisories_by_event ON advisories (event_seq);
CREATE INDEX IF NOT EXISTS shadow_advisories_by_event ON shadow_advisories (event_seq);
CREATE INDEX IF NOT EXISTS decisions_by_event ON decisions (event_seq);
""")


def split_snapshot(clocks: str, body: str) -> dict[str, tuple[str, str]]:
    """A tenant's snapshot (`Engine.snapshot` of all its operations, and their clocks) as
    one per operation: country -> (clocks, body)."""
    state = json.loads(body)
    times = json.loads(clocks)
    out: dict[str, tuple[str, str]] = {}
    for country in sorted({*state.get("operations", {}), *times}):
        part = {**state, "operations": {country: state["operations"][country]}
                if country in state.get("operations", {}) else {}}
        clock = {country: times[country]} if country in times else {}
        out[country] = (json.dumps(clock, separators=(",", ":")),
                        json.dumps(part, ensure_ascii=False, separators=(",", ":")))
    return out


def _schema_5(conn: Connection) -> None:
    """The console's sessions and the key of its forms' tokens, in the database: kept in a
    process's memory, a browser signed in on one replica was a stranger to the next, and a
    form one replica rendered was refused by another."""
    types = column_types(conn.dialect)
    conn.run_script(f"""
CREATE TABLE IF NOT EXISTS console_sessions (
    id TEXT PRIMARY KEY,
    token_digest TEXT NOT NULL,
    expires_ts {types['real']} NOT NULL
);
CREATE INDEX IF NOT EXISTS console_sessions_by_expiry ON console_sessions (expires_ts);
CREATE TABLE IF NOT EXISTS console_secret (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    secret TEXT NOT NULL
);
""")


def _schema_6(conn: Connection) -> None:
    """PostgreSQL: each replica's heartbeat, so that replicas holding no operation (one just
    started, or restarted) count when the operations are shared out (`_service/_leases.py`)."""
    if conn.dialect == "postgresql":
        conn.run_script("""
CREATE TABLE IF NOT EXISTS replica_heartbeats (
    replica TEXT PRIMARY KEY,
    url TEXT,
    seen_at TIMESTAMPTZ NOT NULL
);
""")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the event log, advisories, resolutions, decisions, snapshots", _schema_1),
    Migration(2, "events.content_hash, decisions.missing_keys", _schema_2),
    Migration(3, "snapshots per operation, operation leases", _schema_3),
    Migration(4, "indexes on the references to events (retention)", _schema_4),
    Migration(5, "the console's sessions and form key", _schema_5),
    Migration(6, "replicas' heartbeats", _schema_6),
)
SCHEMA_VERSION = MIGRATIONS[-1].version

_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version {int} PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    applied_by TEXT NOT NULL
)
"""


def current_version(conn: Connection) -> int:
    """The schema version of the database behind `conn` (0: an empty one)."""
    if conn.dialect == "sqlite":
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    found = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()[0]
    if found is None:
        return 0
    return int(conn.execute("SELECT COALESCE(max(version), 0) FROM schema_migrations")
               .fetchone()[0])


def migrate(conn: Connection) -> list[int]:
    """Apply the migrations the database lacks, in order; the versions applied (none when
    it was up to date, or when another server applied them while this one waited).

    Raises `SchemaTooNew` (and changes nothing) for a database of a newer schema.
    """
    applied: list[int] = []
    for migration in MIGRATIONS:
        conn.execute(conn.begin_sql)
        try:
            if conn.dialect == "postgresql":
                # Released at commit; a second server waits here, then finds the work done.
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
            version = current_version(conn)
            if version > SCHEMA_VERSION:
                raise SchemaTooNew(version)
            if version >= migration.version:
                conn.execute("COMMIT")
                continue
            migration.apply(conn)
            conn.execute(_HISTORY.format(**column_types(conn.dialect)))
            conn.execute("INSERT INTO schema_migrations (version, name, applied_at, "
                         "applied_by) VALUES (?, ?, ?, ?) ON CONFLICT (version) DO UPDATE SET "
                         "applied_at = excluded.applied_at, applied_by = excluded.applied_by",
                         (migration.version, migration.name, now_text(),
                          f"{socket.gethostname()}:{os.getpid()}"))
            if conn.dialect == "sqlite":
                conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
            applied.append(migration.version)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return applied
