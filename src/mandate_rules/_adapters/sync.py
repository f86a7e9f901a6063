"""Incremental pull: page after page from the stored cursor, each page committed with its
cursor, so a sync that stops (the source went down, the process was killed) resumes where it
stopped and neither misses nor repeats a record.

Per page, in one SQLite transaction: the page's events are checked against the records seen
(only new content goes on), the unmappable records are kept, the new events are handed to
`deliver`, and the cursor after the page is saved. If `deliver` raises, none of it is kept.
When `deliver` writes outside the store (standard output, say) and the process dies between
writing and committing, that page is handed on again on the next run, with the same event
ids: downstream dedupes on them (advisory ids are derived from event ids).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import attrs

from .._models import Event
from .contract import Adapter, Batch, Rejected
from .errors import AdapterError, SourceError
from .syncstate import AdapterStore, Admitted, Moved, event_fingerprint

__all__ = ["SyncProgress", "SyncReport", "sync"]

log = logging.getLogger("mandate_rules.adapters.sync")


@attrs.frozen
class SyncProgress:
    """Running totals after each page (for a progress display)."""

    pages: int = 0
    records: int = 0
    new: int = 0
    unchanged: int = 0
    rejected: int = 0
    ignored: int = 0

    def add(self, records: int, new: int, unchanged: int, rejected: int,
            ignored: int) -> SyncProgress:
        return SyncProgress(self.pages + 1, self.records + records, self.new + new,
                            self.unchanged + unchanged, self.rejected + rejected,
                            self.ignored + ignored)

    def __str__(self) -> str:
        return (f"{self.pages} page(s), {self.records} record(s): {self.new} new, "
                f"{self.unchanged} unchanged, {self.rejected} rejected, {self.ignored} ignored")


@attrs.frozen
class SyncReport:
    """How a sync ended: its totals, whether it reached the end, and the error if not."""

    progress: SyncProgress
    complete: bool
    error: str | None = None
    error_type: str | None = None
    #: A dry run keeps no rejected record in the store: they are here instead.
    rejected: tuple[Rejected, ...] = ()
    #: Records kept as rejected that the current mapping maps: handed on before the pull.
    recovered: int = 0
    #: State kept under an earlier source of this connection (its address changed): moved
    #: to the current source by a taking run; a dry run only reports it.
    moved: Moved = attrs.field(factory=Moved)


def sync(adapter: Adapter, store: AdapterStore, deliver: Callable[[Sequence[Event]], None], *,
         progress: Callable[[SyncProgress], None] | None = None, full: bool = False,
         max_pages: int | None = None, dry_run: bool = False) -> SyncReport:
    """Pull every page after the stored cursor, moved back by the adapter's overlap window
    (`Adapter.rewind`; from the start when `full`), handing new events to `deliver`. A
    `SourceError` ends the run early with what was done kept.

    A `dry_run` reads the store and writes nothing to it: the events a real run would hand
    on are handed on (each record once in the run), and the cursor, the seen and the
    rejected records stay as they were, so a later run takes the same records.
    """
    name, source = adapter.name, adapter.source
    moved = store.follow_source(name, source, write=not dry_run)
    if moved.before:
        log.warning("sync %s: state %s from %s (only the address differs) to %s", name,
                    "would move" if dry_run else "moved", moved.before, source)
    cursor = None if full else store.cursor(name, source)
    if cursor is not None:
        # The overlap: records that became readable below the cursor since the last run
        # are read again with the window; those already seen come out unchanged.
        cursor = adapter.rewind(cursor)
    totals = SyncProgress()
    looked: dict[tuple[str, str], str] = {}  # a dry run's own memory of what it handed on
    rejected: list[Rejected] = []
    # Records kept as rejected are mapped again first: a mapping fixed since the last run
    # brings them back without --full.
    if dry_run:
        retried = store.retry_rejected(source, adapter.remap, write=False)
        recovered = _look(store, Batch(retried.events), looked)
        if recovered.new:
            deliver(recovered.new)
    else:
        with store.transaction():
            retried = store.retry_rejected(source, adapter.remap)
            recovered = store.admit(name, Batch(retried.events))
            if recovered.new:
                deliver(recovered.new)

    def report(complete: bool, error: str | None = None,
               error_type: str | None = None) -> SyncReport:
        return SyncReport(totals, complete, error, error_type, tuple(rejected),
                          len(recovered.new), moved)

    while max_pages is None or totals.pages < max_pages:
        try:
            pulled = adapter.pull(cursor)
        except SourceError as exc:
            log.warning("sync %s (%s) stopped after %s: %s", name, source, totals, exc)
            return report(False, str(exc), type(exc).__name__)
        if dry_run:
            admitted = _look(store, pulled, looked)
            rejected.extend(pulled.rejected)
            if admitted.new:
                deliver(admitted.new)
        else:
            with store.transaction():
                admitted = store.admit(name, pulled)
                if admitted.new:
                    deliver(admitted.new)
                store.save_cursor(name, source, pulled.cursor)
        totals = totals.add(pulled.records, len(admitted.new), admitted.unchanged,
                            admitted.rejected, admitted.ignored)
        if progress is not None:
            progress(totals)
        if not pulled.more:
            return report(True)
        if pulled.cursor == cursor:
            raise AdapterError(f"adapter {name!r} reported more pages but its cursor did not "
                               f"move from {cursor!r}; stopped to avoid reading the same page "
                               f"forever")
        cursor = pulled.cursor
    return report(False, f"stopped after {max_pages} page(s) as asked")


def _look(store: AdapterStore, batch: Batch, looked: dict[tuple[str, str], str]) -> Admitted:
    """What `store.admit` would say of a batch, with nothing written: the store's memory of
    earlier runs, and `looked`, this dry run's memory of what it already handed on."""
    fresh, unchanged = store.fresh(batch.events)
    new: list[Event] = []
    for event in fresh:
        key = (event.source, event.subject or event.id)
        fingerprint = event_fingerprint(event)
        if looked.get(key) == fingerprint:
            unchanged += 1
            continue
        looked[key] = fingerprint
        new.append(event)
    return Admitted(tuple(new), unchanged, len(batch.rejected), len(batch.ignored))
