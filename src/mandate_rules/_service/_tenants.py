"""The tenants' engines: built from the store's log (from a snapshot when one fits), put back
to a recent baseline after a failed write, snapshotted, and swapped whole for new rule packs.

`TenantEngines` is the base of the engine thread's `Worker`, and runs on that thread only.
"""

from __future__ import annotations

import abc
import datetime as dt
import gc
import json
import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from .._database import DB_ERRORS
from .._engine import Engine
from .._errors import EngineError
from .._models import Advisory, Event, RulesVersion, format_time
from .._rules import Bundle
from ._errors import ApiError
from ._jobs import Install
from ._metrics import Metrics
from ._retention import Retention, warn_spans
from ._rows import LogRow, json_text
from ._schema import split_snapshot
from ._store import Store

log = logging.getLogger("mandate_rules.service")

# On start, the last stored events of a tenant are evaluated again and their advisories
# compared with those stored (a check that state and rules still agree); the rest is replayed.
VERIFY_TAIL = 1_000
# Each tenant's baseline (see `_Baseline`) is taken again once this many events or ticks
# were evaluated after it: recovering from a failed request replays at most about this
# many stored events, and taking one costs an `Engine.snapshot()` (scripts/recovery_cost.py).
BASELINE_EVERY = 10_000


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
class Tenant:
    name: str
    live: Engine
    shadow: Engine | None
    clocks: dict[str, dt.datetime]  # the latest event or tick time, per operation
    baseline: _Baseline | None = None
    since: int = 0  # events and ticks evaluated after the baseline



