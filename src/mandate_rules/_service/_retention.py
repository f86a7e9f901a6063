"""Retention (the `retain_days` setting): the store keeps the event log and the decision log
no longer than the organisation decided, and only what a snapshot already holds is deleted.

What a pass deletes, per operation (tenant + country) this process judges:

* each event and clock tick stored (`received_at`) before the cutoff, `retain_days` ago, at
  or before the seq of the operation's snapshot taken under the rule packs in force: the
  snapshot holds what those events did to the engine's state, so a restart from it rebuilds
  the same state without them;
* the decision-log rows of those events (all recorded before the cutoff).

What it keeps: advisories, their resolutions, the candidate's advisories (shadow mode), the
adapters' write-back outbox, and every event one of those advisories refers to (its
evidence, `raised_by`; the foreign keys demand it too), or that a decision row recorded
after the cutoff refers to (a recent re-delivery of it).

It runs on the engine thread, the store's only writer in a process, after the snapshots:
a pass starts at most once an hour (`EVERY`) and writes every tenant's snapshot first, so
that what is older than the cutoff is covered. It deletes `CHUNK` events at a time, each
chunk its own transaction, and stops between chunks as soon as requests are waiting; the
pass goes on after their group. Below a `Progress.mark` every event left is evidence, kept
for good, so a pass does not look at those again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, MutableMapping
from typing import Any

import attrs

from .._database import Connection
from .._rules import Absence, Bundle, Count, Lookback, duration_text
from ._store import Store

__all__ = ["CHUNK", "EVERY", "Progress", "Pruned", "Retention", "longest_span", "prune",
           "span_warning", "warn_spans"]

log = logging.getLogger("mandate_rules.service")

#: Events deleted per statement and per transaction.
CHUNK = 1_000
#: Seconds between the starts of two passes in one process.
EVERY = 3600.0

_DAY = 86_400.0

Fence = Callable[[set[tuple[str, str]]], None]

# One chunk of an operation's covered log, in order, with what decides each event's fate.
# CASE, not a bare comparison: both backends then answer 0 or 1.
_CHUNK_SQL = """
SELECT e.seq,
       CASE WHEN e.received_at < ? THEN 1 ELSE 0 END AS old,
       CASE WHEN EXISTS (SELECT 1 FROM advisories a WHERE a.event_seq = e.seq)
              OR EXISTS (SELECT 1 FROM shadow_advisories s WHERE s.event_seq = e.seq)
            THEN 1 ELSE 0 END AS evidence,
       CASE WHEN EXISTS (SELECT 1 FROM decisions d WHERE d.event_seq = e.seq
                         AND d.recorded_ts >= ?)
            THEN 1 ELSE 0 END AS recent
