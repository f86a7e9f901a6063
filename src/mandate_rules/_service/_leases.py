"""Which replica judges each operation: a lease row per operation in PostgreSQL, with a
fencing token.

An operation (tenant + country) is judged by one replica at a time: its events must meet
one engine state, in order. Ownership is taken through the database the replicas already
share, so there is no other coordinator to run:

* a replica takes an operation by writing the lease row when it is free or expired (the
  statement is atomic: two replicas asking at once, one gets it), raising its `token` by
  one, and holds it while it renews it every third of `lease_seconds`;
* a replica that dies (SIGKILL, a cut network) stops renewing, and another takes the
  operation once the lease has run out: within `lease_seconds`, then the time to rebuild
  the operation's state from its last snapshot and the log after it;
* every transaction that writes an operation's events first reads its lease row ``FOR
  SHARE``, checking owner, token and expiry against the server's clock (`fence`). A
  replica paused past its lease (SIGSTOP, a long GC pause) and then resumed finds another
  token there, and its write is refused and rolled back; a taker's update of the row waits
  for a writer that checked in time to commit, so the taker's rebuild reads that write.
  A writer paused between the check and its commit is ended by the server after
  ``idle_in_transaction_session_timeout`` (set to `lease_seconds` on the writer's session),
  which rolls its transaction back.

Why rows and not PostgreSQL's advisory locks: a session-level advisory lock is held for as
long as its connection lives, and a paused process keeps its TCP connection open (the kernel
answers for it), so another replica could wait for ever; nor does an advisory lock give the
number a writer can check in its own transaction. A lease row expires by the server's clock
whatever the holder does, and its token fences the holder out.

`Leases` is used from two threads (the engine thread takes operations; the renewer keeps
them), each call under one lock, on a connection of its own.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Collection, Iterable

import attrs

from .._database import Connection

__all__ = ["Holder", "Leases", "Operation"]

log = logging.getLogger("mandate_rules.service")

Operation = tuple[str, str]  # (tenant, country)

_LEASE_FOR = "clock_timestamp() + make_interval(secs => ?)"


@attrs.frozen
class Holder:
    """Who holds an operation, as the lease table says now."""

    owner: str
    url: str | None
    token: int
    live: bool  # the lease has not run out by the server's clock


@attrs.frozen
class _Held:
    token: int
    until: float  # time.monotonic() past which this replica no longer counts on it


class Leases:
    """This replica's leases on operations, and the statements that take, keep and check
    them. `replica` is unique to this process (never reused by a restart)."""

    def __init__(self, conn: Connection, replica: str, url: str | None,
                 seconds: float) -> None:
        self._conn = conn
        self.replica = replica
        self.url = url
        self.seconds = seconds
        self._lock = threading.Lock()
        self._held: dict[Operation, _Held] = {}

    # ---------------------------------------------------------------- what is held

    def owned(self, tenant: str) -> set[str]:
        """The countries of `tenant` this replica holds (valid or not yet known lost)."""
        with self._lock:
            return {country for (name, country) in self._held if name == tenant}

    def token(self, operation: Operation) -> int | None:
        with self._lock:
            held = self._held.get(operation)
            return held.token if held is not None else None

    def valid(self, operation: Operation) -> bool:
        """Whether this replica may judge `operation` now without asking the database: it
        holds it and the lease has a third of its time left (the fence checks again)."""
        with self._lock:
            held = self._held.get(operation)
        return held is not None and time.monotonic() < held.until - self.seconds / 3

    def forget(self, operation: Operation) -> None:
        with self._lock:
            self._held.pop(operation, None)

    # ---------------------------------------------------------------- statements

    def acquire(self, operation: Operation) -> tuple[bool, bool]:
        """Take or keep `operation`: (held, continuous). `continuous` is True when this
        replica held it without a break (its state is still good); False when it was just
        taken (the state must be rebuilt from the store)."""
        tenant, country = operation
        with self._lock:
            started = time.monotonic()
            mine = self._held.get(operation)
            if mine is not None:  # keep it if nobody took it meanwhile
                row = self._conn.execute(
                    f"UPDATE operation_leases SET expires_at = {_LEASE_FOR} WHERE tenant = ? "
                    "AND country = ? AND owner = ? AND token = ? RETURNING token",
                    (self.seconds, tenant, country, self.replica, mine.token)).fetchone()
                if row is not None:
                    self._held[operation] = _Held(mine.token, started + self.seconds)
                    return True, True
                del self._held[operation]
            row = self._conn.execute(
                "INSERT INTO operation_leases (tenant, country, owner, owner_url, token, "
                f"expires_at) VALUES (?, ?, ?, ?, 1, {_LEASE_FOR}) "
                "ON CONFLICT (tenant, country) DO UPDATE SET owner = excluded.owner, "
                "owner_url = excluded.owner_url, token = operation_leases.token + 1, "
                "expires_at = excluded.expires_at "
                "WHERE operation_leases.expires_at < clock_timestamp() "
                "OR operation_leases.owner = excluded.owner RETURNING token",
                (tenant, country, self.replica, self.url, self.seconds)).fetchone()
            if row is None:
                return False, False
            self._held[operation] = _Held(int(row[0]), started + self.seconds)
            log.info("took operation %s/%s (token %s)", tenant, country, row[0])
            return True, False

    def renew(self) -> tuple[set[Operation], set[Operation]]:
        """Extend every lease this replica's row holds, and say it is alive; the operations
        found lost (another replica took them after this one's lease ran out, or was handed
        them), and those handed to this one (`hand_over`) that it has not taken up yet."""
        with self._lock:
            started = time.monotonic()
            self._conn.execute(
                "INSERT INTO replica_heartbeats (replica, url, seen_at) "
                "VALUES (?, ?, clock_timestamp()) ON CONFLICT (replica) DO UPDATE SET "
                "url = excluded.url, seen_at = excluded.seen_at", (self.replica, self.url))
            rows = self._conn.execute(
                f"UPDATE operation_leases SET expires_at = {_LEASE_FOR} WHERE owner = ? "
                "RETURNING tenant, country, token", (self.seconds, self.replica)).fetchall()
            kept = {(row[0], row[1]): int(row[2]) for row in rows}
            lost = set()
            for operation, held in list(self._held.items()):
                if kept.get(operation) == held.token:
                    self._held[operation] = _Held(held.token, started + self.seconds)
                else:
                    lost.add(operation)
                    del self._held[operation]
            return lost, set(kept) - set(self._held)

    def hand_over(self) -> Operation | None:
        """When this replica holds more than its even share of the live operations and a
        live replica holds at least two fewer, hand the last of its operations (in order)
        to the replica that holds fewest: the lease row names that replica, with a new
        token, so this one's writes to it are fenced from then on, and the other takes it
        up on its next round (`renew` reports it). One per call, so the work moves a little
        at a time; the operation let go, or None when the share is even."""
        with self._lock:
            live = [row[0] for row in self._conn.execute(
                "SELECT replica FROM replica_heartbeats "
                "WHERE seen_at > clock_timestamp() - make_interval(secs => ?) "
                "ORDER BY replica", (self.seconds,))]
            if self.replica not in live or len(live) < 2 or not self._held:
                return None
            load = dict.fromkeys(live, 0)
            for owner, count in self._conn.execute(
                    "SELECT owner, count(*) FROM operation_leases "
                    "WHERE expires_at >= clock_timestamp() GROUP BY owner"):
                if owner in load:
                    load[owner] = int(count)
            share = -(-sum(load.values()) // len(load))  # rounded up
            target = min(live, key=lambda r: (load[r], r))
            if load[self.replica] <= share or load[target] > load[self.replica] - 2:
                return None
            operation = max(self._held)
            tenant, country = operation
            row = self._conn.execute(
                "UPDATE operation_leases SET owner = ?, owner_url = (SELECT url FROM "
                "replica_heartbeats WHERE replica = ?), token = token + 1, "
                f"expires_at = {_LEASE_FOR} WHERE tenant = ? AND country = ? AND owner = ? "
                "AND token = ? RETURNING token",
                (target, target, self.seconds, tenant, country, self.replica,
                 self._held[operation].token)).fetchone()
            del self._held[operation]  # handed over, or found another's: not judged here
        if row is not None:
            log.info("handed operation %s/%s over to replica %s (token %s): %d held here, "
                     "%d there", tenant, country, target, row[0], load[self.replica] - 1,
                     load[target] + 1)
        return operation

    def release(self) -> None:
        """Let every operation go at once (a clean stop): others need not wait the lease out."""
        with self._lock:
            self._conn.execute("UPDATE operation_leases SET expires_at = clock_timestamp() "
                               "WHERE owner = ?", (self.replica,))
            # A replica's id is never reused: its heartbeat goes with it, and those of
            # replicas killed long ago (which could not remove their own) go too.
            self._conn.execute("DELETE FROM replica_heartbeats WHERE replica = ? OR seen_at < "
                               "clock_timestamp() - interval '1 day'", (self.replica,))
            self._held.clear()

    def orphans(self) -> list[Operation]:
        """The operations whose holder let them go or stopped renewing, and the share of
        them this replica should take: as many as bring it to an even share of all the
        operations among the live replicas (the others take the rest)."""
        with self._lock:
            free = [(row[0], row[1]) for row in self._conn.execute(
                "SELECT tenant, country FROM operation_leases "
                "WHERE expires_at < clock_timestamp() ORDER BY tenant, country")]
            if not free:
                return []
            load = {row[0]: int(row[1]) for row in self._conn.execute(
                "SELECT owner, count(*) FROM operation_leases "
                "WHERE expires_at >= clock_timestamp() GROUP BY owner")}
        load.setdefault(self.replica, 0)
        share = -(-(sum(load.values()) + len(free)) // len(load))  # rounded up
        # Each replica starts at its own place in the list, so two take different ones.
        start = hash(self.replica) % len(free)
        ordered = free[start:] + free[:start]
        return ordered[:max(0, share - load[self.replica])]

    def shared_secret(self) -> str:
        """The secret every replica of this database forwards jobs with: made by the first
        replica, read by the others (whoever can read it can write the data anyway)."""
        with self._lock:
            self._conn.execute("INSERT INTO replica_secret (id, secret) VALUES (1, ?) "
                               "ON CONFLICT DO NOTHING", (secrets.token_urlsafe(32),))
            return str(self._conn.execute("SELECT secret FROM replica_secret WHERE id = 1")
                       .fetchone()[0])

    def notify(self, channel: str, payload: str) -> None:
        """``NOTIFY channel, payload`` to every replica listening."""
        with self._lock:
            self._conn.execute("SELECT pg_notify(?, ?)", (channel, payload))

    def holders(self, tenant: str, countries: Iterable[str]) -> dict[str, Holder]:
        """Who holds each of these operations of `tenant` (absent: never taken)."""
        names = sorted(set(countries))
        if not names:
            return {}
        with self._lock:
            rows = self._conn.execute(
                "SELECT country, owner, owner_url, token, expires_at > clock_timestamp() "
                f"FROM operation_leases WHERE tenant = ? AND country IN "
                f"({', '.join('?' * len(names))})", (tenant, *names)).fetchall()
        return {row[0]: Holder(row[1], row[2], int(row[3]), bool(row[4])) for row in rows}

    def fence(self, conn: Connection, operations: Collection[Operation]) -> list[Operation]:
        """Inside the writer's transaction, before it commits: lock the lease row of each
        operation it writes and check this replica still holds it with the same token; the
        operations it does not (the transaction must then be rolled back)."""
        wanted = sorted(operations)
        if not wanted:
            return []
        with self._lock:
            tokens = {op: self._held[op].token for op in wanted if op in self._held}
        found: set[Operation] = set()
        if tokens:
            args = [v for (tenant, country), token in sorted(tokens.items())
                    for v in (tenant, country, token)]
            rows = conn.execute(
                "SELECT l.tenant, l.country FROM operation_leases l JOIN (VALUES "
                + ", ".join(["(?, ?, CAST(? AS BIGINT))"] * len(tokens))
                + ") AS k (tenant, country, token) ON l.tenant = k.tenant "
                "AND l.country = k.country AND l.token = k.token "
                "WHERE l.owner = ? AND l.expires_at > clock_timestamp() FOR SHARE OF l",
                [*args, self.replica]).fetchall()
            found = {(row[0], row[1]) for row in rows}
        return [op for op in wanted if op not in found]
