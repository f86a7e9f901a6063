"""The engine thread: the only caller of the engines and the only writer of the store.

Requests become jobs on a bounded queue; one thread takes them in arrival order, a group
at a time. It looks up which of the group's events are re-deliveries, evaluates each new
event (live engine, then the candidate's), then writes the group's events, advisories and
decision-log rows together (a few statements per group, not per event) and commits once
(group commit: one fsync for many events); only then are the requests answered. So:

* the engines are never entered by two threads (durable_rules' C core is not re-entrant);
* an answered event is on disk, with its advisories, exactly once;
* an engine's state never holds an event the store does not: when a write fails, or a
  batch is refused half-way, the tenant's engines go back to their baseline (their state
  as of a recent committed event, kept in memory) and replay only the events stored
  after it, never the whole log.

Each tenant has its own engines (live, and the candidate in shadow mode), so no tenant's
events can reach another's windows or deadlines.
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import attrs

from .._compare import match_key
from .._engine import Engine
from .._errors import EngineError
from .._models import Advisory, Event, RulesVersion, content_hash, format_time
from .._rules import Bundle
from ._errors import ApiError, internal_error
from ._metrics import Metrics
from ._store import (
    AdvisoryRow,
    Duplicate,
    Evaluated,
    LogRow,
    ShadowOutcome,
    Store,
    StoredEvent,
    json_text,
)

log = logging.getLogger("mandate_rules.service")

# The source of the ticks the service applies itself; clients may not use it.
CLOCK_SOURCE = "mandate-rules://sidecar/clock"
MAX_GROUP = 128
# On start, the last stored events of a tenant are evaluated again and their advisories
# compared with those stored (a check that state and rules still agree); the rest is replayed.
VERIFY_TAIL = 1_000
# Each tenant's baseline (see `_Baseline`) is taken again once this many events or ticks
# were evaluated after it: recovering from a failed request replays at most about this
# many stored events, and taking one costs an `Engine.snapshot()` (scripts/recovery_cost.py).
BASELINE_EVERY = 10_000


@attrs.frozen
class ItemResult:
    """What one submitted event got: its advisories, and whether it had been seen before.

    Each advisory is held as the JSON text the store keeps, encoded once: the response is
    spliced together from those texts rather than encoded again.
    """

    event: dict[str, str]
    duplicate: bool
    rules_version: RulesVersion
    advisory_texts: tuple[str, ...]

    @property
    def advisories(self) -> list[dict[str, Any]]:
        return [json.loads(text) for text in self.advisory_texts]

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event, "duplicate": self.duplicate,
                "rules_version": self.rules_version.to_json(), "advisories": self.advisories}

    def json_text(self) -> str:
        """`to_json()` encoded by `json_text`, without decoding and encoding the advisories."""
        head = json_text({"event": self.event, "duplicate": self.duplicate,
                          "rules_version": self.rules_version.to_json()})
        return f'{head[:-1]},"advisories":[{",".join(self.advisory_texts)}]}}'


@attrs.define(kw_only=True)
class Job:
    future: Future[Any] = attrs.field(factory=Future, init=False)


@attrs.define(kw_only=True)
class Submit(Job):
    tenant: str
    events: tuple[Event, ...]
    batch: bool


@attrs.define(kw_only=True)
class Preview(Job):
    tenant: str
    event: Event


@attrs.define(kw_only=True)
class Resolve(Job):
    tenant: str
    advisory_id: str
    decision: str
    text: str | None
    by: str


@attrs.define(kw_only=True)
class Tick(Job):
    now: dt.datetime


@attrs.define(kw_only=True)
class Install(Job):
    live: Bundle
    shadow: Bundle | None
    startup: bool = False


@attrs.define(kw_only=True)
class _Stop(Job):
    """Tells the engine thread to finish the jobs before it and stop."""


@attrs.frozen
class _Baseline:
    """A tenant's engines' state holding every committed event of it up to `seq`: what
    recovery restores, so that a failed request costs a replay of the events after `seq`
    rather than of the whole log. Held as JSON text, so that no restored state shares an
    object with it and it can be restored again."""

    seq: int
    live: str
    shadow: str | None
    clocks: tuple[tuple[str, dt.datetime], ...]


@attrs.define
class _Tenant:
    name: str
    live: Engine
    shadow: Engine | None
    clocks: dict[str, dt.datetime]  # the latest event or tick time, per operation
    baseline: _Baseline | None = None
    since: int = 0  # events and ticks evaluated after the baseline


class _StoreFailure(Exception):
    """A write failed: the whole group is rolled back, and each of its jobs answered `error`."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.message)
        self.error = error


