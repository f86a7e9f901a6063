"""A rule as the living documentation shows it: its severity, triggers, sources, parameters.

Conditions are shown as written in the rule pack; patterns, escalations and the uplift are
put in words around them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from .._conditions import Group, Node
from .._models import Reference
from .._patternwords import conditions_of, pattern_sentence
from .._rules import Bundle, Rule, Trigger
from .html import esc, event_words, severity_badge, url_link

# How far a citation was checked: the badge's words and what they mean.
CHECK_MARKS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "V": ("Verified", "the passage was read in the source itself"),
    "S": ("Secondary", "taken from a summary or course material that cites the source"),
    "H": ("Heading only", "only the heading or contents page of the source was seen"),
    "U": ("Unverified", "from recall; not yet checked against the source"),
})
SEVERITIES = ("info", "advice", "warning", "critical")


def conditions_html(nodes: Sequence[Node]) -> str:
    items = []
    for node in nodes:
        # a group the author wrote ("any of:") lists its conditions; a negation such as
        # "medevac is not true" is a group of one inside the loader, shown as written
        nested = isinstance(node, Group) and node.text.rstrip().endswith(":")
        inner = conditions_html(node.items) if isinstance(node, Group) and nested else ""
        items.append(f"<li><code>{esc(node.text)}</code>{inner}</li>")
    return f'<ul class="conditions">{"".join(items)}</ul>'


def _pattern(rule: Rule, trigger: Trigger) -> str:
    pattern = trigger.pattern
    if pattern is None:
        return ""
    sentence = pattern_sentence(rule, pattern, field=lambda name: f"<code>{esc(name)}</code>",
                                text=esc, events=_events_html)
    others = conditions_of(pattern)
    return f"<p>{sentence}</p>" + (conditions_html(others) if others else "")


def _events_html(event_types: tuple[str, ...], article: bool) -> str:
    return " or ".join(event_words(t, article=article) for t in event_types)


def triggers_html(rule: Rule) -> str:
    parts = []
    for trigger in rule.triggers:
        events = " or ".join(event_words(t) for t in trigger.on)
        name = (f'<span class="trigger-name">{esc(trigger.name)}</span> '
                if len(rule.triggers) > 1 else "")
        extra = ""
        if trigger.severity is not None:
            badge = severity_badge(trigger.severity.value)
            extra += f"<p>In this case the severity is {badge}.</p>"
        if trigger.advice:
            extra += f'<p class="trigger-advice">Advice in this case: {esc(trigger.advice)}</p>'
        if trigger.actions:
            extra += ('<p>Actions in this case:</p><ul class="trigger-actions">'
                      + "".join(f"<li>{esc(a)}</li>" for a in trigger.actions) + "</ul>")
        parts.append(f'<div class="trigger"><p>{name}On {events}, when all of these hold '
                     f'<span class="muted">(as written in the rule pack)</span>:</p>'
                     f"{conditions_html(trigger.when)}{_pattern(rule, trigger)}{extra}</div>")
    return "".join(parts)


def reference_html(ref: Reference) -> str:
    word, meaning = CHECK_MARKS.get(ref.checked, (ref.checked, "unknown mark"))
    bits = [f'<span class="check check-{esc(ref.checked)}" title="{esc(meaning)}">'
            f'<span class="check-letter">{esc(ref.checked)}</span> {esc(word)}</span>',
            f'<span class="source">{esc(ref.source)}</span>']
    if ref.section:
        bits.append(f'<span class="section">{esc(ref.section)}</span>')
    body = " ".join(bits)
    if ref.quote:
        body += f'<blockquote>“{esc(ref.quote)}”</blockquote>'
    if ref.url:
        body += f'<div class="ref-url">{url_link(ref.url)}</div>'
    return f'<li class="ref">{body}</li>'


def parameters_html(rule: Rule) -> str:
    if not rule.parameters:
        return ""
    rows = []
    for p in rule.parameters.values():
        value = esc(p.value)
        if p.value != p.default:
            value += f' <span class="muted">(default {esc(p.default)})</span>'
        rows.append(f"<tr><td><code>{esc(p.name)}</code></td><td>{value}</td>"
                    f"<td>{esc(p.description)}</td></tr>")
    return ('<h3>Parameters <span class="muted">(a deployment may change them)</span></h3>'
            '<table class="params"><thead><tr><th>name</th><th>value</th><th>what it is</th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def severity_html(rule: Rule, bundle: Bundle) -> str:
    value = rule.severity.value
    out = [f"<p>{severity_badge(value)}</p>"]
    if rule.uplift:
        because = bundle.uplift.because if bundle.uplift is not None else "the context says so"
        out.append(f"<p><strong>One level higher</strong> (at most critical) where "
                   f"{esc(because)}.</p>")
    for escalation in rule.escalations:
        out.append(f"<p><strong>Raised to {severity_badge(escalation.to.value)}</strong> when "
                   f"{esc(escalation.because)}. "
                   f'<span class="muted">As written in the rule pack:</span></p>'
                   f"{conditions_html(escalation.when)}")
    return "".join(out)


