"""Advisories onto Kobo submissions: a validation status (every form has one), or the text in
a field the form owner added for it (KPI v2 has no comments or notes endpoint)."""

from __future__ import annotations

from typing import Any

from mandate_rules import Advisory
from mandate_rules.adapters import AdapterError, WriteResult, advisory_text

from .client import KoboClient

__all__ = ["VALIDATION_STATUSES", "write_advisory"]

VALIDATION_STATUSES = ("validation_status_on_hold", "validation_status_not_approved",
                       "validation_status_approved")


def write_advisory(client: KoboClient, advisory: Advisory, *, mode: str, status: str,
                   field: str | None) -> WriteResult:
    """Both modes set a value, so writing the same advisory again changes nothing."""
    submission_id = advisory.subject
    if not submission_id:
        raise AdapterError(f"advisory {advisory.id} names no submission (subject)")
    if mode == "field":
        assert field is not None
        answer: Any = client.edit_field(submission_id, field, advisory_text(advisory))
        return WriteResult(f"kobotoolbox submission {submission_id}, field {field}")
    answer = client.set_validation_status(submission_id, status)
    label = answer.get("label") if isinstance(answer, dict) else None
    return WriteResult(f"kobotoolbox submission {submission_id}, validation status "
                       f"{label or status}", remote_id=status)
