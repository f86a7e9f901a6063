"""What the console's pages show of an advisory: words for people, never raw codes alone."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..._render import _MARK_WORDS
from .._views import readable
from ._recordlink import web_address

DECISIONS = ("acknowledged", "justified", "dismissed")
STATUSES = ("open", *DECISIONS)
#: The resolution form's choices, in the words the form shows.
DECISION_WORDS = MappingProxyType({
    "acknowledged": "Acknowledge: seen, and acted on as advised",
    "justified": "Justify: go ahead, for the reason written below",
    "dismissed": "Dismiss: not applicable to this record"})
STATUS_WORDS = MappingProxyType({
    "open": "open", "acknowledged": "acknowledged", "justified": "justified",
    "dismissed": "dismissed as not applicable"})


def severity_reason(advisory: Mapping[str, Any]) -> str:
    """Why the advisory has its severity: the rule's own, or what raised it."""
    reasons = advisory.get("severity_reasons") or []
    if advisory.get("severity") != advisory.get("base_severity") and reasons:
        return "; ".join(str(r) for r in reasons)
    return "the rule's own severity"


def record_of(advisory: Mapping[str, Any]) -> str:
    """The record an advisory is about: its subject, else the event that raised it."""
    subject = advisory.get("subject")
    if subject:
        return str(subject)
    evidence = advisory.get("evidence") or [{}]
    return str(evidence[-1].get("id", ""))


def system_of(source: str) -> str:
    """The source system's name in a source URI (``kobotoolbox://…`` → ``kobotoolbox``)."""
    scheme, sep, _ = source.partition("://")
    return scheme if sep else source


def advisory_row(advisory: Mapping[str, Any], address: str | None = None) -> dict[str, Any]:
    """An advisory as one row of the queue; `address` is its record's web address as the
    event gave it: `link` holds it only when it is one the console may link to."""
    return {"id": advisory["id"], "rule_id": advisory["rule_id"],
            "link": web_address(address), "address": address or "",
            "title": advisory.get("title", ""), "severity": advisory["severity"],
            "reason": severity_reason(advisory), "record": record_of(advisory),
            "system": system_of(str(advisory.get("source", ""))),
            "source": advisory.get("source", ""), "country": advisory.get("country", ""),
            "area": advisory.get("area") or "", "raised_at": advisory.get("raised_at", ""),
            "status": advisory.get("status", "open"), "trigger": advisory.get("trigger", "")}


def advisory_page(advisory: Mapping[str, Any], address: str | None = None) -> dict[str, Any]:
    """An advisory as its page shows it: the row, and everything behind it in words."""
    references = [{**ref, "checked_words": _MARK_WORDS.get(ref.get("checked", ""),
                                                           "not stated")}
                  for ref in advisory.get("references", [])]
    explanation = [{**item, "shown": _shown(item.get("value")) if item.get("field") else ""}
                   for item in advisory.get("explanation", [])]
    return {**advisory_row(advisory, address), "advice": advisory.get("advice", ""),
            "actions": advisory.get("actions", []), "explanation": explanation,
            "readable": readable(advisory), "evidence": advisory.get("evidence", []),
            "references": references, "resolutions": advisory.get("resolutions", []),
            "base_severity": advisory.get("base_severity"),
            "rules_version": advisory.get("rules_version") or {},
            "context_version": advisory.get("context_version"),
            "raised_by": advisory.get("raised_by") or {}}


def _shown(value: Any) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) if value else "none (an empty list)"
    return str(value)
