"""The store's readers: advisories, the decision log and the shadow diff, each on a
read-only connection of its own thread, which WAL (or PostgreSQL) lets run beside the
writer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from .._compare import Compared, compare, tally
from .._database import Connection, Row, Target
from .._models import RulesVersion
from ._dbfile import connect_target
from ._rows import AdvisoryFilter


class StoreReads:
    """The reading half of `Store`: callable from any thread."""

    target: Target
    _local: threading.local
    _readers: list[tuple[threading.Thread, Connection]]  # each reading connection's thread
    _readers_lock: threading.Lock

    def _reader(self) -> Connection:
        """This thread's reading connection."""
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._adopt_or_open()
        return conn

    def _adopt_or_open(self) -> Connection:
        # The server's worker threads come and go (anyio retires one idle for 10 s and starts
        # another for the next burst): a connection tied to its first thread for good would
        # leave one more open after every quiet spell, until the process ran out of files or
        # PostgreSQL of connections. A thread takes over one whose thread has ended, so there
        # are never more than the most threads that ever read at once.
        me = threading.current_thread()
        with self._readers_lock:
            for index, (owner, conn) in enumerate(self._readers):
                if not owner.is_alive():
                    self._readers[index] = (me, conn)
                    return conn
        conn = connect_target(self.target, reader=True, role="reader")
        with self._readers_lock:
            self._readers.append((me, conn))
        return conn

    def ping(self) -> None:
        self._reader().execute("SELECT 1 FROM events LIMIT 1").fetchall()

    def list_advisories(self, tenant: str, where: AdvisoryFilter, after: int,
                        limit: int) -> tuple[list[dict[str, Any]], int | None]:
        conn = self._reader()
        conditions, args = advisory_conditions(conn, tenant, where)
        rows = conn.execute(
            "SELECT seq, body, status, stored_at FROM advisories WHERE " + conditions
            + " AND seq > ? ORDER BY seq LIMIT ?", [*args, after, limit + 1]).fetchall()
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
                       until: float | None) -> list[Row]:
        sql = "SELECT * FROM decisions WHERE tenant = ? AND seq > ?"
        args: list[Any] = [tenant, after]
        if since is not None:
            sql += " AND recorded_ts >= ?"
            args.append(since)
        if until is not None:
            sql += " AND recorded_ts < ?"
            args.append(until)
        rows: list[Row] = self._reader().execute(sql + " ORDER BY seq LIMIT ?",
                                                 [*args, limit]).fetchall()
        return rows

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


def advisory_conditions(conn: Connection, tenant: str,
                        where: AdvisoryFilter) -> tuple[str, list[Any]]:
    """The SQL condition on `advisories` (and its arguments) for a tenant's advisories that
    `where` selects: the API's list and the console's queue filter through this one."""
    sql = ["tenant = ?"]
    args: list[Any] = [tenant]
    for column, value in (("subject", where.subject), ("source", where.source),
                          ("country", where.country),
                          (conn.json_field("body", "area"), where.area)):
        if value is not None:
            sql.append(f"{column} = ?")
            args.append(value)
    for column, values in (("rule_id", where.rules), ("severity", where.severities),
                           ("status", where.statuses)):
        if values:
            sql.append(f"{column} IN ({', '.join('?' * len(values))})")
            args.extend(values)
    if where.since is not None:
        sql.append("raised_ts >= ?")
        args.append(where.since)
    if where.until is not None:
        sql.append("raised_ts < ?")
        args.append(where.until)
    return " AND ".join(sql), args


def _keyed(conn: Connection, table: str, tenant: str,
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


def _decision(row: Row) -> dict[str, Any]:
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
