"""The document rules read: an event and its context, projected and normalised.

The document is ``{"data": …, "event": …, "context": …}`` with two normalisations that both
readings of a condition rely on: times become seconds since the epoch (so they compare and
shift as numbers), and absent, null, empty-text and empty-list values are dropped (so that
"missing" has one meaning).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ._compiler import project
from ._models import Event
from ._schema import BOOL_OR_TEXT, TIME, Kind, ObjectList, load_schema, parse_time

__all__ = ["DataReader", "context_part_of", "document", "envelope", "normalise"]


def envelope(event: Event) -> dict[str, Any]:
    """The CloudEvents attributes rules may read as ``event.<attribute>``."""
    out: dict[str, Any] = {"id": event.id, "source": event.source, "type": event.type,
                           "time": event.time.timestamp(), "country": event.country}
    if event.subject is not None:
        out["subject"] = event.subject
    if event.area is not None:
        out["area"] = event.area
    return out


def normalise(value: Any, node: Any) -> Any:
    """`value` with times as epoch seconds and empty values dropped (None when empty)."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, dict):
        fields = node.fields if isinstance(node, ObjectList) else node
        out = {}
        for key, sub in value.items():
            child = fields.get(key) if fields.__class__ is dict else None
            norm = normalise(sub, child)
            if norm is not None:
                out[key] = norm
        return out or None
    if isinstance(value, list):
        items = [normalise(v, node if isinstance(node, ObjectList) else None) for v in value]
        kept = [i for i in items if i is not None]
        return kept or None
    if isinstance(node, Kind) and isinstance(value, str):
        if node.name == TIME:
            parsed = parse_time(value)
            return parsed.timestamp() if parsed is not None else None
        if node.name == BOOL_OR_TEXT:
            # "yes/no or a text" (e.g. association_cited: "travelling with the mission"): a
            # text says yes, except the words false and no. Rules compare it with yes/no only,
            # and durable_rules compares texts with yes/no loosely ("false" == false).
            return value.strip().lower() not in ("false", "no")
    return value


def document(event: Event, context: Mapping[str, Any],
             tree: Mapping[str, Any] | None = None, *,
             context_part: Mapping[str, Any] | None = None,
             reader: DataReader | None = None) -> dict[str, Any]:
    """The normalised document of `event` in `context`, cut to `tree` when one is given.

    `context_part` is the context already cut and normalised (see `context_part()`), and
    `reader` the `DataReader` of the event's type for `tree`, for callers that reuse them.
    """
    env = envelope(event)
    if tree is not None:
        env = project(env, tree.get("event", {}))
    if reader is not None:
        data = reader(event._plain)
    else:
        raw_data = event._plain
        if tree is not None:
            raw_data = project(raw_data, tree.get("data", {}))
        data = normalise(raw_data, load_schema().types[event.type].tree) or {}
    if context_part is None:
        context_part = context_part_of(context, tree)
    return {"data": data, "event": env, "context": context_part}


def context_part_of(context: Mapping[str, Any],
                    tree: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The context as rules read it: cut to `tree` when given, and normalised."""
    raw = project(context, tree.get("context", {})) if tree is not None else context
    return normalise(raw, load_schema().context_tree) or {}


_Step = Callable[[Any], Any]


class DataReader:
    """`normalise(project(data, tree), schema)` for one event type, in one pass.

    The engine reads every event's data through the fields its rules name; doing the
    projection and the normalisation as one walk planned once per type (instead of two
    generic walks per event) halved the cost of building the document. Its output equals
    the generic functions' (`tests/test_differential.py` holds them to it).
    """

    def __init__(self, tree: Mapping[str, Any], node: Any) -> None:
        self._steps = _plan(tree, node)

    def __call__(self, data: Mapping[str, Any]) -> dict[str, Any]:
        return _read(self._steps, data) or {}


def _plan(tree: Mapping[str, Any], node: Any) -> tuple[tuple[str, _Step], ...]:
    fields = node.fields if isinstance(node, ObjectList) else node
    steps: list[tuple[str, _Step]] = []
    for key, sub in tree.items():
        child = fields.get(key) if fields.__class__ is dict else None
        if sub is True:
            steps.append((key, _leaf(child)))
        else:
            inner = _plan(sub, child)
            steps.append((key, lambda value, inner=inner: (  # type: ignore[misc]
                _read(inner, value) if isinstance(value, dict) else None)))
    return tuple(steps)


def _read(steps: tuple[tuple[str, _Step], ...], value: Mapping[str, Any]) -> dict[str, Any] | None:
    out = {}
    for key, step in steps:
        sub = value.get(key)
        if sub is not None:
            norm = step(sub)
            if norm is not None:
                out[key] = norm
    return out or None


def _leaf(node: Any) -> _Step:
    """How one named field is normalised: plain scalars only lose empty text."""
    if isinstance(node, Kind) and node.name not in (TIME, BOOL_OR_TEXT):
        def scalar(value: Any) -> Any:
            if value.__class__ is str or value.__class__ is bool or value.__class__ is int \
                    or value.__class__ is float:
                return None if value == "" else value
            return normalise(value, node)
        return scalar
    return lambda value: normalise(value, node)
