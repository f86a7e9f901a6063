"""The Primero v2 API calls the adapter makes (HTTP Basic by default, or a bearer token)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mandate_rules.adapters import HttpClient

from . import parser

__all__ = ["PrimeroClient"]


class PrimeroClient:
    def __init__(self, http: HttpClient, record_type: str = "cases") -> None:
        self.http = http
        self.record_type = record_type
        self.base = f"api/v2/{record_type}"

    def updated_since(self, since: str | None, *, page: int, per: int,
                      fields: Iterable[str]) -> tuple[list[dict[str, Any]], int]:
        """One page of records updated at or after `since`, oldest update first, and the
        total the query matches."""
        params: dict[str, Any] = {"order_by": "last_updated_at", "order": "asc",
                                  "page": page, "per": per, "fields": ",".join(sorted(fields))}
        if since is not None:
            params["last_updated_at"] = f"{since}.."
        body = self.http.get_listing(self.base, params=params, classify=parser.classify,
                                     expected=parser.RECORD_LIST, what="a record list")
        metadata = body.get("metadata") or {}
        total = metadata.get("total")
        found = parser.records(body)
        return found, int(total) if isinstance(total, int) else len(found)

    def flags(self, record_id: str) -> list[tuple[Any, str, bool]]:
        body = self.http.get_json(f"{self.base}/{record_id}/flags")
        return parser.flag_messages(body) if body else []

    def add_flag(self, record_id: str, date: str, message: str) -> Any:
        return self.http.request_json("POST", f"{self.base}/{record_id}/flags",
                                      body={"data": {"date": date, "message": message}})

    def notes(self, record_id: str) -> list[dict[str, Any]]:
        body = self.http.get_json(f"{self.base}/{record_id}", params={"fields": "notes_section"})
        data = body.get("data") if isinstance(body, dict) else None
        notes = data.get("notes_section") if isinstance(data, dict) else None
        return [n for n in notes or [] if isinstance(n, dict)]

    def add_note(self, record_id: str, subject: str, text: str) -> Any:
        return self.http.request_json(
            "PATCH", f"{self.base}/{record_id}",
            body={"data": {"notes_section": [{"note_subject": subject, "note_text": text}]}})
