"""Helpers of the contract suite that need no pytest: a sample advisory, a pull to the end."""

from __future__ import annotations

import datetime as dt
import hashlib

from ..._models import Advisory, Event, EventRef, ExplanationItem, Reference, RulesVersion, Severity
from ..contract import Adapter, Pulled

__all__ = ["pull_all", "sample_advisory"]

_MAX_PAGES = 1000


def sample_advisory(event: Event, *, rule_id: str = "TST-001") -> Advisory:
    """An advisory about `event`'s record, as the engine would raise it (for write-back tests)."""
    return Advisory(
        id=f"adv-{rule_id.lower()}-"
           + hashlib.sha256(f"{event.source}\0{event.id}".encode()).hexdigest()[:24],
        rule_id=rule_id, title="Contract test advisory", severity=Severity.WARNING,
        base_severity=Severity.WARNING, advice="Written by the adapter contract test suite.",
        actions=("Nothing to do: this is a test.",),
        references=(Reference(source="mandate-rules adapter contract", checked="U"),),
        subject=event.subject, source=event.source, country=event.country, area=event.area,
        evidence=(EventRef(source=event.source, id=event.id, type=event.type, time=event.time),),
        explanation=(ExplanationItem(condition="a test", held=True, value=None),),
        rules_version=RulesVersion(version="0.0.0", hash="0" * 64),
        raised_at=event.time if event.time.tzinfo else event.time.replace(tzinfo=dt.UTC))


def pull_all(adapter: Adapter, cursor: str | None = None) -> list[Pulled]:
    """Every page from `cursor` to the end."""
    pages = []
    for _ in range(_MAX_PAGES):
        page = adapter.pull(cursor)
        pages.append(page)
        if not page.more:
            return pages
        assert page.cursor != cursor, "more pages reported but the cursor did not move"
        cursor = page.cursor
    raise AssertionError(f"the pull did not end within {_MAX_PAGES} pages")
