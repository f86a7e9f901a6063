"""A trigger's pattern (count, absence, lookback) in plain words, said one way everywhere.

`mandate-rules explain` prints it as text and the living documentation shows it as HTML; both
call `pattern_sentence` with how to show a field, a free text and an event type, and list the
conditions of the other side (`conditions_of`) below it as they list the trigger's own.
"""

from __future__ import annotations

from collections.abc import Callable

from ._conditions import Node
from ._rules import Absence, Count, Lookback, Pattern, Rule, duration_text

__all__ = ["conditions_of", "pattern_sentence"]


def _same(text: str) -> str:
    return text


def pattern_sentence(rule: Rule, pattern: Pattern, *,
                     field: Callable[[str], str] = _same, text: Callable[[str], str] = _same,
                     events: Callable[[tuple[str, ...], bool], str] | None = None) -> str:
    """What `pattern` adds to its trigger's conditions, as one sentence starting "… and".

    `field` shows a field name, `text` a free text (both as they are by default; HTML escapes
    them), `events` the event types an event may be, with or without an article (by default
    "an event (type, type)").
    """
    said = events or _events
    keys = ", ".join(field(str(p)) for p in pattern.by)
    if isinstance(pattern, Count):
        levels = "; ".join(f"{text(s.value if s else rule.severity.value)} from {n} such events"
                           for n, s in pattern.levels)
        return (f"… and it counts such events with the same {keys} within "
                f"{text(duration_text(pattern.within_seconds))}: {levels}.")
    if isinstance(pattern, Absence):
        limit = (f"within {text(duration_text(pattern.within_seconds))}"
                 if pattern.within_seconds else f"by the time in {field(str(pattern.deadline))}")
        ended_by = said(pattern.until.on, False)
        return f"… and no later {ended_by} with the same {keys} meets all of these, {limit}:"
    assert isinstance(pattern, Lookback)
    earlier = said(pattern.prior.on, True)
    return (f"… and within {text(duration_text(pattern.within_seconds))} before it there was "
            f"{earlier} with the same {keys} meeting all of these:")


def conditions_of(pattern: Pattern) -> tuple[Node, ...]:
    """The conditions the pattern's other side must meet (none for a count)."""
    if isinstance(pattern, Absence):
        return pattern.until.when
    if isinstance(pattern, Lookback):
        return pattern.prior.when
    return ()


def _events(event_types: tuple[str, ...], article: bool) -> str:
    listed = ", ".join(event_types)
    return f"an event ({listed})" if article else f"event ({listed})"
