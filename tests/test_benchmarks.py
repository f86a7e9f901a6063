"""The benchmark suite's own correctness (benchmarks/), not its timings.

The generated stream must be reproducible, and every engine the suite times must give the
same answers on it: the peers' rules (generated from the packs) the same advisories as the
direct reading and as mandate-rules, raw durable_rules the same questions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from benchmarks._common import catalogue, prepare
from benchmarks.stream import EventStream, StreamConfig, operation_codes

from mandate_rules import Engine

SAMPLE = 150


def _digest(events: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(events, sort_keys=True).encode()).hexdigest()


@pytest.fixture(scope="module")
def sample() -> list[Any]:
    return prepare(EventStream(catalogue(), StreamConfig(seed=5, operations=12)).take(SAMPLE))


def test_the_stream_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    config = StreamConfig(seed=3, operations=20, duplicates=0.01, context_updates=0.01)
    first = EventStream(catalogue(), config).take(300)
    again = EventStream(catalogue(), config).take(300)
    other = EventStream(catalogue(), StreamConfig(seed=4, operations=20)).take(300)
    assert _digest(first) == _digest(again)
    assert _digest(first) != _digest(other)


def test_the_stream_is_valid_mixed_and_moves_forward_per_operation() -> None:
    raw = EventStream(catalogue(), StreamConfig(seed=8, operations=30)).take(600)
    events = prepare(raw)  # every event passes Event.from_json's validation
    assert len({e.type for e in events}) >= 8
    assert len({e.country for e in events}) > 5
    last: dict[str, float] = {}
    for event in events:
        assert event.time.timestamp() >= last.get(event.country, 0.0)
        last[event.country] = event.time.timestamp()


def test_operation_codes_are_distinct_three_letter_codes() -> None:
    codes = operation_codes(1000)
    assert len(set(codes)) == 1000
    assert codes[:2] == ["SOM", "PHL"]
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in codes)


def test_the_direct_reading_gives_the_advisories_the_engine_gives(sample: list[Any]) -> None:
    from benchmarks.peers import PlainPython  # noqa: PLC0415
    from benchmarks.translate import stateless_bundle  # noqa: PLC0415

    stateless = stateless_bundle(catalogue())
    ids = {rule.id for rule in stateless.rules}
    engine = Engine(catalogue())
    plain = PlainPython(stateless)
    ours = [sorted((a.rule_id, a.trigger, a.severity.value) for a in engine.evaluate(e)
                   if a.rule_id in ids) for e in sample]
    reference = [sorted(plain(e)) for e in sample]
    assert ours == reference
    assert sum(len(r) for r in reference) > SAMPLE // 4  # the sample does raise advisories


def test_peers_raise_the_advisories_mandate_rules_raises(sample: list[Any]) -> None:
    pytest.importorskip("zen", reason="zen-engine is in the bench extra")
    pytest.importorskip("rule_engine", reason="rule-engine is in the bench extra")
    from benchmarks.peers import (  # noqa: PLC0415
        PlainPython,
        RuleEnginePeer,
        ZenExpressionsPeer,
        ZenPeer,
    )
    from benchmarks.translate import stateless_bundle  # noqa: PLC0415

    stateless = stateless_bundle(catalogue())
    reference = [sorted(PlainPython(stateless)(e)) for e in sample]
    for peer in (ZenPeer(stateless), ZenExpressionsPeer(stateless), RuleEnginePeer(stateless)):
        assert [sorted(peer(e)) for e in sample] == reference, peer.name


def test_raw_durable_rules_fires_the_questions_the_direct_reading_holds(
        sample: list[Any]) -> None:
    from benchmarks.inprocess import check_raw  # noqa: PLC0415
    from benchmarks.peers import FullPlainPython, RawDurable  # noqa: PLC0415

    bundle = catalogue()
    result = check_raw(RawDurable(bundle), FullPlainPython(bundle), sample[:60])
    assert result == {"events": 60, "mismatches": 0}


def test_the_replicas_figures_reach_the_targets_table_and_a_password_is_never_shown() -> None:
    from benchmarks import replicas, report  # noqa: PLC0415

    assert replicas.shown("postgresql://u:s3cret@h:5432/d") == "postgresql://u:***@h:5432/d"
    results: dict[str, Any] = {"replicas": {
        "configurations": [{"replicas": 2, "batch": 1, "forwarded_requests": 5,
                            "requests": 10}],
        "pg_events_per_s_8_clients_1_replica": 900.0,
        "pg_events_per_s_8_clients_2_replicas": 1200.0, "pg_p99_ms_8_clients_2_replicas": 25.0,
        "pg_batch_events_per_s_2_replicas": 3000.0, "failover_s": 5.5}}
    report.headline(results)
    verdicts = {t["key"]: t["met"] for t in results["targets"]}
    assert verdicts["pg_events_per_s_8_clients_2_replicas"] is True
    assert verdicts["pg_p99_ms_8_clients_2_replicas"] is False
    assert verdicts["pg_batch_events_per_s_2_replicas"] is False
    assert verdicts["failover_s"] is True
    assert any("5 of 10 forwarded" in note for note in results["notes"])


def test_an_only_run_keeps_the_figures_of_the_sections_it_did_not_run() -> None:
    """`--only replicas` used to write a record holding the replicas' figures alone."""
    from benchmarks import report  # noqa: PLC0415
    from benchmarks.__main__ import merged  # noqa: PLC0415

    previous: dict[str, Any] = {
        "sections": ["startup", "rebuild", "replicas"],
        "startup": {"load_compile": {"load_compile_s": 0.09},
                    "rebuild": {"rebuild_s": 8.82, "events": 100_000}},
        "replicas": {"failover_s": 5.37}}
    fresh: dict[str, Any] = {"sections": ["replicas"], "replicas": {"failover_s": 5.34}}
    result = merged(previous, fresh, ["replicas"])
    report.headline(result)
    assert (result["rebuild_100k_s"], result["load_compile_s"]) == (8.82, 0.09)
    assert result["failover_s"] == 5.34
    assert result["sections"] == ["startup", "rebuild", "replicas"]
    assert result["merged_sections"] == ["startup", "rebuild"]
    # One of two parts of a section measured again: the other part is kept.
    again = merged(previous, {"sections": ["rebuild"], "startup": {"rebuild": {
        "rebuild_s": 7.0, "events": 100_000}}}, ["rebuild"])
    assert again["startup"] == {"rebuild": {"rebuild_s": 7.0, "events": 100_000},
                                "load_compile": {"load_compile_s": 0.09}}
