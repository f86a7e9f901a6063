#!/usr/bin/env sh
# The sidecar from the shell: post an event, list what it raised, record a decision.
# Start it first (auth off, loopback only):  mandate-rules serve
# The server's address: BASE (default http://127.0.0.1:8765).
# With tokens configured, add:  -H "Authorization: Bearer $MANDATE_RULES_TOKEN"
set -eu
BASE=${BASE:-http://127.0.0.1:8765}

# One event (an armed escort requested from the mission); the answer lists its advisories.
# Sending the same source and id again returns the same advisories and stores nothing.
curl -sS -X POST "$BASE/v1/events" -H 'Content-Type: application/cloudevents+json' -d '{
  "specversion": "1.0", "id": "esc-hr-0001-v1", "type": "escort.request",
  "source": "primero://primero.example.org/cases", "subject": "esc-hr-0001",
  "time": "2026-11-02T08:15:00Z", "country": "SOM", "area": "SO-BN",
  "data": {"org": {"id": "ingo-horn-relief", "kind": "ingo"}, "entity_id": "esc-hr-0001",
           "armed": true, "provider": {"kind": "mission_military"},
           "alternatives_considered": [], "decision": {"status": "requested"}}}'

# A batch: a JSON array (or Content-Type: application/cloudevents-batch+json).
# One invalid event refuses the whole batch, naming each bad one by index; nothing is stored.
curl -sS -X POST "$BASE/v1/events" -H 'Content-Type: application/cloudevents-batch+json' -d '[
  {"specversion": "1.0", "id": "esc-hr-0002-v1", "type": "escort.request",
   "source": "primero://primero.example.org/cases", "subject": "esc-hr-0002",
   "time": "2026-11-02T09:00:00Z", "country": "SOM", "area": "SO-BN",
   "data": {"org": {"id": "ingo-horn-relief", "kind": "ingo"}, "entity_id": "esc-hr-0002",
            "armed": true, "provider": {"kind": "mission_military"},
            "alternatives_considered": [], "decision": {"status": "requested"}}}]'

# What a form would raise, without storing anything (a dry run):
#   curl -sS -X POST "$BASE/v1/evaluate" -H 'Content-Type: application/json' -d @event.json

# Open warnings and criticals for that record, with a readable explanation each:
curl -sS "$BASE/v1/advisories?subject=esc-hr-0001&severity=warning,critical&status=open"

# A field officer's decision, kept in the audit trail (acknowledged, justified, dismissed):
ID=$(curl -sS "$BASE/v1/advisories?subject=esc-hr-0001&limit=1" | jq -r '.items[0].id')
curl -sS -X POST "$BASE/v1/advisories/$ID/resolution" -H 'Content-Type: application/json' \
  -d '{"decision": "justified", "by": "hr-cd-01",
       "text": "No civilian carrier reaches Ceel Gaduud this week; HC informed."}'

# The decision log as JSON lines, and the metrics:
curl -sS "$BASE/v1/decisions/export" > decisions.jsonl
curl -sS "$BASE/metrics" | grep '^mandate_rules_advisories_total'