FROM events e
WHERE e.tenant = ? AND e.country = ? AND e.seq > ? AND e.seq <= ?
ORDER BY e.seq
LIMIT ?
"""


@attrs.frozen
class Pruned:
    """What one call of `prune` deleted; `done` False: it stopped between chunks with more
    of the covered log still to go through."""

    events: int = 0
    decisions: int = 0
    done: bool = True


@attrs.define
class Progress:
    """How far retention has gone through one operation's log, kept by the process between
    calls: every event left at or below `mark` is kept for good (an advisory's evidence);
    `at` is where a pass that stopped between chunks goes on from (None: none did)."""

    mark: int = 0
    at: int | None = None
    # Whether `mark` still follows the pass: not once it kept an event for a while only.
    moving: bool = True


def _text(when: dt.datetime) -> str:
    """`when` as the store writes `received_at` (ISO 8601, milliseconds, Z): compared as text."""
    return when.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _covered(conn: Connection, tenant: str, rules_hash: str | None,
             countries: Collection[str] | None) -> list[tuple[str, int]]:
    """Each operation's snapshot seq (under `rules_hash` only, when given)."""
    sql = "SELECT country, seq, rules_hash FROM operation_snapshots WHERE tenant = ?"
    args: list[Any] = [tenant]
    if countries is not None:
        names = sorted(countries)
        if not names:
            return []
        sql += f" AND country IN ({', '.join('?' * len(names))})"
        args += names
    return [(row["country"], int(row["seq"]))
            for row in conn.execute(sql + " ORDER BY country", args).fetchall()
            if rules_hash is None or row["rules_hash"] == rules_hash]


def prune(store: Store | Connection, tenant: str, *, cutoff: dt.datetime,
          rules_hash: str | None = None, countries: Collection[str] | None = None,
          progress: MutableMapping[str, Progress] | None = None, chunk: int = CHUNK,
          fence: Fence | None = None, stop: Callable[[], bool] | None = None) -> Pruned:
    """Delete the tenant's events stored before `cutoff` that its operations' snapshots
    cover (those taken under `rules_hash`, when given; of `countries` only, when named),
    and their decision-log rows; advisories, resolutions and their evidence are kept.

    Runs on the writer's connection, which must have no transaction open: one transaction
    per chunk of `chunk` events, in which `fence` (called with the operation) may refuse
    the chunk by raising. `progress` (per country) is where each operation's scan starts and
    is updated; `stop` is asked after each chunk whether to stop there (`Pruned.done` False).
    """
    conn = store.connection if isinstance(store, Store) else store
    if conn.in_transaction:
        raise ValueError("prune runs its own transactions: commit or roll back first")
    chunk = max(1, min(chunk, conn.max_params - 1))
    if progress is None:
        progress = {}
    since, since_ts = _text(cutoff), cutoff.timestamp()
    events = decisions = 0
    for country, upto in _covered(conn, tenant, rules_hash, countries):
        state = progress.setdefault(country, Progress())
        if state.at is None:
            state.moving = True
        while True:
            after = state.at if state.at is not None else state.mark
            mark, moving = state.mark, state.moving
            doomed: list[int] = []
            conn.execute(conn.begin_sql)
            try:
                rows = conn.execute(_CHUNK_SQL, (since, since_ts, tenant, country, after,
                                                 upto, chunk)).fetchall()
                finished = len(rows) < chunk
                for row in rows:
                    if not row["old"]:  # stored later than the cutoff, as is all after it
                        finished = True
                        break
                    if not row["evidence"]:
                        if row["recent"]:
                            moving = False
                        else:
                            doomed.append(int(row["seq"]))
                    after = int(row["seq"])
                    if moving:
                        mark = after
                if doomed:
                    marks = ", ".join("?" * len(doomed))
                    decisions += conn.execute(
                        f"DELETE FROM decisions WHERE tenant = ? AND recorded_ts < ? "
                        f"AND event_seq IN ({marks})", [tenant, since_ts, *doomed]).rowcount
                    events += conn.execute(
                        f"DELETE FROM events WHERE tenant = ? AND seq IN ({marks})",
                        [tenant, *doomed]).rowcount
                    if fence is not None:
                        fence({(tenant, country)})
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            state.mark, state.moving = mark, moving
            state.at = None if finished else after
            if finished:
                break
            if stop is not None and stop():
                return Pruned(events, decisions, done=False)
    return Pruned(events, decisions)


def longest_span(bundle: Bundle) -> tuple[float, str] | None:
    """The longest window or deadline of fixed length in `bundle`'s rules, and where:
    (seconds, "RULE-ID trigger-name"); None when no rule has one."""
    spans = [(t.pattern.within_seconds, f"{rule.id} {t.name}")
             for rule in bundle.rules for t in rule.triggers
             if isinstance(t.pattern, (Count, Lookback, Absence))
             and t.pattern.within_seconds is not None]
    return max(spans, key=lambda span: span[0]) if spans else None


def warn_spans(days: int, live: Bundle, shadow: Bundle | None) -> None:
    """Log `span_warning` for the live rule packs and the candidate's (at start, on reload)."""
    for bundle, role in ((live, "live"), (shadow, "candidate")):
        warning = span_warning(bundle, days, role) if bundle is not None else None
        if warning is not None:
            log.warning("%s", warning)


def span_warning(bundle: Bundle, days: int, role: str = "live") -> str | None:
    """What a user loses when `bundle`'s longest window or deadline is longer than
    `days` (None: it is not)."""
    longest = longest_span(bundle)
    if longest is None or longest[0] <= days * _DAY:
        return None
    seconds, where = longest
    return (f"retain_days = {days} is shorter than the longest window or deadline of the "
            f"{role} rule packs ({duration_text(seconds)}, {where}): events older than "
            f"{days} days are deleted once a snapshot holds them, so new rule packs (a reload, "
            f"or a candidate in shadow mode) build their state from the retained events only "
            f"and miss what came before (docs/sidecar.md, Retention)")


@attrs.define
class Retention:
    """The process's retention: a pass at most every `every` seconds (from `begin`), gone
    on with after each group (`go_on`) until every tenant's log has been gone through.
    `pause` says whether a pass should stop between chunks (requests, or the server's stop,
    are waiting for the engine thread): it goes on after the next group."""

    days: int
    pause: Callable[[], bool]
    every: float = EVERY
    next_pass: float = 0.0  # time.monotonic() from which a pass may start
    cutoff: dt.datetime | None = None  # that of the pass under way (None: no pass is)
    pending: list[str] = attrs.field(factory=list)  # the pass's tenants still to go through
    progress: dict[str, dict[str, Progress]] = attrs.field(factory=dict)
    totals: list[int] = attrs.field(factory=lambda: [0, 0])  # the pass's events, decisions

    @property
    def running(self) -> bool:
        return self.cutoff is not None

    def begin(self, tenants: Collection[str], monotonic: float,
              now: dt.datetime | None = None) -> bool:
        """Start a pass over `tenants` if none is under way and one is due; whether it did."""
        if self.running or monotonic < self.next_pass:
            return False
        self.next_pass = monotonic + self.every
        self.cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=self.days)
        self.pending = sorted(tenants)
        self.totals = [0, 0]
        return True

    def go_on(self, store: Store, *, rules_hash: str,
              owned: Callable[[str], Collection[str] | None], fence: Fence,
              skip: Collection[str] = ()) -> set[str]:
        """Go on with the pass under way until it is done or requests wait; the tenants
        whose log lost events (their in-memory baselines may predate what was deleted).
        A tenant whose pass fails is left until the next pass (the log keeps its events)."""
        assert self.cutoff is not None
        changed: set[str] = set()
        while self.pending:
            name = self.pending[0]
            if name in skip:  # engines that could not be rebuilt: left for the next pass
                self.pending.pop(0)
                continue
            try:
                pruned = prune(store, name, cutoff=self.cutoff, rules_hash=rules_hash,
                               countries=owned(name),
                               progress=self.progress.setdefault(name, {}),
                               fence=fence, stop=self.pause)
            except Exception as exc:
                log.warning("tenant %s: retention could not delete its old events (%r); "
                            "they are kept until the next pass", name, exc)
                store.rollback()
                self.pending.pop(0)
                continue
            self.totals[0] += pruned.events
            self.totals[1] += pruned.decisions
            if pruned.events:
                changed.add(name)
            if not pruned.done:
                return changed
            self.pending.pop(0)
        log.info("retention: deleted %d events and %d decision-log rows stored before %s "
                 "(retain_days = %d)", self.totals[0], self.totals[1], _text(self.cutoff),
                 self.days)
        self.cutoff = None
        return changed

