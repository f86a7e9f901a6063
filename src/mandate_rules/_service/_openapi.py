"""The OpenAPI 3.1 document of the sidecar, served at ``/v1/openapi.json``.

Written here by hand, next to the routes; `tests/service/test_openapi.py` keeps the two in
step (every route and method in both) and fuzzes the live server against this document.
The event types are read from ``event_types.yaml``, the published contract with adapters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any

from ruamel.yaml import YAML

from .._resources import event_types_text
from ._errors import CODES

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _nullable(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


@cache
def event_types() -> tuple[str, ...]:
    text = event_types_text()
    return tuple(sorted(YAML(typ="safe").load(text)["types"]))


_TEXT: Mapping[str, Any] = MappingProxyType({"type": "string"})
_TIME: Mapping[str, Any] = MappingProxyType({"type": "string", "format": "date-time"})
_VERSION: Mapping[str, Any] = MappingProxyType({
    "type": "object", "required": ["version", "hash"],
    "properties": {"version": _TEXT, "hash": _TEXT}})
_EVENT_REF: Mapping[str, Any] = MappingProxyType({
    "type": "object", "required": ["source", "id", "type"],
    "properties": {"source": _TEXT, "id": _TEXT, "type": _TEXT}})


def _schemas() -> dict[str, Any]:
    advisory = {
        "type": "object",
        "description": "An advisory: advice for the field officer, never a block.",
        "required": ["id", "rule_id", "title", "severity", "base_severity", "advice", "actions",
                     "references", "source", "country", "evidence", "explanation",
                     "rules_version", "raised_at"],
        "properties": {
            "id": _TEXT, "rule_id": _TEXT, "title": _TEXT,
            "severity": {"enum": ["info", "advice", "warning", "critical"]},
            "base_severity": {"enum": ["info", "advice", "warning", "critical"]},
            "severity_reasons": {"type": "array", "items": _TEXT},
            "advice": _TEXT, "actions": {"type": "array", "items": _TEXT},
            "references": {"type": "array", "items": {"type": "object"}},
            "subject": _nullable(_TEXT), "source": _TEXT, "country": _TEXT,
            "area": _nullable(_TEXT),
            "evidence": {"type": "array", "items": {"type": "object"}},
            "explanation": {"type": "array", "items": {
                "type": "object", "required": ["condition", "held"],
                "properties": {"condition": _TEXT, "held": {"type": "boolean"},
                               "value": {}, "field": _TEXT}}},
            "rules_version": _VERSION, "raised_at": _TIME, "trigger": _TEXT,
            "context_known": {"type": "boolean"}, "context_version": _nullable(_TEXT),
        },
    }
    stored = {"allOf": [_ref("Advisory"), {
        "type": "object", "required": ["status", "stored_at"],
        "properties": {"status": {"enum": ["open", "acknowledged", "justified", "dismissed"]},
                       "stored_at": _TIME}}]}
    resolution = {
        "type": "object", "required": ["seq", "advisory_id", "decision", "by", "recorded_at"],
        "properties": {"seq": {"type": "integer"}, "advisory_id": _TEXT,
                       "decision": {"enum": ["acknowledged", "justified", "dismissed"]},
                       "text": _nullable(_TEXT), "by": _TEXT, "recorded_at": _TIME}}
    result = {
        "type": "object", "required": ["event", "duplicate", "rules_version", "advisories"],
        "properties": {"event": _EVENT_REF, "duplicate": {"type": "boolean"},
                       "rules_version": _VERSION,
                       "advisories": {"type": "array", "items": _ref("Advisory")}}}
    rule = {
        "type": "object", "required": ["id", "title", "pack", "severity", "on", "stateful"],
        "properties": {"id": _TEXT, "title": _TEXT, "pack": _TEXT,
                       "severity": {"enum": ["info", "advice", "warning", "critical"]},
                       "on": {"type": "array", "items": _TEXT}, "stateful": {"type": "boolean"}}}
    decision = {
        "type": "object",
        "required": ["seq", "recorded_at", "event", "outcome", "rules_version", "advisory_ids",
                     "duration_ms", "shadow"],
        "properties": {
            "seq": {"type": "integer"}, "recorded_at": _TIME, "event": _EVENT_REF,
            "outcome": {"enum": ["evaluated", "duplicate"]}, "rules_version": _VERSION,
            "advisory_ids": {"type": "array", "items": _TEXT},
            "duration_ms": {"type": "number"},
            "shadow": _nullable({"type": "object", "properties": {
                "rules_version": _VERSION,
                "advisory_ids": _nullable({"type": "array", "items": _TEXT}),
                "error": _nullable(_TEXT)}}),
            "missing_keys": {"type": "array", "items": _TEXT, "description":
                             "Stateful rules that matched the event but lacked a key field"}}}
    change = {
        "type": "object", "required": ["change", "rule_id", "event", "live", "candidate"],
        "properties": {
            "change": {"enum": ["raise", "drop", "severity"]}, "rule_id": _TEXT,
            "event": _EVENT_REF,
            "live": _nullable({"type": "object"}), "candidate": _nullable({"type": "object"})}}
    error = {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message", "path"],
            "properties": {
                "code": {"enum": sorted(CODES)}, "message": _TEXT, "path": _nullable(_TEXT),
                "problems": {"type": "array", "items": {"type": "object"}},
                "items": {"type": "array", "items": {
                    "type": "object", "required": ["index", "problems"],
                    "properties": {"index": {"type": "integer"},
                                   "problems": {"type": "array"}}}}}}}}
    cloud_event = {
        "type": "object",
        "description": "A CloudEvents 1.0 event in structured mode, with the catalogue's "
                       "`data` for its type (see event_types.yaml).",
        "required": ["specversion", "id", "source", "type", "time", "country"],
        "properties": {
            "specversion": {"const": "1.0"}, "id": {"type": "string", "minLength": 1},
            "source": {"type": "string", "minLength": 1}, "type": {"enum": list(event_types())},
            "time": _TIME, "country": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "subject": {"type": "string", "minLength": 1},
            "area": {"type": "string", "minLength": 1}, "data": {"type": "object"}},
    }
    return {
        "CloudEvent": cloud_event,
        "CloudEventBatch": {"type": "array", "minItems": 1, "items": _ref("CloudEvent")},
        "Advisory": advisory,
        "StoredAdvisory": stored,
        "AdvisoryDetail": {"allOf": [_ref("StoredAdvisory"), {
            "type": "object", "required": ["raised_by", "resolutions", "readable"],
            "properties": {"raised_by": _EVENT_REF,
                           "resolutions": {"type": "array", "items": _ref("Resolution")},
                           "readable": {"type": "array", "items": _TEXT}}}]},
        "AdvisoryList": {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": _ref("StoredAdvisory")},
            "next_cursor": _nullable(_TEXT)}},
        "Resolution": resolution,
        "ResolutionRequest": {
            "type": "object", "required": ["decision", "by"], "additionalProperties": False,
            "properties": {"decision": {"enum": ["acknowledged", "justified", "dismissed"]},
                           "text": {"type": "string", "maxLength": 10000},
                           "by": {"type": "string", "minLength": 1, "maxLength": 200,
                                  "pattern": "\\S"}}},
        "EventResult": result,
        "BatchResult": {"type": "object", "required": ["results"], "properties": {
            "results": {"type": "array", "items": _ref("EventResult")}}},
        "DryRunResult": {"allOf": [_ref("EventResult"), {
            "type": "object", "required": ["dry_run"],
            "properties": {"dry_run": {"const": True}}}]},
        "Rule": rule,
        "RuleList": {"type": "object", "required": ["rules_version", "rules"], "properties": {
            "rules_version": _VERSION, "rules": {"type": "array", "items": _ref("Rule")}}},
        "RuleDetail": {"allOf": [_ref("Rule"), {
            "type": "object",
            "required": ["advice", "actions", "references", "triggers", "text",
                         "rules_version"],
            "properties": {"advice": _TEXT, "actions": {"type": "array", "items": _TEXT},
                           "references": {"type": "array"}, "triggers": {"type": "array"},
                           "escalations": {"type": "array"}, "parameters": {"type": "object"},
                           "text": _TEXT, "rules_version": _VERSION}}]},
        "Decision": decision,
        "DecisionList": {"type": "object", "required": ["items", "next_cursor"], "properties": {
            "items": {"type": "array", "items": _ref("Decision")},
            "next_cursor": _nullable(_TEXT)}},
        "ShadowDiff": {
            "type": "object",
            "required": ["live", "candidate", "events_compared", "summary", "changes",
                         "next_cursor"],
            "properties": {"live": _VERSION, "candidate": _VERSION,
                           "events_compared": {"type": "integer"},
                           "summary": {"type": "object", "additionalProperties": {
                               "type": "object", "properties": {
                                   "raise": {"type": "integer"}, "drop": {"type": "integer"},
                                   "severity": {"type": "integer"}}}},
                           "changes": {"type": "array", "items": change},
                           "next_cursor": _nullable(_TEXT)}},
        "ReloadResult": {
            "type": "object", "required": ["changed", "rules_version", "shadow_version"],
            "properties": {"changed": {"type": "boolean"}, "rules_version": _VERSION,
                           "shadow_version": _nullable(_VERSION), "seconds": {"type": "number"}}},
        "Error": error,
        "OutboxRow": {
            "type": "object",
            "description": "One advisory to write back to its record, and where that stands: "
                           "pending (retried until the source takes it), done, or dead (the "
                           "source refused it in a way no retry changes; last_error says why).",
            "required": ["advisory_id", "source", "subject", "status", "attempts",
                         "last_error", "target", "remote_id", "created_at",
                         "next_attempt_at", "done_at"],
            "properties": {
                "advisory_id": _TEXT, "source": _TEXT, "subject": _nullable(_TEXT),
                "status": {"enum": ["pending", "done", "dead"]},
                "attempts": {"type": "integer", "minimum": 0},
                "last_error": _nullable(_TEXT), "target": _nullable(_TEXT),
                "remote_id": _nullable(_TEXT), "created_at": _TIME,
                "next_attempt_at": _nullable(_TIME), "done_at": _nullable(_TIME)}},
        "OutboxList": {
            "type": "object", "required": ["items", "next_cursor"],
            "properties": {"items": {"type": "array", "items": _ref("OutboxRow")},
                           "next_cursor": _nullable(_TEXT)}},
        "AdapterError": {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"],
                                     "properties": {"code": _TEXT, "message": _TEXT}}}},
    }


def _json(schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    out = {}
    for status in statuses:
        codes = sorted(c for c, (s, _) in CODES.items() if s == status)
        out[str(status)] = _json(_ref("Error"), "Error: " + ", ".join(codes))
    return out


def _query(name: str, schema: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1}}


_LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000},
                "Page size (default 100).")
_CURSOR = _query("cursor", {"type": "string"}, "The `next_cursor` of the previous page.")
_SINCE = _query("since", _TIME, "From this time (inclusive).")
_UNTIL = _query("until", _TIME, "Before this time.")


def _operation(op_id: str, summary: str, responses: dict[str, Any], *,
               parameters: list[dict[str, Any]] | None = None,
               body: dict[str, Any] | None = None, secured: bool = True,
               tags: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op_id, "summary": summary, "responses": responses}
    if tags:
        out["tags"] = list(tags)
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = body
    if secured:  # 503: the store or the engine thread cannot serve right now
        out["responses"] = {**responses, **_errors(401, 403, 503)}
    else:
        out["security"] = []  # no bearer token needed
    return out


_EXAMPLE: Mapping[str, Any] = MappingProxyType({
    "specversion": "1.0", "id": "esc-hr-0001-v1",
    "source": "kobotoolbox://kf.example.org/assets/aDemoSom", "type": "escort.request",
    "time": "2026-11-02T08:15:00Z", "subject": "esc-hr-0001", "country": "SOM", "area": "SO-BN",
    "data": {"org": {"id": "ingo-horn-relief", "kind": "ingo"}, "entity_id": "esc-hr-0001",
             "armed": True, "provider": {"kind": "mission_military"},
             "alternatives_considered": [], "decision": {"status": "requested"}},
})
# Where an advisory id in one answer can be used next (OpenAPI links).
_ADVISORY_LINKS: Mapping[str, Any] = MappingProxyType({
    "GetAdvisory": {"operationId": "getAdvisory",
                    "parameters": {"advisory_id": "$response.body#/advisories/0/id"}},
    "ResolveAdvisory": {"operationId": "resolveAdvisory",
                        "parameters": {"advisory_id": "$response.body#/advisories/0/id"}},
})
_LISTED_LINKS: Mapping[str, Any] = MappingProxyType({
    "GetListedAdvisory": {"operationId": "getAdvisory",
                          "parameters": {"advisory_id": "$response.body#/items/0/id"}},
})


def openapi_document() -> dict[str, Any]:
    example = {"escort": {"summary": "An armed escort requested from the mission",
                          "value": _EXAMPLE}}
    event_body = {"required": True, "content": {
        "application/json": {"schema": {"anyOf": [_ref("CloudEvent"),
                                                  _ref("CloudEventBatch")]},
                             "examples": example},
        "application/cloudevents+json": {"schema": _ref("CloudEvent"), "examples": example},
        "application/cloudevents-batch+json": {"schema": _ref("CloudEventBatch")}}}
    single_body = {"required": True, "content": {
        "application/json": {"schema": _ref("CloudEvent"), "examples": example},
        "application/cloudevents+json": {"schema": _ref("CloudEvent")}}}
    # The frozen tables above, wherever they sit (in lists too), become plain dicts.
    document: dict[str, Any] = json.loads(json.dumps({
        "openapi": "3.1.0",
        "info": {
            "title": "mandate-rules sidecar",
            "version": "1",
            "description": "Advisories on humanitarian neutrality and the use of military and "
                           "mission assets. Events in (CloudEvents 1.0), advisories out. It "
                           "advises; it never blocks. Every error is JSON with a stable code.",
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": _operation(
                "healthz", "Liveness: the process serves and its engine thread runs.",
                {"200": _json({"type": "object", "required": ["status"],
                               "properties": {"status": {"const": "ok"}}}, "Alive"),
                 **_errors(503)}, secured=False, tags=("health",))},
            "/readyz": {"get": _operation(
                "readyz", "Readiness: engines rebuilt from the stored events, store writable.",
                {"200": _json({"type": "object", "required": ["status", "rules_version"],
                               "properties": {"status": {"const": "ready"},
                                              "rules_version": _VERSION,
                                              "shadow_version": _nullable(_VERSION)}},
                              "Ready"),
                 **_errors(503)}, secured=False, tags=("health",))},
            "/metrics": {"get": _operation(
                "metrics", "Prometheus metrics (text format 0.0.4), every tenant's; operator role "
                "metrics (a token without a tenant).",
                {"200": {"description": "Metrics", "content": {
                    "text/plain": {"schema": {"type": "string"}}}}}, tags=("health",))},
            "/v1/openapi.json": {"get": _operation(
                "openapi", "This document.",
                {"200": _json({"type": "object"}, "The OpenAPI document")}, secured=False,
                tags=("health",))},
            "/v1/events": {"post": _operation(
                "postEvents", "Submit one event or a batch; stored before the answer. The same "
                "source and id again returns the same advisories and stores nothing.",
                {"200": {**_json({"anyOf": [_ref("EventResult"), _ref("BatchResult")]},
                                 "The advisories each event raised"), "links": _ADVISORY_LINKS},
                 **_errors(400, 409, 413, 415, 422, 500, 503)},
                body=event_body, tags=("events",))},
            "/v1/evaluate": {"post": _operation(
                "evaluate", "Dry run: the advisories this event would raise now; stores "
                "nothing and changes no state.",
                {"200": _json(_ref("DryRunResult"), "What the event would raise"),
                 **_errors(400, 409, 413, 415, 422, 500, 503)},
                body=single_body, tags=("events",))},
            "/v1/advisories": {"get": _operation(
                "listAdvisories", "Stored advisories, oldest first, filtered and paginated.",
                {"200": {**_json(_ref("AdvisoryList"), "A page of advisories"),
                         "links": _LISTED_LINKS}, **_errors(400)},
                parameters=[
                    _query("subject", _TEXT, "The record in the source system."),
                    _query("source", _TEXT, "The source of the triggering event."),
                    _query("country", _TEXT, "The operation (ISO 3166-1 alpha-3)."),
                    _query("rule", _TEXT, "Rule ids, comma-separated."),
                    _query("severity", _TEXT, "info, advice, warning, critical; comma-separated."),
                    _query("status", _TEXT, "open, acknowledged, justified, dismissed; "
                                            "comma-separated."),
                    _SINCE, _UNTIL, _LIMIT, _CURSOR],
                tags=("advisories",))},
            "/v1/advisories/{advisory_id}": {"get": _operation(
                "getAdvisory", "One advisory with its explanation, in sentences too, and its "
                "resolutions.",
                {"200": _json(_ref("AdvisoryDetail"), "The advisory"), **_errors(404)},
                parameters=[_path("advisory_id")], tags=("advisories",))},
            "/v1/advisories/{advisory_id}/resolution": {"post": _operation(
                "resolveAdvisory", "Record what was decided: acknowledged, justified (with "
                "text) or dismissed as not applicable. Kept in the audit trail.",
                {"201": _json(_ref("Resolution"), "The recorded resolution"),
                 **_errors(400, 404, 413, 415, 422, 503)},
                parameters=[_path("advisory_id")],
                body={"required": True, "content": {
                    "application/json": {"schema": _ref("ResolutionRequest")}}},
                tags=("advisories",))},
            "/v1/rules": {"get": _operation(
                "listRules", "The running rules, in catalogue order.",
                {"200": _json(_ref("RuleList"), "The rules")}, tags=("rules",))},
            "/v1/rules/{rule_id}": {"get": _operation(
                "getRule", "One rule: conditions, advice, citations, parameters, in words.",
                {"200": _json(_ref("RuleDetail"), "The rule"), **_errors(404)},
                parameters=[_path("rule_id")], tags=("rules",))},
            "/v1/decisions": {"get": _operation(
                "listDecisions", "The decision log: every evaluation, oldest first.",
                {"200": _json(_ref("DecisionList"), "A page of the decision log"),
                 **_errors(400)},
                parameters=[_SINCE, _UNTIL, _LIMIT, _CURSOR], tags=("decisions",))},
            "/v1/decisions/export": {"get": _operation(
                "exportDecisions", "The decision log as JSON lines.",
                {"200": {"description": "One decision per line; an evaluation also carries "
                                        "the event or tick it evaluated (cloudevent)",
                         "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                 **_errors(400)},
                parameters=[_SINCE, _UNTIL], tags=("decisions",))},
            "/v1/shadow/diff": {"get": _operation(
                "shadowDiff", "What the candidate rule packs would raise or drop, by rule and "
                "event, against the live ones on the same traffic.",
                {"200": _json(_ref("ShadowDiff"), "The differences"), **_errors(400, 404)},
                parameters=[_LIMIT, _CURSOR], tags=("shadow",))},
            "/v1/adapters/{connection}/push": {"post": _operation(
                "adapterPush", "A push from a source system (KoboToolbox REST service, Primero "
                "webhook, CommCare data forwarding) to a configured adapter connection, "
                "authenticated by the connection's shared secret. Anything that may succeed "
                "later is a 503 with Retry-After (the one failure every sender retries). "
                "Served by the sidecar's push receivers (mandate_rules._service._receivers).",
                {"200": _json({"type": "object"}, "New, unchanged, rejected and ignored "
                                                  "records, and the advisories raised"),
                 **{str(s): _json(_ref("AdapterError"), "Error")
                    for s in (400, 401, 404, 413, 422, 503)}},
                parameters=[_path("connection")],
                body={"required": True, "content": {"application/json": {"schema": {}}}},
                secured=False, tags=("adapters",))},
            "/v1/outbox": {"get": _operation(
                "listOutbox", "The write-backs of advisories to the source systems of the "
                "caller's tenant, oldest first: pending, done, or dead (refused by the source; "
                "put back with POST /v1/admin/outbox/retry once fixed). Served by the adapters.",
                {"200": _json(_ref("OutboxList"), "A page of write-backs"), **_errors(400)},
                parameters=[_query("status", _TEXT, "pending, done, dead; comma-separated."),
                            _LIMIT, _CURSOR],
                tags=("adapters",))},
            "/v1/admin/outbox/retry": {"post": _operation(
                "retryOutbox", "Put the tenant's dead write-backs (or the one advisory_id "
                "names) back in the queue, due now, after the record, form or settings were "
                "fixed. Served by the adapters.",
                {"200": _json({"type": "object", "required": ["retried"],
                               "properties": {"retried": {"type": "array", "items": _TEXT}}},
                              "The advisory ids put back"),
                 "404": _json(_ref("AdapterError"), "Error: outbox-row-not-found"),
                 **_errors(400)},
                parameters=[_query("advisory_id", {"type": "string", "maxLength": 512},
                                   "One advisory (default: every dead write-back).")],
                tags=("admin", "adapters"))},
            "/v1/admin/reload": {"post": _operation(
                "reload", "Validate the rule packs again and, if sound, swap them in "
                "atomically (state rebuilt from the event log), for every tenant. Same as "
                "SIGHUP. Operator role reload (a token without a tenant).",
                {"200": _json(_ref("ReloadResult"), "Reloaded (or unchanged)"),
                 **_errors(422, 500, 503)}, tags=("admin",))},
        },
    }, default=dict))
    return document
