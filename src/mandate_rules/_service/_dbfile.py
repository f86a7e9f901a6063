"""Opening the store's database: a SQLite file (WAL mode, synchronous commits) or a
PostgreSQL database, behind the one connection contract of `mandate_rules._database`."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

from .._database import Connection, SqliteConnection, Target, open_postgresql
from .._errors import MandateRulesError

__all__ = ["StoreError", "connect", "connect_target"]


class StoreError(MandateRulesError):
    """Raised when `mandate-rules serve` starts and its database cannot be opened: a path
    that cannot be created, a file SQLite will not put in WAL mode, a PostgreSQL server that
    cannot be reached or refuses the credentials, or a database written by a newer
    mandate-rules. (A write that fails later is answered `store-unavailable`.)"""


def connect(path: Path, *, reader: bool) -> SqliteConnection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0,
                           factory=SqliteConnection)
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


def connect_target(target: Target, *, reader: bool, role: str = "store",
                   options: Mapping[str, str] | None = None) -> Connection:
    """A connection to the store at `target`: a reader's only reads (SQLite enforces it)."""
    if target.path is not None:
        return connect(target.path, reader=reader)
    settings = dict(options or {})
    if reader:
        settings.setdefault("default_transaction_read_only", "on")
    return open_postgresql(target, application_name=f"mandate-rules {role}", options=settings)
