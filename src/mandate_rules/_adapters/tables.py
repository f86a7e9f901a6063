"""The adapters' tables (sync state and the write-back outbox), on either backend of the
`_database` contract: a SQLite file of their own (the CLI's ``--state``) or the sidecar's
database, SQLite or PostgreSQL, beside its event log.

Their schema is a versioned list of migrations, applied in order, each in its own transaction
under a lock (SQLite: the file's write lock; PostgreSQL: a transaction-level advisory lock),
and recorded in ``adapter_schema`` (the sidecar's own ``schema_migrations`` is not theirs: a
state file of the CLI has no sidecar schema). A file written before the list existed holds
the tables of version 1 and no ``adapter_schema``: it is brought forward with nothing lost.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from .._database import Connection, SqliteConnection, Target, column_types, open_postgresql

__all__ = ["ADAPTER_SCHEMA_VERSION", "connect", "ensure_tables", "open_db"]

# Any fixed 64-bit number, the same in every release, not the sidecar's own migration lock.
_LOCK_KEY = 0x6D72_6164_6170_7401

_VERSION_1 = """
CREATE TABLE IF NOT EXISTS adapter_cursor (
    adapter TEXT NOT NULL, source TEXT NOT NULL, cursor TEXT, updated_at {real} NOT NULL,
    PRIMARY KEY (adapter, source));
CREATE TABLE IF NOT EXISTS adapter_seen (
    source TEXT NOT NULL, subject TEXT NOT NULL, fingerprint TEXT NOT NULL,
    event_id TEXT NOT NULL, seen_at {real} NOT NULL,
    PRIMARY KEY (source, subject));
CREATE TABLE IF NOT EXISTS adapter_source_move (
    source TEXT NOT NULL, before TEXT NOT NULL, moved_at {real} NOT NULL,
    PRIMARY KEY (source, before));
CREATE TABLE IF NOT EXISTS adapter_rejected (
    id {serial}, adapter TEXT NOT NULL, source TEXT NOT NULL,
    record_id TEXT, reason TEXT NOT NULL, record TEXT NOT NULL, digest TEXT NOT NULL UNIQUE,
    received_at {real} NOT NULL);
CREATE TABLE IF NOT EXISTS adapter_outbox (
    advisory_id TEXT NOT NULL, source TEXT NOT NULL, subject TEXT, advisory TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts {int} NOT NULL DEFAULT 0,
    next_at {real} NOT NULL, lease_until {real}, last_error TEXT, target TEXT, remote_id TEXT,
    created_at {real} NOT NULL, done_at {real},
    PRIMARY KEY (advisory_id, source));
CREATE INDEX IF NOT EXISTS adapter_outbox_due ON adapter_outbox (status, next_at)
"""

# The outbox gets a key column of its own (`seq`): it was SQLite's `rowid`, which PostgreSQL
# has not. On SQLite the rows keep their rowid as their seq, so pages already handed out
# (`after=seq`) still start where they stopped.
_VERSION_2 = """
CREATE TABLE adapter_outbox_2 (
    seq {serial}, advisory_id TEXT NOT NULL, source TEXT NOT NULL, subject TEXT,
    advisory TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending',
    attempts {int} NOT NULL DEFAULT 0, next_at {real} NOT NULL, lease_until {real},
    last_error TEXT, target TEXT, remote_id TEXT, created_at {real} NOT NULL, done_at {real},
    UNIQUE (advisory_id, source));
INSERT INTO adapter_outbox_2 ({key}advisory_id, source, subject, advisory, status, attempts,
    next_at, lease_until, last_error, target, remote_id, created_at, done_at)
    SELECT {rowid}advisory_id, source, subject, advisory, status, attempts, next_at,
    lease_until, last_error, target, remote_id, created_at, done_at
    FROM adapter_outbox ORDER BY {order};
DROP TABLE adapter_outbox;
ALTER TABLE adapter_outbox_2 RENAME TO adapter_outbox;
CREATE INDEX adapter_outbox_due ON adapter_outbox (status, next_at)
"""


def _version_1(conn: Connection) -> None:
    conn.run_script(_VERSION_1.format(**column_types(conn.dialect)))


def _version_2(conn: Connection) -> None:
    sqlite = conn.dialect == "sqlite"
    conn.run_script(_VERSION_2.format(
        **column_types(conn.dialect), key="seq, " if sqlite else "",
        rowid="rowid, " if sqlite else "", order="rowid" if sqlite else "created_at"))


_MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_version_1, _version_2)

#: The version of the adapters' tables this release writes.
ADAPTER_SCHEMA_VERSION = len(_MIGRATIONS)


def connect(path: str | Path) -> SqliteConnection:
    """A connection to the SQLite file at `path` that several threads may share."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False,
                           isolation_level=None, factory=SqliteConnection)
    conn.execute("PRAGMA busy_timeout = 30000")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    return conn


def open_db(db: Target | str | Path | Connection) -> Connection:
    """A connection to `db`: a `Target` (a SQLite file or a PostgreSQL database), a path (a
    SQLite file), or a connection already open (returned as it is)."""
    if isinstance(db, Target):
        if db.url is not None:
            return open_postgresql(db, application_name="mandate-rules-adapters")
        assert db.path is not None
        return connect(db.path)
    if isinstance(db, (str, Path, os.PathLike)):
        return connect(db)
    return db


def _version(conn: Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM adapter_schema").fetchone()
    return 0 if row is None or row[0] is None else int(row[0])


def ensure_tables(conn: Connection) -> None:
    """Bring the adapters' tables in `conn` to this release's version (each migration once,
    in its own transaction, whoever else opens the database at the same time)."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS adapter_schema (version "
                 f"{column_types(conn.dialect)['int']} PRIMARY KEY, applied_at "
                 f"{column_types(conn.dialect)['real']} NOT NULL)")
    if _version(conn) >= ADAPTER_SCHEMA_VERSION:
        return
    for number, migrate in enumerate(_MIGRATIONS, start=1):
        conn.execute(conn.begin_sql)
        try:
            if conn.dialect == "postgresql":
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_LOCK_KEY,))
            if _version(conn) < number:  # not run by another process meanwhile
                migrate(conn)
                conn.execute("INSERT INTO adapter_schema (version, applied_at) VALUES (?, ?)",
                             (number, time.time()))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
