"""Reading events from request bodies: the library's validation, then the service's limits.

A batch is validated whole before anything is evaluated: one bad event refuses it all,
each bad event named by its index, so nothing of a refused batch is ever stored.
"""

from __future__ import annotations

from typing import Any

from .._errors import EventValidationError
from .._models import Event
from ._errors import ApiError
from ._jobs import CLOCK_SOURCE

RESERVED_SOURCE = "mandate-rules://sidecar"
# Event times the engine can do arithmetic on (deadlines days or months later).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999
MAX_DEPTH = 64


def depth_ok(doc: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether no array or object of `doc` is nested deeper than `limit` (the top is 1).

    Walked a level at a time, visiting only containers: every request pays for this.
    """
    level = [doc] if isinstance(doc, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return False
        below: list[Any] = []
        for value in level:
            children = value.values() if isinstance(value, dict) else value
            below += [c for c in children if isinstance(c, (dict, list))]
        level = below
    return True


def read_event(obj: Any) -> Event:
    """One CloudEvent, validated by the library and then by the service's own limits."""
    try:
        event = Event.from_json(obj)
    except EventValidationError as exc:
        raise ApiError("invalid-event", str(exc), exc.path,
                       problems=[{"path": p, "message": m} for p, m in exc.problems]) from exc
    except (TypeError, ValueError, RecursionError) as exc:
        raise ApiError("invalid-event", f"the event could not be read: {exc}", "",
                       problems=[{"path": "", "message": str(exc)}]) from exc
    problems = []
    if event.source.startswith(RESERVED_SOURCE):
        problems.append(("source", f"sources starting with {RESERVED_SOURCE!r} are the "
                                   f"service's own (its clock ticks come from {CLOCK_SOURCE})"))
    if not EARLIEST_YEAR <= event.time.year <= LATEST_YEAR:
        problems.append(("time", f"expected a time between the years {EARLIEST_YEAR} and "
                                 f"{LATEST_YEAR}, got {event.time.year}"))
    if problems:
        raise ApiError("invalid-event", "; ".join(f"{p}: {m}" for p, m in problems),
                       problems[0][0], problems=[{"path": p, "message": m} for p, m in problems])
    return event


def check_depth(doc: Any) -> Any:
    if not depth_ok(doc):
        raise ApiError("malformed-json", f"the JSON is nested more than {MAX_DEPTH} levels "
                       "deep", "body")
    return doc


def read_batch(doc: list[Any], max_batch: int) -> tuple[Event, ...]:
    """Every event of a batch, or `invalid-batch` naming each bad one by index."""
    if not doc:
        raise ApiError("invalid-batch", "the batch is empty", "body", items=[])
    if len(doc) > max_batch:
        raise ApiError("batch-too-large", f"the batch has {len(doc)} events; at most "
                       f"{max_batch} are taken at once", "body")
    events, bad = [], []
    for index, item in enumerate(doc):
        try:
            events.append(read_event(item))
        except ApiError as exc:
            bad.append({"index": index, "problems": exc.details["problems"]})
    if bad:
        first = bad[0]["problems"][0]["path"]
        raise ApiError("invalid-batch", f"{len(bad)} of {len(doc)} events are invalid; "
                       f"nothing was stored", f"[{bad[0]['index']}]"
                       + (f".{first}" if first else ""), items=bad)
    return tuple(events)
