// A Node.js platform calling the mandate-rules sidecar with the built-in fetch (Node 18+),
// no npm package. Run:  node sidecar.mjs [BASE_URL]   (or MANDATE_RULES_URL, MANDATE_RULES_TOKEN)
//
// The sidecar advises; it never blocks. If it cannot be reached, keep the record and send the
// event again later: a retry carries the same id, and the sidecar stores it only once.

const base = process.argv[2] ?? process.env.MANDATE_RULES_URL ?? "http://127.0.0.1:8765";
const token = process.env.MANDATE_RULES_TOKEN;

async function post(body, contentType) {
  const headers = { "Content-Type": contentType };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${base}/v1/events`, {
    method: "POST", headers, body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (response.status !== 200) {
    // {"error": {"code": "invalid-event", "path": "data.armed", "message": ...}}
    throw new Error(`${response.status} ${JSON.stringify(answer.error)}`);
  }
  return answer;
}

function escort(id, time) {
  return {
    specversion: "1.0", id, type: "escort.request",
    source: "node://platform.example.org/requests", subject: id, time,
    country: "SOM", area: "SO-BN",
    data: { org: { id: "ingo-horn-relief", kind: "ingo" }, entity_id: id, armed: true,
            provider: { kind: "mission_military" }, alternatives_considered: [],
            decision: { status: "requested" } },
  };
}

const one = await post(escort("node-esc-0001-v1", "2026-11-02T08:15:00Z"),
                       "application/cloudevents+json");
console.log(`event ${one.event.id}: ${one.advisories.map((a) => a.rule_id).join(", ")}`);
const batch = await post([escort("node-esc-0002-v1", "2026-11-02T09:00:00Z"),
                          escort("node-esc-0003-v1", "2026-11-02T10:00:00Z")],
                         "application/cloudevents-batch+json");
for (const result of batch.results) {
  console.log(`batch ${result.event.id}: ${result.advisories.map((a) => a.rule_id).join(", ")}`);
}
if (!one.advisories.length || batch.results.length !== 2) {
  throw new Error("expected advisories for the event and two results for the batch");
}