def _store_error(exc: BaseException) -> ApiError:
    """What the jobs of a group whose write raised `exc` are answered."""
    if isinstance(exc, sqlite3.Error):
        return ApiError("store-unavailable", f"the database could not be written ({exc}); "
                        "nothing was stored", None, headers={"Retry-After": "5"})
    return internal_error(log, "writing to the store failed unexpectedly", exc)


@attrs.define
class _Pending:
    """One tenant's evaluated events not yet written: the group writes them all at once."""

    rules_version: RulesVersion
    entries: list[Evaluated | Duplicate] = attrs.field(factory=list)
    first: dict[tuple[str, str], int] = attrs.field(factory=dict)  # index of each event
    # Per job: its entries, and where the ids newly stored go once written.
    jobs: list[tuple[int, int, list[list[str]]]] = attrs.field(factory=list)


_Done = tuple[Future[Any], Any, Callable[[], None] | None]
# What the metrics count for one entry: type, outcome, new ids, advisories, the candidate's.
_Counted = tuple[str, str, list[str], list[Advisory], list[Advisory]]


def advisory_row(advisory: Advisory) -> AdvisoryRow:
    """The advisory as the store writes it, its body encoded once (see `ItemResult`)."""
    body = advisory.to_json()
    return AdvisoryRow(
        id=advisory.id, rule_id=advisory.rule_id, severity=advisory.severity.value,
        subject=advisory.subject, source=advisory.source, country=advisory.country,
        raised_at=body["raised_at"], raised_ts=advisory.raised_at.timestamp(),
        rules_version=advisory.rules_version, match_key=match_key(advisory),
        body=json_text(body))


def _ref(event: Event) -> dict[str, str]:
    return {"source": event.source, "id": event.id, "type": event.type}


