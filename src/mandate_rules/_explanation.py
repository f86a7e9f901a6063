"""Explanations: each condition of a rule as written, the value it met, and whether it held."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._conditions import Compare, Group, Has, Node, Path, Ref, holds, lookup
from ._models import ExplanationItem


def explain(nodes: tuple[Node, ...], doc: Mapping[str, Any], shown: Mapping[str, Any],
            prefix: str = "") -> list[ExplanationItem]:
    """One item per condition (groups opened up), read over `doc`, values from `shown`.

    `doc` is the normalised document the conditions were decided on; `shown` holds the same
    fields as the event carried them (times as written, not as epoch seconds).
    """
    return Explainer(nodes, prefix)(doc, shown)


class Explainer:
    """`explain` for one list of conditions, planned once: the texts, fields and paths of its
    items are worked out when it is made, so explaining an advisory only reads values and
    decides each condition (the engine makes one per trigger)."""

    def __init__(self, nodes: tuple[Node, ...], prefix: str = "") -> None:
        self._steps = tuple(_plan(nodes, prefix))

    def __call__(self, doc: Mapping[str, Any],
                 shown: Mapping[str, Any]) -> list[ExplanationItem]:
        out = []
        for node, condition, field, path, ref in self._steps:
            value = None
            if path is not None:
                value = lookup(shown, path)
                if ref is not None:
                    value = {field: value, ref[1]: lookup(shown, ref[0])}
            out.append(ExplanationItem(condition=condition, held=holds(node, doc), value=value,
                                       field=field))
        return out


# (the node decided, its text, its field, the path of the value shown, the path compared with)
_Step = tuple[Node, str, "str | None", "Path | None", "tuple[Path, str] | None"]


def _plan(nodes: tuple[Node, ...], prefix: str) -> Iterator[_Step]:
    for node in nodes:
        if isinstance(node, Group) and node.mode != "none":
            yield node, prefix + node.text, None, None, None
            yield from _plan(node.items, prefix + "  ")
        elif isinstance(node, Group):  # none of: show what it was checking for
            inner = "; ".join(c.text for c in node.items)
            text = node.text if node.text != "none of:" else f"none of: {inner}"
            yield (node, prefix + text, *_shown(node.items[0]))
        else:
            yield (node, prefix + node.text, *_shown(node))


def _shown(node: Node) -> tuple[str | None, Path | None, tuple[Path, str] | None]:
    """The field a condition reads, the path of the value shown, and the path of the field it
    is compared with, when it is compared with another field."""
    path: Path | None = getattr(node, "path", None)
    if path is None:
        return None, None, None
    operand = getattr(node, "operand", None)
    if isinstance(node, (Compare, Has)) and isinstance(operand, Ref):
        return str(path), path, (operand.path, str(operand.path))
    return str(path), path, None


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
