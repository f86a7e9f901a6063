"""The link from an advisory to its record in the source system.

The address comes with the events: an adapter that knows its source's addresses puts the
record's on each event it makes (the extension attribute ``recordurl``; see the adapters'
``record_url`` setting), and so may anyone posting events to the API. The sidecar stores
events whole, so the console reads the address from the stored event behind the advisory:
the latest of its evidence from the advisory's source about the advisory's record. Nothing is
configured twice, and a page of the queue costs one indexed read for its fifty rows.

Whatever an event carries is shown, never trusted: only an ``http`` or ``https`` address with
a host becomes a link; anything else (a ``javascript:`` address) is at most shown as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..._content import RECORD_URL_ATTRIBUTE
from ..._database import Connection

__all__ = ["record_addresses", "web_address"]

# Ids per query: SQLite allows 32,766 parameters; a page of the queue needs a few hundred.
_CHUNK = 500


def web_address(value: Any) -> str | None:
    """`value` when it is an address the console may link to (http or https, with a host),
    else None."""
    if not isinstance(value, str) or any(c.isspace() or ord(c) < 32 for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def _candidates(advisory: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The advisory's evidence from its own source, latest first."""
    source = advisory.get("source")
    return [(str(ref["source"]), str(ref["id"]))
            for ref in reversed(advisory.get("evidence") or [])
            if isinstance(ref, Mapping) and ref.get("source") == source and "id" in ref]


def record_addresses(conn: Connection, tenant: str,
                     advisories: Sequence[Mapping[str, Any]]) -> list[str | None]:
    """For each advisory, the address its record's stored event gives (as given: check it
    with `web_address` before linking), or None."""
    wanted: dict[str, set[str]] = {}
    for advisory in advisories:
        for source, event_id in _candidates(advisory):
            wanted.setdefault(source, set()).add(event_id)
    found: dict[tuple[str, str], tuple[str | None, str]] = {}
    for source, ids in wanted.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), _CHUNK):
            part = ordered[start:start + _CHUNK]
            # One lookup of the events' unique index (tenant, source, id) per source; the
            # bodies are read here (a page's few dozen), the same on either backend.
            rows = conn.execute(
                "SELECT id, body FROM events WHERE tenant = ? AND source = ? "
                f"AND id IN ({', '.join('?' * len(part))})", [tenant, source, *part])
            for event_id, body in rows:
                event = json.loads(body)
                address = event.get(RECORD_URL_ATTRIBUTE)
                if isinstance(address, str):
                    found[source, event_id] = (event.get("subject"), address)
    out: list[str | None] = []
    for advisory in advisories:
        subject = advisory.get("subject")
        address = next((found[key][1] for key in _candidates(advisory)
                        if key in found and found[key][0] == subject), None)
        out.append(address)
    return out
