"""Explanations: each condition of a rule as written, the value it met, and whether it held."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._conditions import AnyItem, Compare, Group, Has, Node, Ref, holds, lookup
from ._models import ExplanationItem


def explain(nodes: tuple[Node, ...], doc: Mapping[str, Any], shown: Mapping[str, Any],
            prefix: str = "") -> list[ExplanationItem]:
    """One item per condition (groups opened up), read over `doc`, values from `shown`.

    `doc` is the normalised document the conditions were decided on; `shown` holds the same
    fields as the event carried them (times as written, not as epoch seconds).
    """
    return list(_items(nodes, doc, shown, prefix))


def _items(nodes: tuple[Node, ...], doc: Mapping[str, Any], shown: Mapping[str, Any],
           prefix: str) -> Iterator[ExplanationItem]:
    for node in nodes:
        if isinstance(node, Group) and node.mode != "none":
            held = holds(node, doc)
            yield ExplanationItem(condition=prefix + node.text, held=held)
            yield from _items(node.items, doc, shown, prefix + "  ")
            continue
        held = holds(node, doc)
        if isinstance(node, Group):  # none of: show what it was checking for
            inner = "; ".join(c.text for c in node.items)
            text = node.text if node.text != "none of:" else f"none of: {inner}"
            yield ExplanationItem(condition=prefix + text, held=held,
                                  value=_value(node.items[0], shown),
                                  field=_field(node.items[0]))
            continue
        yield ExplanationItem(condition=prefix + node.text, held=held, value=_value(node, shown),
                              field=_field(node))


def describe(nodes: tuple[Node, ...]) -> str:
    """Conditions in one line, groups included: ``a; any of (b | c)``."""
    parts = []
    for node in nodes:
        if isinstance(node, Group):
            inner = " | ".join(describe((item,)) for item in node.items)
            parts.append(f"{node.mode} of ({inner})")
        else:
            parts.append(node.text)
    return "; ".join(parts)


def _field(node: Node) -> str | None:
    path = getattr(node, "path", None)
    return str(path) if path is not None else None


def _value(node: Node, shown: Mapping[str, Any]) -> Any:
    path = getattr(node, "path", None)
    if path is None:
        return None
    value = lookup(shown, path)
    operand = getattr(node, "operand", None)
    if isinstance(node, (Compare, Has)) and isinstance(operand, Ref):
        return {str(path): value, str(operand.path): lookup(shown, operand.path)}
    if isinstance(node, AnyItem):
        return value
    return value
