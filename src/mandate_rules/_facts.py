"""Turning an event and its context into the document that rules read.

The document is ``{"data": …, "event": …, "context": …}`` with two normalisations that both
readings of a condition rely on: times become seconds since the epoch (so they compare and
shift as numbers), and absent, null, empty-text and empty-list values are dropped (so that
"missing" has one meaning).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._compiler import project
from ._models import Event
from ._schema import BOOL_OR_TEXT, TIME, Kind, ObjectList, load_schema, parse_time

__all__ = ["context_part_of", "document", "envelope", "normalise"]


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
             context_part: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The normalised document of `event` in `context`, cut to `tree` when one is given.

    `context_part` is the context already cut and normalised (see `context_part()`), for
    callers that reuse it across events of one type in one place.
    """
    event_type = load_schema().types[event.type]
    raw_data = event._plain
    env = envelope(event)
    if tree is not None:
        raw_data = project(raw_data, tree.get("data", {}))
        env = project(env, tree.get("event", {}))
    if context_part is None:
        context_part = context_part_of(context, tree)
    return {
        "data": normalise(raw_data, event_type.tree) or {},
        "event": env,
        "context": context_part,
    }


def context_part_of(context: Mapping[str, Any],
                    tree: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The context as rules read it: cut to `tree` when given, and normalised."""
    raw = project(context, tree.get("context", {})) if tree is not None else context
    return normalise(raw, load_schema().context_tree) or {}
