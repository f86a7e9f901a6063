"""Snapshots: an operation's state as plain JSON, and back.

Replaying an event log rebuilds every window, deadline and seen id, but costs a full
evaluation per stored event; a snapshot lets a restart load the state as it was at some
point of the log and replay only what came after. It is JSON rather than pickle so that
loading one can never run code, and so that it can be read by a person.

Slots name rules by their index in the bundle, so a snapshot is only good for the bundle it
was taken with: `Engine.restore` refuses one whose bundle hash differs. Caches (resolved
context) are left out; they are rebuilt on demand.
"""

from __future__ import annotations

import copy
import heapq
from collections import deque
from collections.abc import Hashable, Mapping
from typing import Any

from ._models import EventRef, ExplanationItem, LazyItems, Severity
from ._state import CountryState, Pending, TimedRefs

__all__ = ["FORMAT", "state_from_json", "state_to_json"]

FORMAT = "mandate-rules/state@1"


def state_to_json(state: CountryState) -> dict[str, Any]:
    """Everything `state` holds except its caches, as JSON-ready data."""
    return {
        "clock": state.clock,
        "windows": _store_to_json(state.windows),
        "priors": _store_to_json(state.priors),
        "pending": [_pending_to_json(slot, p) for slot, p in state.pending.items()],
        "seen": [[when, key[0], key[1]] for when, key in state.seen_order],
        "context_overlay": copy.deepcopy(state.context_overlay),
        "area_overlays": copy.deepcopy(state.area_overlays),
        "context_update": state.context_update,
        "next_sweep": state.next_sweep,
        "seq": state.seq,
    }


def state_from_json(country: str, obj: Mapping[str, Any]) -> CountryState:
    """The state `state_to_json` wrote (raises KeyError, TypeError or ValueError if the data
    is not one; the caller says where)."""
    state = CountryState(country)
    state.clock = _number_or_none(obj["clock"])
    state.windows = _store_from_json(obj["windows"])
    state.priors = _store_from_json(obj["priors"])
    for item in obj["pending"]:
        slot, pending = _pending_from_json(item)
        state.pending[slot] = pending
        state.deadlines.append((pending.deadline, pending.seq, slot))
    heapq.heapify(state.deadlines)
    state.seen_order = deque((float(when), (str(source), str(event_id)))
                             for when, source, event_id in obj["seen"])
    state.seen = {key: when for when, key in state.seen_order}
    state.context_overlay = dict(obj["context_overlay"])
    state.area_overlays = {str(k): dict(v) for k, v in obj["area_overlays"].items()}
    state.context_update = obj["context_update"]
    state.next_sweep = _number_or_none(obj["next_sweep"])
    state.seq = int(obj["seq"])
    return state


# --------------------------------------------------------------------------- parts

def _store_to_json(store: dict[Hashable, dict[Hashable, TimedRefs]]) -> list[Any]:
    out: list[Any] = []
    for slot, keys in store.items():
        assert isinstance(slot, tuple)
        rows: list[Any] = []
        for key, entries in keys.items():
            assert isinstance(key, tuple)
            rows.append([list(key), [[when, ref.to_json()] for when, ref in entries]])
        out.append([list(slot), rows])
    return out


def _store_from_json(items: Any) -> dict[Hashable, dict[Hashable, TimedRefs]]:
    store: dict[Hashable, dict[Hashable, TimedRefs]] = {}
    for slot, keys in items:
        store[_slot(slot)] = {tuple(key): [(float(when), EventRef.from_json(ref))
                                           for when, ref in entries]
                              for key, entries in keys}
    return store


def _pending_to_json(slot: Hashable, pending: Pending) -> dict[str, Any]:
    assert isinstance(slot, tuple)
    rule, trigger, key = slot
    explanation = pending.explanation
    items = explanation() if isinstance(explanation, LazyItems) else explanation
    return {"slot": [rule, trigger, list(key)], "deadline": pending.deadline,
            "start": pending.start.to_json(), "subject": pending.subject, "area": pending.area,
            "severity": pending.severity.value, "reasons": list(pending.reasons),
            "explanation": [item.to_json() for item in items],
            "context_known": pending.context_known, "context_version": pending.context_version,
            "seq": pending.seq}


def _pending_from_json(obj: Mapping[str, Any]) -> tuple[Hashable, Pending]:
    rule, trigger, key = obj["slot"]
    pending = Pending(
        deadline=float(obj["deadline"]), start=EventRef.from_json(obj["start"]),
        subject=obj["subject"], area=obj["area"], severity=Severity(obj["severity"]),
        reasons=tuple(obj["reasons"]),
        explanation=tuple(ExplanationItem.from_json(e) for e in obj["explanation"]),
        context_known=bool(obj["context_known"]), context_version=obj["context_version"],
        seq=int(obj["seq"]))
    return (int(rule), int(trigger), tuple(key)), pending


def _slot(value: Any) -> tuple[int, int]:
    rule, trigger = value
    return int(rule), int(trigger)


def _number_or_none(value: Any) -> float | None:
    return None if value is None else float(value)
