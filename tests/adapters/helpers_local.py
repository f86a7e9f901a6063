"""Small builders shared by the adapter tests."""

from __future__ import annotations

from mandate_rules import Event


def event_for(source: str, subject: str = "rec-1") -> Event:
    return Event.from_json({
        "specversion": "1.0", "id": f"{subject}@1", "source": source, "type": "escort.request",
        "time": "2026-11-20T08:00:00Z", "subject": subject, "country": "SOM",
        "data": {"org": {"id": "org-1", "kind": "ingo"}, "armed": True}})
