"""Advisories onto CommCare cases: a linked advisory case (separate, closable, listable with
``?indices.host=<case>``), or a case property on the case itself.

The advisory case is written with an upsert by external id (the advisory's id), so a second
write updates the same case instead of creating another. A case property is named per rule,
so two advisories on one case do not overwrite each other. Every API write is still a new
form in CommCare (xmlns ``http://commcarehq.org/case_api``), so the case (or the property) is
read first and left alone when it already holds the advisory, and read again before a write
is sent again after an answer that leaves open whether it was saved.
"""

from __future__ import annotations

import re
from typing import Any

from mandate_rules.adapters import (
    Advisory,
    WriteResult,
    advisory_text,
    write_unless_there,
)

from .client import CommCareClient

__all__ = ["advisory_case", "write_advisory"]


def advisory_case(advisory: Advisory, *, case_type: str, owner_id: str,
                  host_case_type: str) -> dict[str, Any]:
    """The Case API v2 create/update body of the advisory case (values are all text)."""
    assert advisory.subject is not None
    return {
        "case_type": case_type,
        "case_name": f"{advisory.rule_id}: {advisory.title}"[:255],
        "owner_id": owner_id,
        "properties": {
            "rule_id": advisory.rule_id,
            "severity": advisory.severity.value,
            "advice": advisory_text(advisory, limit=4000),
            "raised_at": advisory.raised_at.isoformat(),
            "rules_version": str(advisory.rules_version),
            "advisory_id": advisory.id,
        },
        "indices": {"host": {"case_id": advisory.subject, "case_type": host_case_type,
                             "relationship": "extension"}},
    }


def property_name(prefix: str, advisory: Advisory) -> str:
    """A valid XML name for the rule's property, e.g. ``mandate_advisory_esc_001``."""
    return f"{prefix}_{re.sub(r'[^a-z0-9]+', '_', advisory.rule_id.lower()).strip('_')}"


def write_advisory(client: CommCareClient, advisory: Advisory, case_id: str, *, mode: str,
                   case_type: str, owner_id: str | None, host_case_type: str,
                   prefix: str) -> WriteResult:
    """Write `advisory` on case `case_id` once, as an advisory case or a case property."""
    if mode == "property":
        name = property_name(prefix, advisory)
        text = advisory_text(advisory, limit=4000)
        target = f"commcare case {case_id}, property {name}"

        def find_property() -> WriteResult | None:
            properties = client.case(case_id).get("properties")
            held = properties.get(name) if isinstance(properties, dict) else None
            return WriteResult(target, existing=True) if held == text else None

        def set_property() -> WriteResult:
            client.update(case_id, {"properties": {name: text}})
            return WriteResult(target)

        return write_unless_there(find_property, set_property)
    assert owner_id is not None
    target = f"commcare {case_type} case for case {case_id}"

    def find_case() -> WriteResult | None:
        found = client.by_external_id(advisory.id)
        if found is None:
            return None
        return WriteResult(target, remote_id=_case_id(found), existing=True)

    def create_case() -> WriteResult:
        answer = client.upsert_by_external_id(
            advisory.id, advisory_case(advisory, case_type=case_type, owner_id=owner_id,
                                       host_case_type=host_case_type))
        return WriteResult(target, remote_id=_case_id(answer))

    return write_unless_there(find_case, create_case)


def _case_id(answer: object) -> str | None:
    """The case id in a Case API v2 answer: the case itself, or ``{form_id, case}``."""
    if not isinstance(answer, dict):
        return None
    found = answer.get("case_id")
    if found is None and isinstance(answer.get("case"), dict):
        found = answer["case"].get("case_id")
    return None if found is None else str(found)
