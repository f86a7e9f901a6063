"""Advisories onto CommCare cases: a linked advisory case (separate, closable, listable with
``?indices.host=<case>``), or a case property on the case itself.

The advisory case is written with an upsert by external id (the advisory's id), so a second
write updates the same case instead of creating another. A case property is named per rule,
so two advisories on one case do not overwrite each other, and setting it again is a no-op.
"""

from __future__ import annotations

import re
from typing import Any

from mandate_rules import Advisory
from mandate_rules.adapters import AdapterError, WriteResult, advisory_text

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


def write_advisory(client: CommCareClient, advisory: Advisory, *, mode: str, case_type: str,
                   owner_id: str | None, host_case_type: str, prefix: str) -> WriteResult:
    case_id = advisory.subject
    if not case_id:
        raise AdapterError(f"advisory {advisory.id} names no case (subject)")
    if mode == "property":
        name = property_name(prefix, advisory)
        client.update(case_id, {"properties": {name: advisory_text(advisory, limit=4000)}})
        return WriteResult(f"commcare case {case_id}, property {name}")
    assert owner_id is not None
    answer = client.upsert_by_external_id(
        advisory.id, advisory_case(advisory, case_type=case_type, owner_id=owner_id,
                                   host_case_type=host_case_type))
    created = answer.get("case_id") if isinstance(answer, dict) else None
    if created is None and isinstance(answer, dict) and isinstance(answer.get("case"), dict):
        created = answer["case"].get("case_id")
    return WriteResult(f"commcare {case_type} case for case {case_id}",
                       remote_id=None if created is None else str(created))
