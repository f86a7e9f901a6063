"""Advisories onto Kobo submissions: a validation status (every form has one), or the text in
a field the form owner added for it (KPI v2 has no comments or notes endpoint).

The submission is read first (``GET .../data/{id}/``, which takes the ``_id`` or the root
uuid), for three reasons:

* a bulk edit is never a no-op: each one makes a new version of the submission (a new
  ``meta/instanceID``), so a field that already holds the advisory is left alone, and after
  an answer that leaves open whether the edit was made, the field is read again before it
  is sent again;
* the bulk edit takes only the whole-number ``_id``, so a subject that is a root uuid is
  turned into the ``_id`` the submission shows (sending the uuid is a 400, for ever);
* a validation status a person set (approved, not approved, on hold) is a decision, and is
  not overwritten unless the settings say so (``write_back: {overwrite_status: true}``).
"""

from __future__ import annotations

from typing import Any

from mandate_rules.adapters import (
    Advisory,
    WriteResult,
    advisory_text,
    write_unless_there,
)

from .client import KoboClient

__all__ = ["VALIDATION_STATUSES", "write_advisory"]

VALIDATION_STATUSES = ("validation_status_on_hold", "validation_status_not_approved",
                       "validation_status_approved")


def write_advisory(client: KoboClient, advisory: Advisory, submission_id: str, *, mode: str,
                   status: str, field: str | None, overwrite_status: bool = False) -> WriteResult:
    """Write `advisory` on submission `submission_id` once; see the module docstring."""
    where = f"kobotoolbox submission {submission_id}"
    if mode == "field":
        assert field is not None
        return _write_field(client, submission_id, field, advisory_text(advisory),
                            f"{where}, field {field}")
    return _write_status(client, submission_id, status, overwrite_status, where)


def _write_status(client: KoboClient, submission_id: str, status: str, overwrite: bool,
                  where: str) -> WriteResult:
    numeric: list[int] = []

    def find() -> WriteResult | None:
        record = client.submission(submission_id)
        numeric[:] = [record["_id"]]
        current: Any = record.get("_validation_status") or {}
        uid = current.get("uid") if isinstance(current, dict) else None
        label = current.get("label") if isinstance(current, dict) else None
        if uid == status:
            return WriteResult(f"{where}, validation status {label or status}",
                               remote_id=status, existing=True)
        if uid and not overwrite:
            who = current.get("by_whom") or "someone"
            return WriteResult(f"{where}: validation status {label or uid} set by {who} "
                               f"kept, not overwritten with {status} (write_back: "
                               f"overwrite_status)")
        return None

    def write() -> WriteResult:
        answer = client.set_validation_status(numeric[0], status)
        label = answer.get("label") if isinstance(answer, dict) else None
        return WriteResult(f"{where}, validation status {label or status}", remote_id=status)

    return write_unless_there(find, write)


def _write_field(client: KoboClient, submission_id: str, field: str, text: str,
                 target: str) -> WriteResult:
    numeric: list[int] = []

    def find() -> WriteResult | None:
        record = client.submission(submission_id)
        numeric[:] = [record["_id"]]
        if record.get(field) == text:
            return WriteResult(target, existing=True)
        return None

    def write() -> WriteResult:
        client.edit_field(numeric[0], field, text)
        return WriteResult(target)

    return write_unless_there(find, write)
