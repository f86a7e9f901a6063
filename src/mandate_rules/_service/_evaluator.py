"""Evaluating the engine thread's jobs: each submitted event on its tenant's engines (live,
then the candidate's), re-deliveries and conflicts told apart, dry runs, resolutions and
clock ticks; the writes of a group gathered and written together (`Evaluator._flush`).

`Evaluator` is the base of the engine thread's `Worker`, and runs on that thread only.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from .._compare import match_key
from .._content import content_hash
from .._database import DB_ERRORS
from .._engine import Engine
from .._errors import EngineError
from .._models import Advisory, Event, RulesVersion, format_time
from ._errors import ApiError, StoreFailure, internal_error
from ._jobs import CLOCK_SOURCE, ItemResult, Preview, Resolve, Submit
from ._ownership import Ownership
from ._rows import AdvisoryRow, Duplicate, Evaluated, ShadowOutcome, StoredEvent, json_text
from ._tenants import Tenant

log = logging.getLogger("mandate_rules.service")


def store_error(exc: BaseException) -> ApiError:
    """What the jobs of a group whose write raised `exc` are answered."""
    if isinstance(exc, DB_ERRORS):
        return ApiError("store-unavailable", f"the database could not be written ({exc}); "
                        "nothing was stored", None, headers={"Retry-After": "5"})
    return internal_error(log, "writing to the store failed unexpectedly", exc)


@attrs.define
class Pending:
    """One tenant's evaluated events not yet written: the group writes them all at once."""

    rules_version: RulesVersion
    entries: list[Evaluated | Duplicate] = attrs.field(factory=list)
    first: dict[tuple[str, str], int] = attrs.field(factory=dict)  # index of each event
    # Per job: its entries, and where the ids newly stored go once written.
    jobs: list[tuple[int, int, list[list[str]]]] = attrs.field(factory=list)


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


class Evaluator(Ownership):
    """Runs the jobs on the tenants' engines and gathers their writes for the group."""

    _pending: dict[str, Pending]
    # The stored events among those the group's jobs submit, per tenant, looked up once
    # for the group; None: look them up job by job.
    _known: dict[str, dict[tuple[str, str], StoredEvent]] | None

    # ---------------------------------------------------------------- jobs

    def _submit(self, job: Submit) -> tuple[list[ItemResult], Callable[[], None]]:
        """Evaluate every event of the job; its writes wait for the group's (`_flush`).

        Nothing of a job is written until every event of it is evaluated, so a job refused
        half-way leaves nothing to undo in the store; a failed write fails the whole group.
        Writing a group's jobs together keeps the engine thread's statements, each of which
        hands the interpreter lock to the event loop, to a few per group.
        """
        tenant = self._tenant(job.tenant)
        self._claim(tenant, (event.country for event in job.events))
        assert self.live_bundle is not None
        version = self.live_bundle.version
        pending = self._pending.get(tenant.name)
        if pending is None:
            pending = self._pending[tenant.name] = Pending(version)
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
                          pending: Pending | None) -> None:
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

    def _judge(self, tenant: Tenant, event: Event) -> tuple[tuple[Advisory, ...],
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

    def _evaluated(self, tenant: Tenant, event: Event, advisories: tuple[Advisory, ...],
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

    def _shadow(self, tenant: Tenant, call: Callable[[Engine], tuple[Advisory, ...]],
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
        self._claim(tenant, [job.event.country])
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
                try:
                    self._claim(tenant, [country])
                except ApiError as exc:  # another replica judges it now, and ticks it
                    log.info("tenant %s: no tick for %s: %s", tenant.name, country, exc)
                    self._let_go(tenant, country)
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
        """`call` on the store; whatever it raises fails the whole group (`StoreFailure`):
        a write half done, or pending writes of other jobs lost, must never be answered."""
        try:
            return call(*args)
        except Exception as exc:  # answered as the group's failure
            raise StoreFailure(store_error(exc)) from exc



def _evaluate(engine: Engine, event: Event) -> tuple[Advisory, ...]:
    return engine.evaluate(event)


def _advance(engine: Engine, country: str, to: dt.datetime) -> tuple[Advisory, ...]:
    return engine.advance(country, to)
