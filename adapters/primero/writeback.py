"""Advisories onto Primero records: a flag (visible on the record and in flag lists,
attributed to the API user, resolvable with an unflag message), or a note where flags do
not fit.

Neither write is idempotent: every ``POST .../flags`` adds a flag (``FlagsController#create``
calls ``add_flag!``), every notes PATCH appends a note. So the record's flags (or notes) are
read first, and one that already carries the advisory's mark means it was written. When the
answer to the write leaves open whether Primero saved it (500, a proxy's 502 or 504, no
answer before the read timeout), they are read again, and the write is sent again only if
the mark is still absent.
"""

from __future__ import annotations

from mandate_rules.adapters import (
    Advisory,
    WriteResult,
    advisory_marker,
    advisory_text,
    write_unless_there,
)

from .client import PrimeroClient

__all__ = ["write_advisory"]

_FLAG_LIMIT = 500


def write_advisory(client: PrimeroClient, advisory: Advisory, record_id: str, *,
                   mode: str) -> WriteResult:
    """Write `advisory` on record `record_id` once, as a flag or a note."""
    mark = advisory_marker(advisory)
    where = f"primero {client.record_type} {record_id}"

    if mode == "note":
        def find_note() -> WriteResult | None:
            for note in client.notes(record_id):
                if mark in str(note.get("note_text") or ""):
                    return WriteResult(f"{where}, note", existing=True)
            return None

        def add_note() -> WriteResult:
            client.add_note(record_id, f"{advisory.rule_id}: {advisory.title}"[:250],
                            advisory_text(advisory, limit=4000))
            return WriteResult(f"{where}, note")

        return write_unless_there(find_note, add_note)

    def find_flag() -> WriteResult | None:
        for flag_id, message, removed in client.flags(record_id):
            if mark in message and not removed:
                return WriteResult(f"{where}, flag {flag_id}", remote_id=str(flag_id),
                                   existing=True)
        return None

    def add_flag() -> WriteResult:
        answer = client.add_flag(record_id, advisory.raised_at.date().isoformat(),
                                 advisory_text(advisory, limit=_FLAG_LIMIT))
        data = answer.get("data") if isinstance(answer, dict) else None
        flag_id = data.get("id") if isinstance(data, dict) else None
        return WriteResult(f"{where}, flag {flag_id}", remote_id=None if flag_id is None
                           else str(flag_id))

    return write_unless_there(find_flag, add_flag)
