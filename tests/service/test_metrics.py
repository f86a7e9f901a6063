"""The hand-written Prometheus exposition parses with Prometheus' own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mandate_rules._service._metrics import Metrics


def test_the_exposition_parses_and_says_what_happened() -> None:
    metrics = Metrics()
    metrics.events.inc("escort.request", "stored")
    metrics.events.inc("escort.request", "stored")
    metrics.advisories.inc("ESC-001", "warning")
    metrics.errors.inc('odd"code\\with\nnewline')
    for seconds in (0.0004, 0.003, 0.003, 20.0):
        metrics.latency.observe(seconds, "POST", "/v1/events")
    metrics.add_gauge("queue_depth", "Jobs waiting.", (), lambda: [((), 7.0)])
    families = {f.name: f for f in text_string_to_metric_families(metrics.render())}
    events = families["mandate_rules_events"]
    assert events.type == "counter"
    assert [(s.labels, s.value) for s in events.samples] == [
        ({"type": "escort.request", "outcome": "stored"}, 2.0)]
    (error,) = families["mandate_rules_errors"].samples
    assert error.labels == {"code": 'odd"code\\with\nnewline'}
    latency = families["mandate_rules_http_request_duration_seconds"]
    buckets = {s.labels["le"]: s.value for s in latency.samples if s.name.endswith("_bucket")}
    assert buckets["0.0005"] == 1
    assert buckets["0.005"] == 3
    assert buckets["10.0"] == 3
    assert buckets["+Inf"] == 4
    count = [s.value for s in latency.samples if s.name.endswith("_count")]
    assert count == [4]
    assert families["mandate_rules_queue_depth"].samples[0].value == 7.0
    assert families["mandate_rules_replayed_events"].samples[0].value == 0.0