class TenantEngines(abc.ABC):
    """Each tenant's live engine (and the candidate's, in shadow mode), kept equal to what
    the store holds."""

    _store: Store
    _metrics: Metrics
    _configured: tuple[str, ...]
    _tenants: dict[str, Tenant]
    _dirty: set[str]  # tenants whose engines could not be rebuilt
    _unsnapshotted: dict[str, int]  # events evaluated per tenant since its last snapshot
    _retention: Retention | None  # None: retain_days is off
    live_bundle: Bundle | None
    shadow_bundle: Bundle | None
    ready: bool
    fatal: str | None

    @abc.abstractmethod
    def _flush(self) -> None:
        """Write the group's evaluated events (the `Evaluator`'s): a rebuild reads the store."""

    def _tenant(self, name: str) -> Tenant:
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

    def _recover(self, current: Tenant, baseline: _Baseline) -> Tenant:
        """`current`'s engines, their state put back to `baseline`, then the tenant's events
        stored after it replayed (those of the group being written included)."""
        if (current.shadow is None) != (baseline.shadow is None):
            raise ValueError("the baseline was taken with other engines")
        tenant = Tenant(current.name, current.live, current.shadow, dict(baseline.clocks),
                         baseline)
        tenant.live.restore(json.loads(baseline.live))
        if tenant.shadow is not None and baseline.shadow is not None:
            tenant.shadow.restore(json.loads(baseline.shadow))
        tenant.since = self._replay(tenant, baseline.seq, None, None, self._owned(tenant.name))
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
                    self._store.last_seq(tenant.name, 0, self._owned(tenant.name)),
                    json_text(tenant.live.snapshot()),
                    json_text(tenant.shadow.snapshot()) if tenant.shadow is not None else None,
                    tuple(sorted(tenant.clocks.items())))
                tenant.since = 0
            except Exception as exc:  # recovery then rebuilds from the store instead
                log.warning("tenant %s: taking its baseline failed: %r", tenant.name, exc)

    def _build(self, name: str, live_bundle: Bundle, shadow_bundle: Bundle | None) -> Tenant:
        """New engines for `name`, their state rebuilt from the store.

        The live engine starts from each operation's last snapshot taken under these rule
        packs, and replays (`Engine.replay`) the stored events after it; without one, the
        whole log. The last `VERIFY_TAIL` events stored under these same packs are
        evaluated instead, and the advisories they raise compared with those stored; a
        difference is logged and counted. The candidate engine (shadow mode) always replays
        the whole log. Only the operations this process owns are rebuilt (`_owned`).
        """
        tenant = Tenant(name, Engine(live_bundle),
                         Engine(shadow_bundle) if shadow_bundle else None, {})
        countries = self._owned(name)
        restored = self._restore(tenant, live_bundle.version.hash, countries)
        after = 0 if tenant.shadow is not None else self._covered(name, restored, countries)
        self._unsnapshotted[name] = self._replay(
            tenant, after, self._store.last_seq(name, VERIFY_TAIL - 1, countries), restored,
            countries)
        return tenant

    @abc.abstractmethod
    def _take_orphans(self) -> None:
        """Replicas: take this one's share of the operations nobody holds."""

    @abc.abstractmethod
    def _fence(self, operations: Collection[tuple[str, str]]) -> None:
        """Refuse the open transaction unless this process still judges these operations
        (replicas check their leases; one server on its own store always does)."""

    def _owned(self, name: str) -> Collection[str] | None:
        """The operations (countries) of tenant `name` this process judges; None: all of
        them (one server on its own store). Replicas narrow it to those they hold."""
        return None

    def _adopt(self, tenant: Tenant, country: str) -> None:
        """Take operation `country` of `tenant` over from the store (a replica that has just
        taken its lease): its state from its last snapshot under these rule packs and the
        events stored after it, merged beside the tenant's other operations."""
        tenant.live.drop(country)
        if tenant.shadow is not None:
            tenant.shadow.drop(country)
        tenant.clocks.pop(country, None)
        restored = self._restore(tenant, tenant.live.bundle.version.hash, {country},
                                 merge=True)
        after = 0 if tenant.shadow is not None else restored.get(country, 0)
        self._replay(tenant, after, None, restored, {country})
        # The baseline holds no (or an older) state of this operation: take it again.
        tenant.baseline = None

    def _let_go(self, tenant: Tenant, country: str) -> None:
        """Forget operation `country` of `tenant` (another replica judges it now)."""
        tenant.live.drop(country)
        if tenant.shadow is not None:
            tenant.shadow.drop(country)
        tenant.clocks.pop(country, None)
        tenant.baseline = None

    def _covered(self, name: str, restored: Mapping[str, int],
                 countries: Collection[str] | None) -> int:
        """The seq up to which every operation's stored events are in its restored snapshot
        (0: some operation with events has none). Snapshots of one process are written
        together, so an operation without one had no events when they were taken."""
        if not restored:
            return 0
        if countries is not None and any(c not in restored for c in countries
                                         if c in set(self._store.countries(name))):
            return 0
        return min(restored.values())

    def _replay(self, tenant: Tenant, after: int, verify_from: int | None,
                restored: Mapping[str, int] | None = None,
                countries: Collection[str] | None = None) -> int:
        """Replay the tenant's stored events after seq `after` (the live engine, of each
        operation, those after its `restored` snapshot); from seq `verify_from` on, evaluate
        and compare them with the stored advisories instead (None: never); of these
        operations only, when named. Returns how many the live engine replayed."""
        name, live_hash = tenant.name, tenant.live.bundle.version.hash
        replayed = divergent = failed = 0
        for row in self._store.log(name, after=after, countries=countries):
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
            if restored is not None and row.seq <= restored.get(row.country, 0):
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

    def _restore(self, tenant: Tenant, live_hash: str, countries: Collection[str] | None,
                 *, merge: bool = False) -> dict[str, int]:
        """Load the last snapshot of each operation taken under these rule packs into the
        tenant's live engine; the seq each restored operation holds events up to."""
        state: dict[str, Any] | None = None
        clocks: dict[str, dt.datetime] = {}
        restored: dict[str, int] = {}
        for snapshot in self._store.get_snapshots(tenant.name, countries):
            if snapshot.rules_hash != live_hash:
                continue
            try:
                part = json.loads(snapshot.body)
                times = {country: dt.datetime.fromisoformat(when)
                         for country, when in json.loads(snapshot.clocks).items()}
                if state is None:
                    state = part
                else:
                    state["operations"].update(part["operations"])
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                log.warning("tenant %s: the snapshot of %s at stored event %s cannot be read "
                            "(%s); replaying its log", tenant.name, snapshot.country,
                            snapshot.seq, exc)
                continue
            clocks.update(times)
            restored[snapshot.country] = snapshot.seq
        if state is None:
            return {}
        try:
            tenant.live.restore(state, merge=merge)
        except (ValueError, TypeError, AttributeError) as exc:  # SnapshotError is a ValueError
            log.warning("tenant %s: its snapshots cannot be loaded (%s); replaying the whole "
                        "log", tenant.name, exc)
            if not merge:
                tenant.live.reset()
            return {}
        tenant.clocks.update(clocks)
        log.info("tenant %s: restored the snapshots of %d operations (up to stored event %d)",
                 tenant.name, len(restored), max(restored.values()))
        return restored

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
                seq = self._store.last_seq(name, 0, self._owned(name))
                parts = split_snapshot(
                    json_text({c: format_time(t) for c, t in sorted(tenant.clocks.items())}),
                    json_text(tenant.live.snapshot()))
                for country, (clocks, body) in parts.items():
                    self._store.put_snapshot(name, country, seq,
                                             self.live_bundle.version.hash, clocks, body)
                self._fence({(name, country) for country in parts})
                self._store.commit()
            except Exception as exc:  # the log still holds every event: a restart replays it
                log.warning("tenant %s: writing its snapshot failed: %r", name, exc)
                self._store.rollback()
                continue
            self._unsnapshotted[name] = 0
            log.info("tenant %s: snapshot written after %d events in %.2f s", name, count,
                     time.perf_counter() - started)

    def _retain(self) -> None:
        """Retention (`retain_days`; between groups, when every write is committed): start
        a pass when one is due, writing every tenant's snapshot first so that it covers
        what the pass deletes; go on with the pass under way."""
        retention = self._retention
        if retention is None or self.live_bundle is None:
            return
        if retention.begin(self._tenants, time.monotonic()):
            self._snapshots(at_least=1)
        if retention.running:
            for name in retention.go_on(self._store, rules_hash=self.live_bundle.version.hash,
                                        owned=self._owned, fence=self._fence,
                                        skip=self._dirty):
                tenant = self._tenants.get(name)
                if tenant is not None:  # its baseline may predate events now deleted
                    tenant.baseline = None

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
            except (*DB_ERRORS, EngineError) as exc:
                if job.startup:
                    self.fatal = f"cannot rebuild state from the store: {exc}"
                    log.critical(self.fatal)
                raise ApiError("reload-failed", f"rebuilding state for the new rule packs "
                               f"failed ({exc}); the running ones stay", None) from exc
            self._tenants = tenants
            self.live_bundle, self.shadow_bundle = job.live, job.shadow
            self._dirty.clear()
            if job.startup:
                self._take_orphans()
            if self._retention is not None:
                warn_spans(self._retention.days, job.live, job.shadow)
            _settle()
        self.ready = True
        return {"changed": not unchanged, "rules_version": job.live.version.to_json(),
                "shadow_version": _version_json(job.shadow),
                "seconds": round(time.perf_counter() - started, 3)}


def _settle() -> None:
    """Keep what lives until the next reload (rule packs, engines, replayed state, the app)
    out of the collector's full passes, which otherwise walk all of it every few thousand
    events. Unfrozen and collected first, so the engines a reload replaced are freed."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()



def _version(bundle: Bundle | None) -> RulesVersion | None:
    return bundle.version if bundle is not None else None


def _version_json(bundle: Bundle | None) -> dict[str, str] | None:
    return bundle.version.to_json() if bundle is not None else None
