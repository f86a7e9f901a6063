"""HTML pieces of the living documentation: escaping, links, badges and event words.

Every text that comes from the rules, the feature files or the run goes through `esc`; links
are made only of ``http`` and ``https`` addresses.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from html import escape
from types import MappingProxyType

from .phrasebook import EVENT_KINDS

_EVENT_WORDS = MappingProxyType({event_type: words for words, event_type in EVENT_KINDS.items()})
_RULE_ID_RE = re.compile(r"\b[A-Z]{3}-\d{3}\b")


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def anchor(rule_id: str) -> str:
    return "rule-" + re.sub(r"[^A-Za-z0-9_-]", "_", rule_id)


def url_link(url: str | None) -> str:
    if not url:
        return ""
    if re.match(r"^https?://", url, re.IGNORECASE):
        return f'<a class="url" href="{esc(url)}">{esc(url)}</a>'
    return f'<span class="url">{esc(url)}</span>'


def when_text(created: str | None) -> str:
    if not created:
        return "an unknown date"
    try:
        moment = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return created
    moment = moment.astimezone(dt.UTC)
    return f"{moment.day} {moment:%B %Y}, {moment:%H:%M} UTC"


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def event_words(event_type: str, *, article: bool = True) -> str:
    words = _EVENT_WORDS.get(event_type)
    if words is None:
        return f"<code>{esc(event_type)}</code>"
    if not article:
        words = words.split(" ", 1)[1]
    return f"{esc(words)} <span class=\"muted\">(<code>{esc(event_type)}</code>)</span>"


def severity_badge(value: str) -> str:
    return f'<span class="sev sev-{esc(value)}">{esc(value)}</span>'


def link_rule_ids(text_html: str, known: Iterable[str]) -> str:
    """Rule ids in escaped text, linked to their rule on the page."""
    ids = set(known)

    def link(found: re.Match[str]) -> str:
        rule_id = found.group(0)
        if rule_id not in ids:
            return rule_id
        return f'<a class="rule-ref" href="#{anchor(rule_id)}">{rule_id}</a>'

    return _RULE_ID_RE.sub(link, text_html)


