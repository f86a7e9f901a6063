"""The per-operation state of stateful rules: windows, deadlines, lookbacks, seen events.

Pure Python and bounded: everything is keyed by event time, and whatever has left every
window is dropped by `sweep()`. The state is a function of the events evaluated, in order,
so it can always be rebuilt by replaying the event log.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Hashable
from typing import Any

import attrs

from ._models import EventRef, ExplanationItem, LazyItems, Severity


@attrs.define
class Pending:
    """A started deadline of an absence pattern, and what to say if it passes."""

    deadline: float
    start: EventRef
    subject: str | None
    area: str | None
    severity: Severity
    reasons: tuple[str, ...]
    # What the advisory will explain if the deadline passes, built only then (the items
    # themselves once restored from a snapshot).
    explanation: LazyItems | tuple[ExplanationItem, ...]
    context_known: bool
    context_version: str | None
    seq: int


TimedRefs = list[tuple[float, EventRef]]


@attrs.define
class CountryState:
    """Everything stateful rules remember about one operation."""

    country: str
    clock: float | None = None
    windows: dict[Hashable, dict[Hashable, TimedRefs]] = attrs.field(factory=dict)
    priors: dict[Hashable, dict[Hashable, TimedRefs]] = attrs.field(factory=dict)
    pending: dict[Hashable, Pending] = attrs.field(factory=dict)
    deadlines: list[tuple[float, int, Hashable]] = attrs.field(factory=list)
    seen: dict[tuple[str, str], float] = attrs.field(factory=dict)
    seen_order: deque[tuple[float, tuple[str, str]]] = attrs.field(factory=deque)
    context_overlay: dict[str, Any] = attrs.field(factory=dict)
    area_overlays: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    context_update: str | None = None
    context_cache: dict[str | None, dict[str, Any]] = attrs.field(factory=dict)
    # (area, event type, for replay) -> the context cut to what those rules read
    context_parts: dict[tuple[str | None, str, bool], dict[str, Any]] = attrs.field(
        factory=dict)
    next_sweep: float | None = None
    seq: int = 0

    # ---------------------------------------------------------------- time

    def advance(self, when: float) -> None:
        if self.clock is None or when > self.clock:
            self.clock = when

    # ---------------------------------------------------------------- windows and lookbacks

    @staticmethod
    def add(store: dict[Hashable, dict[Hashable, TimedRefs]], slot: Hashable, key: Hashable,
            when: float, ref: EventRef) -> TimedRefs:
        entries = store.setdefault(slot, {}).setdefault(key, [])
        bisect.insort(entries, (when, ref), key=lambda pair: pair[0])
        return entries

    @staticmethod
    def within(store: dict[Hashable, dict[Hashable, TimedRefs]], slot: Hashable, key: Hashable,
               start: float, end: float) -> TimedRefs:
        entries = store.get(slot, {}).get(key, [])
        lo = bisect.bisect_left(entries, start, key=lambda pair: pair[0])
        hi = bisect.bisect_right(entries, end, key=lambda pair: pair[0])
        return entries[lo:hi]

    # ---------------------------------------------------------------- deadlines

    def start_deadline(self, slot: Hashable, pending: Pending) -> bool:
        """Start a deadline for `slot` unless one is already running (the first start holds)."""
        if slot in self.pending:
            return False
        self.seq += 1
        pending.seq = self.seq
        self.pending[slot] = pending
        heapq.heappush(self.deadlines, (pending.deadline, pending.seq, slot))
        return True

    def stop_deadline(self, slot: Hashable) -> None:
        self.pending.pop(slot, None)  # its heap entry is skipped when it surfaces

    def expired(self, before: float) -> list[tuple[Hashable, Pending]]:
        """Deadlines strictly before `before`, removed, in deadline order."""
        out = []
        while self.deadlines and self.deadlines[0][0] < before:
            _, seq, slot = heapq.heappop(self.deadlines)
            pending = self.pending.get(slot)
            if pending is not None and pending.seq == seq:
                del self.pending[slot]
                out.append((slot, pending))
        return out

    # ---------------------------------------------------------------- re-delivery

    def is_seen(self, key: tuple[str, str]) -> bool:
        return key in self.seen

    def mark_seen(self, key: tuple[str, str], when: float) -> None:
        self.seen[key] = when
        self.seen_order.append((when, key))

    # ---------------------------------------------------------------- bounds

    def sweep(self, horizons: dict[Hashable, float], seen_horizon: float) -> None:
        """Drop what has left every window: entries older than the clock minus their window."""
        if self.clock is None:
            return
        for store in (self.windows, self.priors):
            for slot, keys in list(store.items()):
                cutoff = self.clock - horizons.get(slot, 0.0)
                for key, entries in list(keys.items()):
                    cut = bisect.bisect_left(entries, cutoff, key=lambda pair: pair[0])
                    if cut:
                        del entries[:cut]
                    if not entries:
                        del keys[key]
                if not keys:
                    del store[slot]
        cutoff = self.clock - seen_horizon
        while self.seen_order and self.seen_order[0][0] < cutoff:
            when, key = self.seen_order.popleft()
            if self.seen.get(key) == when:
                del self.seen[key]
        if self.deadlines and len(self.deadlines) > 2 * len(self.pending) + 64:
            self.deadlines = [entry for entry in self.deadlines
                              if entry[2] in self.pending and self.pending[entry[2]].seq ==
                              entry[1]]
            heapq.heapify(self.deadlines)

    def size(self) -> dict[str, int]:
        return {
            "window_entries": sum(len(e) for k in self.windows.values() for e in k.values()),
            "lookback_entries": sum(len(e) for k in self.priors.values() for e in k.values()),
            "pending_deadlines": len(self.pending),
            "deadline_heap": len(self.deadlines),
            "seen_events": len(self.seen),
        }
