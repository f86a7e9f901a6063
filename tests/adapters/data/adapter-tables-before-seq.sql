-- The adapters' tables as mandate-rules wrote them before adapter_schema (commit c020aef):
-- syncstate._SCHEMA, then outbox._SCHEMA, copied as they were. Used by test_tables.py.
CREATE TABLE IF NOT EXISTS adapter_cursor (
    adapter TEXT NOT NULL, source TEXT NOT NULL, cursor TEXT, updated_at REAL NOT NULL,
    PRIMARY KEY (adapter, source));
CREATE TABLE IF NOT EXISTS adapter_seen (
    source TEXT NOT NULL, subject TEXT NOT NULL, fingerprint TEXT NOT NULL,
    event_id TEXT NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (source, subject));
CREATE TABLE IF NOT EXISTS adapter_source_move (
    source TEXT NOT NULL, before TEXT NOT NULL, moved_at REAL NOT NULL,
    PRIMARY KEY (source, before));
CREATE TABLE IF NOT EXISTS adapter_rejected (
    id INTEGER PRIMARY KEY AUTOINCREMENT, adapter TEXT NOT NULL, source TEXT NOT NULL,
    record_id TEXT, reason TEXT NOT NULL, record TEXT NOT NULL, digest TEXT NOT NULL UNIQUE,
    received_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS adapter_outbox (
    advisory_id TEXT NOT NULL, source TEXT NOT NULL, subject TEXT, advisory TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, lease_until REAL, last_error TEXT, target TEXT, remote_id TEXT,
    created_at REAL NOT NULL, done_at REAL,
    PRIMARY KEY (advisory_id, source));
CREATE INDEX IF NOT EXISTS adapter_outbox_due ON adapter_outbox (status, next_at);
