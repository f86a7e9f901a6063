"""What retention (`retain_days`) costs the sidecar's engine thread: how long one chunk of
deletes holds it, on a SQLite file or a PostgreSQL database.

The store gets `--events` old events of one operation, each with its decision-log row and a
fifth of them with an advisory (kept: their evidence), and a snapshot covering them all, as
the sidecar writes them (same tables, same schema). Then `prune` goes through them one chunk
per call, as the engine thread does when requests are waiting, and each call is timed; then a
second pass, which finds only evidence left.

Run from the repository root:

    PYTHONPATH=. .venv/bin/python scripts/retention_cost.py [--events 100000] [--db URL]

(without --db: a SQLite file in a temporary folder; a postgresql:// database should be an
empty one made for this.)
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from mandate_rules._database import parse_target
from mandate_rules._service._retention import CHUNK, Progress, prune
from mandate_rules._service._store import Store

OLD = "2000-01-01T00:00:00.000Z"
OLD_TS = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
TENANT, COUNTRY, RULES_HASH = "default", "SOM", "rules-hash"


def _insert(store: Store, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    one = "(" + ", ".join("?" * len(rows[0])) + ")"
    store.connection.execute(f"INSERT INTO {table} ({columns}) VALUES "
                             + ", ".join([one] * len(rows)), [v for row in rows for v in row])


def fill(store: Store, count: int) -> None:
    store.begin()
    for start in range(1, count + 1, CHUNK):
        seqs = range(start, min(count, start + CHUNK - 1) + 1)
        _insert(store, "events", "seq, tenant, kind, source, id, type, country, time, "
                "received_at, body, rules_version, rules_hash, advisory_ids",
                [(s, TENANT, "event", "bench", f"e-{s}", "asset.request", COUNTRY, OLD, OLD,
                  "{}", "1", RULES_HASH, "[]") for s in seqs])
        _insert(store, "decisions", "tenant, recorded_at, recorded_ts, event_seq, source, "
                "event_id, type, outcome, rules_version, rules_hash, advisory_ids, duration_ms",
                [(TENANT, OLD, OLD_TS, s, "bench", f"e-{s}", "asset.request", "evaluated", "1",
                  RULES_HASH, "[]", 1.0) for s in seqs])
        _insert(store, "advisories", "tenant, id, event_seq, rule_id, severity, source, "
                "country, raised_at, raised_ts, rules_version, rules_hash, match_key, "
                "stored_at, body",
                [(TENANT, f"a-{s}", s, "R-1", "info", "bench", COUNTRY, OLD, OLD_TS, "1",
                  RULES_HASH, "k", OLD, "{}") for s in seqs if s % 5 == 0])
    store.put_snapshot(TENANT, COUNTRY, count, RULES_HASH, "{}", "{}")
    store.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--db", default=None, help="a postgresql:// URL (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = Store(parse_target(args.db or str(Path(folder) / "store.db")))
        try:
            fill(store, args.events)
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
            progress: dict[str, Progress] = {}
            times: list[float] = []
            deleted, done = 0, False
            while not done:
                started = time.perf_counter()
                pruned = prune(store, TENANT, cutoff=cutoff, rules_hash=RULES_HASH,
                               progress=progress, stop=lambda: True)
                times.append(time.perf_counter() - started)
                deleted, done = deleted + pruned.events, pruned.done
            started = time.perf_counter()
            again = prune(store, TENANT, cutoff=cutoff, rules_hash=RULES_HASH,
                          progress=progress).events
            second = time.perf_counter() - started
        finally:
            store.close()
    print(f"{store.dialect}: {args.events} events, {deleted} deleted in {len(times)} chunks "
          f"of up to {CHUNK}: median {statistics.median(times) * 1000:.1f} ms, "
          f"max {max(times) * 1000:.1f} ms, total {sum(times):.2f} s; "
          f"a second pass deleted {again} in {second * 1000:.1f} ms")


if __name__ == "__main__":
    main()
