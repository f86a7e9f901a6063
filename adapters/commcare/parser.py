"""CommCare HQ payloads: what each shape is, and the cases in it.

Record-bearing shapes (see shared/fixtures/external/commcare/README.md):

* a Case API v2 case (``case_type``, ``case_name``, ``properties``, ``indexed_on``, ...);
* a Case API v2 list ``{matching_records, cases: [...], next?}``;
* a JSON case-forwarding body (``CommCareCase.to_api_json(lite=True)``: ``case_type`` and
  ``case_name`` inside ``properties``, ``date_modified``, ``server_date_modified``);
* a Case API v1 list ``{meta, objects: [...]}`` whose objects have the forwarding shape.

Every case is normalised to the v2 field names (``case_type``, ``case_name``, ``owner_id``,
``external_id``, ``date_opened``, ``last_modified``, ``server_last_modified``, ``indexed_on``
at the top, custom properties under ``properties``), so one mapping reads both.

Not cases: a form (Form API v1 object or JSON form-forwarding body), a form list, a form
stub ``{received_on, form_id, case_ids}`` (each names cases that changed), and Case API
request bodies (create/update objects or lists, bulk-fetch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mandate_rules.adapters import PayloadError

__all__ = ["classify", "form_case_ids", "normalise_case", "records"]

CASE, CASE_LIST, CASE_FORWARD, CASE_LIST_V1, FORM, FORM_LIST, FORM_STUB, CASE_REQUEST, \
    BULK_FETCH = ("case", "case_list", "case_forward", "case_list_v1", "form", "form_list",
                  "form_stub", "case_request", "bulk_fetch")
RECORD_KINDS = frozenset({CASE, CASE_LIST, CASE_FORWARD, CASE_LIST_V1})
#: The xmlns of the forms CommCare records for every Case API write (ours included).
CASE_API_XMLNS = "http://commcarehq.org/case_api"


def _is_case(obj: Any) -> bool:
    # A case served or forwarded by CommCare names its project space; a request body does not.
    return isinstance(obj, Mapping) and "case_id" in obj and "properties" in obj and \
        "domain" in obj


def _is_form(obj: Any) -> bool:
    return isinstance(obj, Mapping) and isinstance(obj.get("form"), Mapping) and "id" in obj


def classify(obj: Any) -> str:
    """The shape of a CommCare payload, or `PayloadError` when it is none of them."""
    if isinstance(obj, list):
        if obj and all(isinstance(i, Mapping) and ("create" in i or "properties" in i)
                       for i in obj):
            return CASE_REQUEST
        raise PayloadError("not a CommCare payload: a list of unknown items")
    if not isinstance(obj, Mapping):
        raise PayloadError("not a CommCare payload: expected a JSON object")
    if isinstance(obj.get("cases"), list):
        return CASE_LIST
    if isinstance(obj.get("objects"), list) and isinstance(obj.get("meta"), Mapping):
        items = obj["objects"]
        return FORM_LIST if items and all(_is_form(i) for i in items) else CASE_LIST_V1
    if "form_id" in obj and "case_ids" in obj:
        return FORM_STUB
    if _is_form(obj):
        return FORM
    if _is_case(obj):
        return CASE if "case_type" in obj else CASE_FORWARD
    if "case_ids" in obj or "external_ids" in obj:
        return BULK_FETCH
    if "properties" in obj and ("case_type" in obj or "case_id" in obj or "indices" in obj):
        return CASE_REQUEST
    raise PayloadError("not a CommCare case, case list, form, form stub or case request")


def normalise_case(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A case in the v2 field names, whichever API or forwarding shape it came in."""
    props = dict(obj.get("properties") or {})
    case = dict(obj)
    for key in ("case_type", "case_name", "owner_id", "external_id", "date_opened"):
        if key in props:
            value = props.pop(key)
            if case.get(key) is None:
                case[key] = value
    case.setdefault("last_modified", obj.get("date_modified"))
    case.setdefault("server_last_modified", obj.get("server_date_modified"))
    case["properties"] = props
    return case


def records(obj: Any) -> list[dict[str, Any]]:
    """The cases in a case-bearing payload, normalised."""
    kind = classify(obj)
    if kind in (CASE, CASE_FORWARD):
        return [normalise_case(obj)]
    if kind == CASE_LIST:
        return [normalise_case(c) for c in obj["cases"] if isinstance(c, Mapping)]
    if kind == CASE_LIST_V1:
        return [normalise_case(c) for c in obj["objects"] if isinstance(c, Mapping)]
    raise PayloadError(f"a CommCare {kind.replace('_', ' ')} holds no case")


def form_case_ids(obj: Mapping[str, Any]) -> list[str]:
    """The ids of the cases a form or form stub touched."""
    if "case_ids" in obj:
        return [str(i) for i in obj.get("case_ids") or []]
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if "@case_id" in node:
                found.append(str(node["@case_id"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(obj.get("form"))
    return found


def form_xmlns(obj: Mapping[str, Any]) -> str | None:
    form = obj.get("form")
    return str(form.get("@xmlns")) if isinstance(form, Mapping) and "@xmlns" in form else None
