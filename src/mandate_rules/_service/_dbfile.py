"""The SQLite file: its tables, the migration of an older file, and how a connection opens.

Tables (every row carries its tenant; no query runs without one):

* `events`: the event log in arrival order (`seq`): each event, and each `clock.tick` the
  service applied, with the rules version that evaluated it and the advisories it raised;
* `advisories`: each advisory once (`UNIQUE(tenant, id)`), its body as JSON, its status;
* `resolutions`: what field officers decided about an advisory, append-only;
* `decisions`: the decision log: every evaluation (and every re-delivery), with duration;
* `shadow_advisories`: what the candidate rule packs raised, kept apart;
* the adapters' write-back outbox (`adapter_outbox`) is created by
  `mandate_rules._adapters.outbox` in the same file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .._errors import MandateRulesError

# 2: events.content_hash and decisions.missing_keys (a file of schema 1 gets both
# columns when opened; see `migrate`).
SCHEMA_VERSION = 2

# The columns an advisory of the live rule packs and one of the candidate's share, declared
# once for both tables (the shadow diff compares their rows).
_ADVISORY_KEYS = """\
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    event_seq INTEGER NOT NULL REFERENCES events (seq),
    rule_id TEXT NOT NULL,
    severity TEXT NOT NULL,
"""
_ADVISORY_VERSION = """\
    rules_version TEXT NOT NULL,
    rules_hash TEXT NOT NULL,
    match_key TEXT NOT NULL,
"""

SCHEMA = f"""
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
{_ADVISORY_KEYS}    subject TEXT,
    source TEXT NOT NULL,
    country TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    raised_ts REAL NOT NULL,
{_ADVISORY_VERSION}    status TEXT NOT NULL DEFAULT 'open',
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
{_ADVISORY_KEYS}{_ADVISORY_VERSION}    body TEXT NOT NULL,
    UNIQUE (tenant, id)
);

"""


class StoreError(MandateRulesError):
    """Raised when `mandate-rules serve` starts and its SQLite file cannot be opened: a path
    that cannot be created, a file SQLite will not put in WAL mode, or one written by a newer
    mandate-rules. (A write that fails later is answered `store-unavailable`.)"""


def migrate(conn: sqlite3.Connection) -> None:
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


def connect(path: Path, *, reader: bool) -> sqlite3.Connection:
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
