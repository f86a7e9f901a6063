"""Plain-text rendering for people: tables of advisories and rules, and a rule in plain words."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from ._models import Advisory, Event, format_time
from ._patternwords import conditions_of, pattern_sentence
from ._rules import Rule, Trigger

_MARK_WORDS = MappingProxyType({"V": "verified in the source", "S": "secondary summary",
                                "H": "heading only", "U": "unverified recall"})


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *,
          wrap: int | None = None, caps: Mapping[int, int] | None = None) -> str:
    """A fixed-width table `wrap` columns wide (default: the terminal's, else 100).

    The last column wraps into what is left of the width, and so does each column given a
    cap (column index -> most characters), so that a long cell never pushes a row past it.
    """
    width = wrap or shutil.get_terminal_size((100, 20)).columns
    caps = caps or {}
    cols = len(headers)
    sizes = [min(caps.get(i, width), max([len(headers[i]), *(len(r[i]) for r in rows)]))
             for i in range(cols - 1)]
    over = sum(sizes) + 2 * (cols - 1) + 20 - width  # the last column needs 20 at least
    for i in caps:  # on a narrow terminal, capped columns give up room first
        cut = max(0, min(over, sizes[i] - 16))
        sizes[i] -= cut
        over -= cut
    last = max(20, width - sum(sizes) - 2 * (cols - 1))
    lines = ["  ".join(h.ljust(s) for h, s in zip(headers[:-1], sizes, strict=True))
             + "  " + headers[-1]]
    lines.append("  ".join("-" * s for s in sizes) + "  " + "-" * min(last, 40))
    for row in rows:
        cells = [_wrapped(cell, size) if i in caps else [cell]
                 for i, (cell, size) in enumerate(zip(row[:-1], sizes, strict=True))]
        cells.append(_wrapped(row[-1], last))
        for k in range(max(len(c) for c in cells)):
            parts = [c[k] if k < len(c) else "" for c in cells]
            lines.append(("  ".join(p.ljust(s) for p, s in zip(parts[:-1], sizes, strict=True))
                          + "  " + parts[-1]).rstrip())
    return "\n".join(lines)


def _wrapped(text: str, size: int) -> list[str]:
    return textwrap.wrap(text, size, break_on_hyphens=False) or [""]


def advisories_table(pairs: Sequence[tuple[Event, Sequence[Advisory]]]) -> str:
    rows = []
    for event, advisories in pairs:
        for adv in advisories:
            rows.append([format_time(adv.raised_at)[:16].replace("T", " "), event.type,
                         adv.subject or "-", adv.rule_id, _severity_text(adv), adv.title])
    if not rows:
        return "no advisories"
    return table(["time", "event", "record", "rule", "severity", "title"], rows)


def _severity_text(adv: Advisory) -> str:
    if adv.severity == adv.base_severity:
        return adv.severity.value
    return f"{adv.severity.value} (from {adv.base_severity.value})"


def rules_table(rules: Sequence[Rule]) -> str:
    rows = [[r.id, r.severity.value, "yes" if r.stateful else "no", ", ".join(r.on), r.title]
            for r in rules]
    # The events column wraps: a rule may look at half the event types.
    return table(["rule", "severity", "stateful", "events", "title"], rows, caps={3: 30})


def explain_rule(rule: Rule, width: int = 88) -> str:
    """The rule in plain words: when it speaks, how serious, what it advises, and why."""
    out: list[str] = [f"{rule.id}: {rule.title}", ""]

    def para(text: str, indent: str = "") -> None:
        out.extend(textwrap.wrap(text, width, initial_indent=indent,
                                 subsequent_indent=" " * len(indent)) or [indent])

    para(f"Severity: {rule.severity.value}"
         + (" (one level higher where the mission is, or is seen as, a party to the conflict, "
            "or armed actors are hostile to the UN)" if rule.uplift else "") + ".")
    for esc in rule.escalations:
        para(f"Raised to {esc.to.value} when: " + "; ".join(c.text for c in esc.when)
             + f" ({esc.because}).")
    out.append("")
    for trigger in rule.triggers:
        out.extend(_trigger_words(rule, trigger, width))
        out.append("")
    out.append("Advice:")
    para(rule.advice, "  ")
    out.append("")
    out.append("Actions:")
    for action in rule.actions:
        para(action, "  - ")
    out.append("")
    out.append("References (how far each was checked):")
    for ref in rule.references:
        bits = [ref.source]
        if ref.section:
            bits.append(ref.section)
        line = ", ".join(bits) + f" [{ref.checked}: {_MARK_WORDS[ref.checked]}]"
        para(line, "  - ")
        if ref.quote:
            para(f'"{ref.quote}"', "      ")
        if ref.url:
            out.append(f"      {ref.url}")
    if rule.parameters:
        out.append("")
        out.append("Parameters (a deployment may change them):")
        for p in rule.parameters.values():
            changed = "" if p.value == p.default else f" (default {p.default})"
            para(f"{p.name} = {p.value}{changed}: {p.description}", "  - ")
    return "\n".join(out).rstrip() + "\n"


def _trigger_words(rule: Rule, trigger: Trigger, width: int) -> list[str]:
    head = f"It speaks on {', '.join(trigger.on)}"
    if len(rule.triggers) > 1:
        head = f"[{trigger.name}] " + head
    lines = [head + " when all of these hold:"]
    lines.extend(_conditions(trigger.when, "  - "))
    pattern = trigger.pattern
    if pattern is not None:
        lines.append("  " + pattern_sentence(rule, pattern))
        lines.extend(_conditions(conditions_of(pattern), "      - "))
    if trigger.severity is not None:
        lines.append(f"  Severity for this trigger: {trigger.severity.value}.")
    return [textwrap.shorten(line, 400) if len(line) > 400 else line for line in lines]


def _conditions(nodes: Sequence[object], indent: str) -> list[str]:
    out = []
    for node in nodes:
        items = getattr(node, "items", None)
        mode = getattr(node, "mode", None)
        if items is not None and mode is not None:
            out.append(f"{indent}{node.text}")  # type: ignore[attr-defined]
            # `x is not true` is a group of one condition with the same text: say it once
            if not (len(items) == 1 and items[0].text == node.text):  # type: ignore[attr-defined]
                out.extend(_conditions(items, " " * len(indent) + "  - "))
        else:
            out.append(f"{indent}{node.text}")  # type: ignore[attr-defined]
    return out