class Worker:
    """Owns the tenants' engines and the store's write connection, on one thread."""

    def __init__(self, store: Store, metrics: Metrics, tenants: Sequence[str], *,
                 queue_limit: int, snapshot_every: int = 50_000) -> None:
        self._store = store
        self._snapshot_every = snapshot_every
        # Events evaluated per tenant since its last snapshot was written.
        self._unsnapshotted: dict[str, int] = {}
        self._metrics = metrics
        self._configured = tuple(tenants)
        self._queue: queue.Queue[Job] = queue.Queue(maxsize=queue_limit)
        self._tenants: dict[str, _Tenant] = {}
        self._dirty: set[str] = set()  # tenants whose engines could not be rebuilt
        self._pending: dict[str, _Pending] = {}
        # The stored events among those the group's jobs submit, per tenant, looked up once
        # for the group; None: look them up job by job.
        self._known: dict[str, dict[tuple[str, str], StoredEvent]] | None = None
        self._thread = threading.Thread(target=self._run, name="mandate-rules-engine",
                                        daemon=True)
        self._accepting = True
        self.live_bundle: Bundle | None = None
        self.shadow_bundle: Bundle | None = None
        self.ready = False
        self.fatal: str | None = None

    # ---------------------------------------------------------------- the outside

    def start(self, live: Bundle, shadow: Bundle | None) -> Future[Any]:
        """Start the thread; its first job rebuilds every tenant's engines from the log."""
        job = Install(live=live, shadow=shadow, startup=True)
        self._queue.put(job)
        self._thread.start()
        return job.future

    def submit(self, job: Job) -> Future[Any]:
        if not self._accepting or self.fatal is not None:
            raise ApiError("not-ready", "the server is stopping or has failed", None)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise ApiError("overloaded", "too many requests are waiting for the engine; "
                           "retry shortly", None, headers={"Retry-After": "1"}) from None
        return job.future

    def stop(self, timeout: float = 30.0) -> None:
        """Finish and commit every job already queued, then end the thread."""
        self._accepting = False
        if self._thread.is_alive():
            self._queue.put(_Stop())
            self._thread.join(timeout)

    def queue_depth(self) -> int:
        return self._queue.qsize()

    @property
    def healthy(self) -> bool:
        return self.ready and self.fatal is None and not self._dirty

    def state_sizes(self) -> dict[str, int]:
        """What the live engines hold, summed over tenants (each read under its engine's lock)."""
        total: dict[str, int] = {}
        for tenant in list(self._tenants.values()):
            for key, value in tenant.live.state_size().items():
                total[key] = total.get(key, 0) + value
        return total

    # ---------------------------------------------------------------- the thread

    def _run(self) -> None:
        try:
            while True:
                group = [self._queue.get()]
                while len(group) < MAX_GROUP:
                    try:
                        group.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                stop = next((j for j in group if isinstance(j, _Stop)), None)
                jobs = [j for j in group if not isinstance(j, _Stop)]
                try:
                    self._process(jobs)
                    if stop is not None:  # stopping: every tenant's state as it is now
                        self._snapshots(at_least=1)
                    elif self._snapshot_every:
                        self._snapshots(at_least=self._snapshot_every)
                    self._baselines()
                except Exception as exc:  # one group's failure, not the thread's
                    self._group_failed(jobs, exc)
                if stop is not None:
                    stop.future.set_result(None)
                    self._drain("the server is stopping")
                    return
        except BaseException as exc:  # a bug: never leave callers waiting for ever
            log.critical("the engine thread failed: %r", exc, exc_info=True)
            self.fatal = repr(exc)
            self._drain("the engine thread failed")
            raise
        finally:
            self._store.rollback()

    def _group_failed(self, jobs: list[Job], exc: Exception) -> None:
        """What escaped a group's own handling: its unanswered jobs fail, nothing of it is
        kept (store or engines), and the thread goes on with the next group."""
        error = internal_error(log, "the engine thread failed on a group of requests", exc)
        self._pending.clear()
        self._known = None
        try:
            self._store.rollback()
        except Exception:  # the rebuild below reads what is committed
            log.exception("rollback failed")
        unanswered = [job for job in jobs if not job.future.done()]
        for job in unanswered:
            job.future.set_exception(error)
        # An unanswered job's events may be in its tenant's engines but not in the store.
        for name in sorted({job.tenant for job in unanswered if isinstance(job, Submit)}):
            self._rebuild(name)

    def _drain(self, why: str) -> None:
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(ApiError("not-ready", why, None))

    def _process(self, group: list[Job]) -> None:
        done: list[_Done] = []
        touched: set[str] = set()
        self._known = self._lookup(group)
        for job in group:
            if not job.future.set_running_or_notify_cancel():
                continue  # the caller went away before the job started: nothing was done
            try:
                if isinstance(job, Install):
                    self._commit(done, touched)
                    job.future.set_result(self._install(job))
                elif isinstance(job, Preview):
                    self._flush()
                    job.future.set_result(self._preview(job))
                elif isinstance(job, Submit):
                    touched.add(job.tenant)
                    result, after = self._submit(job)
                    done.append((job.future, result, after))
                elif isinstance(job, Resolve):
                    self._flush()
                    done.append((job.future, self._resolve(job), None))
                elif isinstance(job, Tick):
                    touched.update(self._tenants)
                    self._flush()
                    count, after = self._tick(job.now)
                    done.append((job.future, count, after))
            except ApiError as exc:
                job.future.set_exception(exc)
            except _StoreFailure as exc:
                job.future.set_exception(self._store_failed(done, touched, exc.error))
            except Exception as exc:  # this job fails; the others go on
                job.future.set_exception(internal_error(
                    log, "unexpected error in the engine thread", exc))
        self._commit(done, touched)
        self._known = None

    def _lookup(self, group: list[Job]) -> dict[str, dict[tuple[str, str], StoredEvent]] | None:
        """Which of the events the group submits are stored already: one query per tenant."""
        keys: dict[str, list[tuple[str, str]]] = {}
        for job in group:
            if isinstance(job, Submit):
                keys.setdefault(job.tenant, []).extend(event.key for event in job.events)
        try:
            return {name: self._store.find_events(name, wanted)
                    for name, wanted in keys.items()}
        except Exception:  # each job asks again, and fails on its own
            return None

    def _commit(self, done: list[_Done], touched: set[str]) -> None:
        started = time.perf_counter()
        try:
            self._flush()
            self._store.commit()
        except _StoreFailure as exc:
            self._store_failed(done, touched, exc.error)
            return
        except Exception as exc:  # the group fails, the thread goes on
            self._store_failed(done, touched, _store_error(exc))
            return
        self._metrics.commit.observe(time.perf_counter() - started)
        for future, result, after in done:
            if after is not None:
                after()
            future.set_result(result)
        done.clear()
        touched.clear()

    def _store_failed(self, done: list[_Done], touched: set[str],
                      error: ApiError) -> ApiError:
        """Roll the group back, fail its jobs with `error`, and rebuild the engines it
        touched."""
        log.error("writing to the store failed; the group is rolled back: %s", error.message)
        self._pending.clear()
        self._known = None
        try:
            self._store.rollback()
        except Exception:  # the rebuild below reads what is committed
            log.exception("rollback failed")
        for future, _, _ in done:
            future.set_exception(error)
        for name in sorted(touched):
            self._rebuild(name)
        done.clear()
        touched.clear()
        return error

    # ---------------------------------------------------------------- tenants and replay

    def _tenant(self, name: str) -> _Tenant:
        if name in self._dirty:
            self._flush()
            self._rebuild(name)
            if name in self._dirty:
                raise ApiError("store-unavailable", "this tenant's state cannot be rebuilt "
                               "from the database right now", None, headers={"Retry-After": "5"})
        tenant = self._tenants.get(name)
        if tenant is None:  # a tenant with no stored event and no token: build it empty
            assert self.live_bundle is not None
            tenant = self._tenants[name] = self._build(name, self.live_bundle,
                                                       self.shadow_bundle)
        return tenant

    def _rebuild(self, name: str) -> None:
        """Bring `name`'s engines back to what the store holds: from the tenant's baseline
        when it has one (the events stored after it are replayed), else from the store."""
        assert self.live_bundle is not None
        current = self._tenants.get(name)
        try:
            if current is not None and current.baseline is not None:
                try:
                    self._tenants[name] = self._recover(current, current.baseline)
                    self._dirty.discard(name)
                    return
                except Exception as exc:  # the store's log is still there to rebuild from
                    log.warning("tenant %s: recovering from its baseline failed (%r); "
                                "rebuilding from the store", name, exc)
            self._tenants[name] = self._build(name, self.live_bundle, self.shadow_bundle)
            self._dirty.discard(name)
        except Exception as exc:  # the tenant answers 503 until a rebuild succeeds
            log.error("cannot rebuild tenant %s from the store: %s", name, exc)
            self._dirty.add(name)

    def _recover(self, current: _Tenant, baseline: _Baseline) -> _Tenant:
        """`current`'s engines, their state put back to `baseline`, then the tenant's events
        stored after it replayed (those of the group being written included)."""
        if (current.shadow is None) != (baseline.shadow is None):
            raise ValueError("the baseline was taken with other engines")
        tenant = _Tenant(current.name, current.live, current.shadow, dict(baseline.clocks),
                         baseline)
        tenant.live.restore(json.loads(baseline.live))
        if tenant.shadow is not None and baseline.shadow is not None:
            tenant.shadow.restore(json.loads(baseline.shadow))
        tenant.since = self._replay(tenant, baseline.seq, baseline.seq, None)
        log.info("tenant %s: state put back to its baseline at stored event %d, %d events "
                 "after it replayed", tenant.name, baseline.seq, tenant.since)
        return tenant

    def _baselines(self) -> None:
        """Take the baseline of each tenant that has none or has evaluated `BASELINE_EVERY`
        events since its last; called between groups, when every write is committed."""
        for tenant in list(self._tenants.values()):
            if tenant.name in self._dirty or (tenant.baseline is not None
                                              and tenant.since < BASELINE_EVERY):
                continue
            try:
                tenant.baseline = _Baseline(
                    self._store.last_seq(tenant.name), json_text(tenant.live.snapshot()),
                    json_text(tenant.shadow.snapshot()) if tenant.shadow is not None else None,
                    tuple(sorted(tenant.clocks.items())))
                tenant.since = 0
            except Exception as exc:  # recovery then rebuilds from the store instead
                log.warning("tenant %s: taking its baseline failed: %r", tenant.name, exc)

    def _build(self, name: str, live_bundle: Bundle, shadow_bundle: Bundle | None) -> _Tenant:
        """New engines for `name`, their state rebuilt from the store.

        The live engine starts from the tenant's last snapshot when it was taken under these
        rule packs, and replays (`Engine.replay`) the stored events after it; without one,
        the whole log. The last `VERIFY_TAIL` events stored under these same packs are
        evaluated instead, and the advisories they raise compared with those stored; a
        difference is logged and counted. The candidate engine (shadow mode) always replays
        the whole log.
        """
        tenant = _Tenant(name, Engine(live_bundle),
                         Engine(shadow_bundle) if shadow_bundle else None, {})
        restored = self._restore(tenant, live_bundle.version.hash)
        after = 0 if tenant.shadow is not None else restored
        self._unsnapshotted[name] = self._replay(
            tenant, restored, after, self._store.last_seq(name, VERIFY_TAIL - 1))
        return tenant

    def _replay(self, tenant: _Tenant, restored: int, after: int,
                verify_from: int | None) -> int:
        """Replay the tenant's stored events after seq `after` (the live engine those after
        `restored`); from seq `verify_from` on, evaluate and compare them with the stored
        advisories instead (None: never). Returns how many the live engine replayed."""
        name, live_hash = tenant.name, tenant.live.bundle.version.hash
        replayed = divergent = failed = 0
        for row in self._store.log(name, after=after):
            when = dt.datetime.fromisoformat(row.time)
            event = None if row.kind == "tick" else self._stored_event(name, row)
            if row.kind != "tick" and event is None:
                failed += 1
                continue
            if tenant.shadow is not None:
                try:
                    if event is None:
                        tenant.shadow.advance(row.country, when)
                    else:
                        tenant.shadow.replay(event)
                except Exception as exc:
                    log.warning("tenant %s: the candidate rule packs could not replay stored "
                                "event %s: %s", name, row.seq, exc)
            if row.seq <= restored:
                continue
            try:
                if event is None:
                    out: tuple[Advisory, ...] | None = tenant.live.advance(row.country, when)
                elif verify_from is not None and row.seq >= verify_from \
                        and row.rules_hash == live_hash:
                    out = tenant.live.evaluate(event)
                else:
                    tenant.live.replay(event)
                    out = None
            except Exception as exc:
                failed += 1
                log.warning("tenant %s: stored event %s could not be replayed: %s",
                            name, row.seq, exc)
                continue
            replayed += 1
            tenant.clocks[row.country] = max(tenant.clocks.get(row.country, when), when)
            if out is not None and row.rules_hash == live_hash \
                    and tuple(a.id for a in out) != row.advisory_ids:
                divergent += 1
                log.warning("tenant %s: replaying stored event %s raised %s; stored: %s",
                            name, row.seq, [a.id for a in out], list(row.advisory_ids))
        self._metrics.replayed.inc(amount=replayed)
        self._metrics.divergent.inc(amount=divergent)
        self._metrics.replay_errors.inc(amount=failed)
        if replayed or failed or restored:
            log.info("tenant %s: replayed %d stored events (%d divergent, %d failed)",
                     name, replayed, divergent, failed)
        return replayed

    def _stored_event(self, name: str, row: LogRow) -> Event | None:
        try:
            return Event.from_text(row.body, stored=True)
        except Exception as exc:
            log.warning("tenant %s: stored event %s could not be read: %s", name, row.seq, exc)
            return None

    def _restore(self, tenant: _Tenant, live_hash: str) -> int:
        """Load the tenant's last snapshot into its live engine if it was taken under these
        rule packs; the seq it holds events up to (0: none was loaded)."""
        snapshot = self._store.get_snapshot(tenant.name)
        if snapshot is None or snapshot.rules_hash != live_hash:
            return 0
        try:
            state = json.loads(snapshot.body)
            clocks = {country: dt.datetime.fromisoformat(when)
                      for country, when in json.loads(snapshot.clocks).items()}
            tenant.live.restore(state)
        except (ValueError, TypeError, AttributeError) as exc:  # SnapshotError is a ValueError
            log.warning("tenant %s: the snapshot at stored event %s cannot be loaded (%s); "
                        "replaying the whole log", tenant.name, snapshot.seq, exc)
            tenant.live.reset()
            return 0
        tenant.clocks.update(clocks)
        log.info("tenant %s: restored the snapshot taken at stored event %d (%s)",
                 tenant.name, snapshot.seq, snapshot.taken_at)
        return snapshot.seq

    def _snapshots(self, at_least: int) -> None:
        """Write the snapshot of each tenant with at least `at_least` events evaluated since
        its last one, each in its own transaction."""
        for name, count in list(self._unsnapshotted.items()):
            tenant = self._tenants.get(name)
            if count < max(1, at_least) or tenant is None or name in self._dirty \
                    or self.live_bundle is None:
                continue
            started = time.perf_counter()
            try:
                self._store.begin()
                self._store.put_snapshot(
                    name, self._store.last_seq(name), self.live_bundle.version.hash,
                    json_text({c: format_time(t) for c, t in sorted(tenant.clocks.items())}),
                    json_text(tenant.live.snapshot()))
                self._store.commit()
            except Exception as exc:  # the log still holds every event: a restart replays it
                log.warning("tenant %s: writing its snapshot failed: %r", name, exc)
                self._store.rollback()
                continue
            self._unsnapshotted[name] = 0
            log.info("tenant %s: snapshot written after %d events in %.2f s", name, count,
                     time.perf_counter() - started)

    def _install(self, job: Install) -> dict[str, Any]:
        """Swap in new rule packs: build every tenant's engines and replay, then swap at once."""
        unchanged = (self.live_bundle is not None
                     and self.live_bundle.version == job.live.version
                     and _version(self.shadow_bundle) == _version(job.shadow))
        started = time.perf_counter()
        if not unchanged or job.startup:
            names = sorted({*self._configured, *self._store.tenants(), *self._tenants})
            try:
                tenants = {name: self._build(name, job.live, job.shadow) for name in names}
            except (sqlite3.Error, EngineError) as exc:
                if job.startup:
                    self.fatal = f"cannot rebuild state from the store: {exc}"
                    log.critical(self.fatal)
                raise ApiError("reload-failed", f"rebuilding state for the new rule packs "
                               f"failed ({exc}); the running ones stay", None) from exc
            self._tenants = tenants
            self.live_bundle, self.shadow_bundle = job.live, job.shadow
            self._dirty.clear()
            _settle()
        self.ready = True
        return {"changed": not unchanged, "rules_version": job.live.version.to_json(),
                "shadow_version": _version_json(job.shadow),
                "seconds": round(time.perf_counter() - started, 3)}

    # ---------------------------------------------------------------- jobs

    def _submit(self, job: Submit) -> tuple[list[ItemResult], Callable[[], None]]:
        """Evaluate every event of the job; its writes wait for the group's (`_flush`).

        Nothing of a job is written until every event of it is evaluated, so a job refused
        half-way leaves nothing to undo in the store; a failed write fails the whole group.
        Writing a group's jobs together keeps the engine thread's statements, each of which
        hands the interpreter lock to the event loop, to a few per group.
        """
        tenant = self._tenant(job.tenant)
        assert self.live_bundle is not None
        version = self.live_bundle.version
        pending = self._pending.get(tenant.name)
        if pending is None:
            pending = self._pending[tenant.name] = _Pending(version)
        start = len(pending.entries)
        self._write(self._store.begin)
        known = self._known.get(tenant.name) if self._known is not None else None
        stored = known if known is not None else self._write(
            self._store.find_events, tenant.name,
            [e.key for e in job.events if e.key not in pending.first])
        self._refuse_conflicts(job.events, job.batch, stored, pending)
        results: list[ItemResult] = []
        counted: list[tuple[Event, tuple[Advisory, ...], tuple[Advisory, ...]]] = []
        changed = dirty = False
        try:
            for index, event in enumerate(job.events):
                existing = stored.get(event.key)
                earlier = pending.first.get(event.key)
                if existing is not None:
                    texts = self._write(self._store.advisory_texts, tenant.name,
                                        existing.advisory_ids)
                    results.append(ItemResult(_ref(event), True, existing.rules_version, texts))
                    pending.entries.append(Duplicate(
                        ref=_ref(event), rules_version=existing.rules_version,
                        advisory_ids=existing.advisory_ids, seq=existing.seq))
                    counted.append((event, (), ()))
                    continue
                if earlier is not None:  # evaluated earlier in this group: a re-delivery
                    before = pending.entries[earlier]
                    assert isinstance(before, Evaluated)
                    results.append(ItemResult(_ref(event), True, version,
                                              tuple(row.body for row in before.advisories)))
                    pending.entries.append(Duplicate(
                        ref=_ref(event), rules_version=version,
                        advisory_ids=tuple(row.id for row in before.advisories),
                        earlier=earlier))
                    counted.append((event, (), ()))
                    continue
                where = f"[{index}]" if job.batch else None
                started = time.perf_counter()
                try:
                    advisories, missing = self._judge(tenant, event)
                except EngineError as exc:
                    raise ApiError("engine-refused", str(exc), where, index=index) from exc
                except Exception as exc:
                    dirty = True
                    raise internal_error(log, f"the engine failed on event {event.id!r}",
                                         exc, "engine-failure", where) from exc
                changed = True
                self._unsnapshotted[tenant.name] = self._unsnapshotted.get(tenant.name, 0) + 1
                tenant.since += 1
                entry, shadow = self._evaluated(tenant, event, advisories,
                                                time.perf_counter() - started, missing)
                pending.first[event.key] = len(pending.entries)
                pending.entries.append(entry)
                counted.append((event, advisories, shadow))
                results.append(ItemResult(_ref(event), False, version,
                                          tuple(row.body for row in entry.advisories)))
        except BaseException:
            for key, at in list(pending.first.items()):
                if at >= start:
                    del pending.first[key]
            del pending.entries[start:]
            if changed or dirty:
                self._flush()  # replay must find the group's other events stored
                self._rebuild(tenant.name)
            raise
        outcomes = ["duplicate" if isinstance(e, Duplicate) else "stored"
                    for e in pending.entries[start:]]
        new: list[list[str]] = []  # filled when the group is written
        pending.jobs.append((start, len(pending.entries), new))

        def count() -> None:
            self._count([(event.type, outcome, ids, list(advisories), list(shadow))
                         for (event, advisories, shadow), outcome, ids
                         in zip(counted, outcomes, new, strict=True)])

        return results, count

    def _refuse_conflicts(self, events: Sequence[Event], batch: bool,
                          stored: dict[tuple[str, str], StoredEvent],
                          pending: _Pending | None) -> None:
        """Refuse a job's `events` whole, before the engine sees any of them, if one takes
        the `source` and `id` of an event stored, or sent earlier in the group (`pending`)
        or in the job, with other content.

        A re-delivery of the same content is idempotent; other content under a key already
        taken is a client's bug (two events given one id) that would otherwise be answered
        with the first one's advisories and lost.
        """
        firsts: dict[tuple[str, str], tuple[int, Event]] = {}
        for index, event in enumerate(events):
            key = event.key
            before: str | None = None
            existing = stored.get(key)
            if existing is not None:
                before = existing.content_hash
            elif pending is not None and key in pending.first:
                earlier = pending.entries[pending.first[key]]
                assert isinstance(earlier, Evaluated)
                before = earlier.content_hash
            elif key in firsts:
                before = firsts[key][1].content_hash()
            else:
                firsts[key] = (index, event)
                continue
            sent = event.content_hash()
            if before is not None and sent != before:
                self._metrics.conflicts.inc()
                details: dict[str, Any] = {"stored_hash": before, "sent_hash": sent}
                if batch:
                    details["index"] = index
                raise ApiError(
                    "conflicting-redelivery", f"an event from source {event.source!r} with id "
                    f"{event.id!r} was already received with other content ({before}); this "
                    f"one is {sent}. A re-delivery must carry the same content; a new event "
                    "needs a new id. Nothing was stored",
                    f"[{index}].id" if batch else "id", **details)

    def _flush(self) -> None:
        """Write every job of the group evaluated so far (it is committed with the group)."""
        while self._pending:
            name, pending = self._pending.popitem()
            seqs, new = self._write(self._store.record, name, pending.rules_version,
                                    pending.entries)
            for start, end, slot in pending.jobs:
                slot.extend(new[start:end])
            known = self._known.get(name) if self._known is not None else None
            if known is not None:  # later jobs of the group find these among the stored
                for seq, entry in zip(seqs, pending.entries, strict=True):
                    if isinstance(entry, Evaluated):
                        known[(entry.body["source"], entry.body["id"])] = StoredEvent(
                            seq, pending.rules_version,
                            tuple(row.id for row in entry.advisories),
                            entry.content_hash or content_hash(entry.body))

    def _judge(self, tenant: _Tenant, event: Event) -> tuple[tuple[Advisory, ...],
                                                             tuple[str, ...]]:
        """The live engine's advisories for `event`, and the stateful rules that matched it but
        could not follow it (a key field missing): counted, logged and in its decision row."""
        evaluation = tenant.live.evaluate_detailed(event)
        for missing in evaluation.missing_keys:
            for field in missing.fields:
                self._metrics.missing_keys.inc(missing.rule_id, field)
            log.info("tenant %s: event %s from %s: %s", tenant.name, event.id, event.source,
                     missing)
        return evaluation.advisories, tuple(str(m) for m in evaluation.missing_keys)

    def _evaluated(self, tenant: _Tenant, event: Event, advisories: tuple[Advisory, ...],
                   elapsed: float, missing_keys: tuple[str, ...] = (),
                   ) -> tuple[Evaluated, tuple[Advisory, ...]]:
        """What to store for an event the live engine took, and the candidate's advisories."""
        self._metrics.evaluation.observe(elapsed)
        shadow = self._shadow(tenant, functools.partial(_evaluate, event=event))
        body = event.to_json()
        entry = self._entry("event", body, advisories, elapsed, shadow, content_hash(body),
                            missing_keys)
        tenant.clocks[event.country] = max(tenant.clocks.get(event.country, event.time),
                                           event.time)
        return entry, shadow[0] or ()

    def _count(self, counted: list[_Counted]) -> None:
        for type_, outcome, new, advisories, shadow in counted:
            self._metrics.events.inc(type_, outcome)
            for advisory in advisories:
                if advisory.id in new:
                    self._metrics.advisories.inc(advisory.rule_id, advisory.severity.value)
            for advisory in shadow:
                self._metrics.shadow_advisories.inc(advisory.rule_id, advisory.severity.value)

    def _shadow(self, tenant: _Tenant, call: Callable[[Engine], tuple[Advisory, ...]],
                ) -> tuple[tuple[Advisory, ...] | None, str | None]:
        """The candidate's advisories, or why it failed; it never fails the live request."""
        if tenant.shadow is None:
            return None, None
        try:
            return call(tenant.shadow), None
        except Exception as exc:
            log.warning("tenant %s: the candidate rule packs failed: %s", tenant.name, exc)
            return None, str(exc) or repr(exc)

    def _entry(self, kind: str, body: dict[str, Any], advisories: tuple[Advisory, ...],
               elapsed: float, shadow: tuple[tuple[Advisory, ...] | None, str | None],
               digest: str | None = None, missing_keys: tuple[str, ...] = (),
               ) -> Evaluated:
        """An evaluated event or tick, its advisories and the candidate's, ready to store."""
        outcome = None
        if self.shadow_bundle is not None:
            candidate, error = shadow
            outcome = ShadowOutcome(
                self.shadow_bundle.version,
                tuple(advisory_row(a) for a in candidate) if candidate is not None else None,
                error)
        return Evaluated(kind=kind, body=body, body_text=json_text(body),
                         advisories=tuple(advisory_row(a) for a in advisories),
                         duration_ms=elapsed * 1000, shadow=outcome, content_hash=digest,
                         missing_keys=missing_keys)

    def _preview(self, job: Preview) -> ItemResult:
        tenant = self._tenant(job.tenant)
        assert self.live_bundle is not None
        existing = self._write(self._store.find_events, tenant.name,
                               [job.event.key]).get(job.event.key)
        if existing is not None:
            self._refuse_conflicts((job.event,), False, {job.event.key: existing}, None)
            texts = self._write(self._store.advisory_texts, tenant.name,
                                existing.advisory_ids)
            return ItemResult(_ref(job.event), True, existing.rules_version, texts)
        try:
            advisories = tenant.live.preview(job.event)
        except EngineError as exc:
            raise ApiError("engine-refused", str(exc), None) from exc
        except Exception as exc:
            raise internal_error(log, "the engine failed on a dry run", exc,
                                 "engine-failure") from exc
        return ItemResult(_ref(job.event), False, self.live_bundle.version,
                          tuple(json_text(a.to_json()) for a in advisories))

    def _resolve(self, job: Resolve) -> dict[str, Any]:
        self._write(self._store.savepoint)
        record: dict[str, Any] | None = self._write(
            self._store.insert_resolution, job.tenant, job.advisory_id, job.decision, job.text,
            job.by)
        self._write(self._store.release)
        if record is None:
            raise ApiError("advisory-not-found", f"no advisory {job.advisory_id!r}",
                           "path.advisory_id")
        return record

    def _tick(self, now: dt.datetime) -> tuple[int, Callable[[], None]]:
        """Move time to `now` in every operation of every tenant that has a deadline running.

        Applied ticks are stored in the log like events, so replay moves time the same way.
        """
        applied = 0
        counted: list[_Counted] = []
        for tenant in list(self._tenants.values()):
            pending = tenant.live.state_size().get("pending_deadlines", 0)
            if tenant.shadow is not None:
                pending += tenant.shadow.state_size().get("pending_deadlines", 0)
            if not pending:
                continue
            assert self.live_bundle is not None
            for country, last in sorted(tenant.clocks.items()):
                if now <= last:
                    continue
                started = time.perf_counter()
                try:
                    advisories = tenant.live.advance(country, now)
                except Exception:
                    log.exception("tenant %s: a clock tick failed for %s", tenant.name, country)
                    self._rebuild(tenant.name)
                    break
                elapsed = time.perf_counter() - started
                shadow = self._shadow(tenant, functools.partial(_advance, country=country,
                                                                to=now))
                body = {"specversion": "1.0", "id": f"tick-{country}-{format_time(now)}",
                        "source": CLOCK_SOURCE, "type": "clock.tick", "time": format_time(now),
                        "country": country}
                entry = self._entry("tick", body, advisories, elapsed, shadow)
                _, (new,) = self._write(self._store.record, tenant.name,
                                        self.live_bundle.version, [entry])
                tenant.clocks[country] = now
                tenant.since += 1
                applied += 1
                counted.append(("clock.tick", "tick", new, list(advisories),
                                list(shadow[0] or ())))
        return applied, lambda: self._count(counted)

    def _write(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call` on the store; whatever it raises fails the whole group (`_StoreFailure`):
        a write half done, or pending writes of other jobs lost, must never be answered."""
        try:
            return call(*args)
        except Exception as exc:  # answered as the group's failure
            raise _StoreFailure(_store_error(exc)) from exc


def _settle() -> None:
    """Keep what lives until the next reload (rule packs, engines, replayed state, the app)
    out of the collector's full passes, which otherwise walk all of it every few thousand
    events. Unfrozen and collected first, so the engines a reload replaced are freed."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _evaluate(engine: Engine, event: Event) -> tuple[Advisory, ...]:
    return engine.evaluate(event)


def _advance(engine: Engine, country: str, to: dt.datetime) -> tuple[Advisory, ...]:
    return engine.advance(country, to)


def _version(bundle: Bundle | None) -> RulesVersion | None:
    return bundle.version if bundle is not None else None


def _version_json(bundle: Bundle | None) -> dict[str, str] | None:
    return bundle.version.to_json() if bundle is not None else None
