"""Engine guarantees: idempotent re-delivery, determinism, isolation, threads, bounded state."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Engine, EngineError, Event, EventValidationError, RulePackError

from .helpers import RULES_DIR, make_event
from .test_patterns import PACK, at, completed, tick

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def flight(i: int, *, org: str = "org-1", country: str = "SOM", day: float | None = None,
           event_id: str | None = None) -> Event:
    when = T0 + dt.timedelta(days=i if day is None else day)
    return make_event("asset.request", time=when.isoformat(), country=country,
                      id=event_id or f"{country}-{org}-{i}", org={"id": org, "kind": "ingo"},
                      data={"asset": {"owner_kind": "mission_military"}})


@pytest.fixture
def engine(engine_for: Callable[..., Engine]) -> Engine:
    return engine_for({"patterns.yaml": PACK})


def test_redelivered_event_raises_nothing_and_changes_nothing(engine: Engine) -> None:
    events = [flight(i) for i in range(3)]
    for event in events[:2]:
        engine.evaluate(event)
    before = engine.state_size()
    assert engine.evaluate(events[1]) == ()  # a retry of the second
    assert engine.state_size() == before
    (advisory,) = engine.evaluate(events[2])
    assert len(advisory.evidence) == 3
    assert engine.evaluate(events[2]) == ()


def test_same_events_same_order_same_advisories(write_pack: Callable[..., Path]) -> None:
    root = write_pack({"patterns.yaml": PACK})
    events = [flight(i, org=f"org-{i % 3}") for i in range(30)]
    runs = []
    for _ in range(2):
        engine = Engine.from_directory(root)
        runs.append([json.dumps([a.to_json() for a in engine.evaluate(e)]) for e in events])
    assert runs[0] == runs[1]
    assert any(r != "[]" for r in runs[0])


def test_two_engines_never_share_state(write_pack: Callable[..., Path]) -> None:
    root = write_pack({"patterns.yaml": PACK})
    first, second = Engine.from_directory(root), Engine.from_directory(root)
    first.evaluate(flight(0))
    first.evaluate(flight(1))
    assert second.evaluate(flight(2)) == ()
    assert [a.rule_id for a in first.evaluate(flight(2))] == ["CNT-001"]
    assert second.state_size()["window_entries"] == 1


def test_concurrent_callers_lose_and_duplicate_nothing(write_pack: Callable[..., Path]) -> None:
    """Eight threads on one engine give exactly the advisories of one thread, in any order.

    Each thread is one organisation's stream in one of two operations; all events fall in
    one window, so the result does not depend on how the threads interleave.
    """
    root = write_pack({"patterns.yaml": PACK})
    streams = [[flight(i, org=f"org-{t}", country=("SOM", "PHL")[t % 2], day=i / 4)
                for i in range(60)] for t in range(8)]
    expected = Engine.from_directory(root)
    want = Counter(a.id for stream in streams for e in stream for a in expected.evaluate(e))
    shared = Engine.from_directory(root)
    got: Counter[str] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(len(streams))

    def run(stream: list[Event]) -> None:
        barrier.wait()
        for event in stream:
            ids = [a.id for a in shared.evaluate(event)]
            with lock:
                got.update(ids)

    threads = [threading.Thread(target=run, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == want
    assert sum(want.values()) == 8 * 58
    assert shared.state_size() == expected.state_size()


def test_state_stays_bounded_over_a_long_run(engine: Engine) -> None:
    for i in range(3000):  # four flights a day for two years, one org
        engine.evaluate(flight(i, day=i / 4))
    size = engine.state_size()
    # a 30-day window holds at most 121 flights, plus a day of slack before a sweep
    assert size["window_entries"] <= 125
    assert size["seen_events"] <= 4 * 33


def test_advisory_ids_depend_on_rule_bundle_and_evidence(write_pack: Callable[..., Path]) -> None:
    root = write_pack({"patterns.yaml": PACK})
    ids = []
    for _ in range(2):
        engine = Engine.from_directory(root)
        engine.evaluate(flight(0))
        engine.evaluate(flight(1))
        ids.append(engine.evaluate(flight(2))[0].id)
    assert ids[0] == ids[1]
    tuned = Engine.from_directory(root, parameters={"CNT-001": {"days": 31}})
    tuned.evaluate(flight(0))
    tuned.evaluate(flight(1))
    assert tuned.evaluate(flight(2))[0].id != ids[0]


def test_invalid_event_is_refused_before_any_state_changes(engine: Engine) -> None:
    bad = Event(id="x", source="s", type="asset.request", time=T0, country="SOM",
                data={"org": {"id": "o", "kind": "ingo"}, "asset": {"owner_kind": 7}})
    with pytest.raises(EventValidationError, match=r"data\.asset\.owner_kind"):
        engine.evaluate(bad)
    assert engine.state_size() == {"operations": 0}


def test_a_message_durable_rules_refuses_is_an_engine_error(
        engine_for: Callable[..., Engine]) -> None:
    pack = textwrap.dedent("""\
        pack: big
        version: 0.0.1
        rules:
          - id: BIG-001
            title: vehicles
            on: [movement.request]
            when: [any vehicles where owner_kind == ingo, sra_ref is present]
            severity: info
            advice: a
            actions: [a]
            references: [{source: s, checked: U}]
        """)
    engine = engine_for({"big.yaml": pack})
    vehicles = [{"id": f"v{i}", "owner_kind": "ingo", "markings": "humanitarian"}
                for i in range(200)]
    many = make_event("movement.request", data={"status": "requested", "vehicles": vehicles,
                                                 "sra_ref": "SRA-1"})
    assert [a.rule_id for a in engine.evaluate(many)] == ["BIG-001"]
    # durable_rules refuses a property over 16 MiB (its error 314)
    huge = make_event("movement.request", data={"status": "requested", "vehicles": vehicles,
                                                 "sra_ref": "x" * (17 * 1024 * 1024)})
    with pytest.raises(EngineError, match=r"movement\.request"):
        engine.evaluate(huge)
    # the engine is still usable, and the refused event left no trace
    again = make_event("movement.request", data={"status": "requested", "vehicles": vehicles,
                                                  "sra_ref": "SRA-2"})
    assert [a.rule_id for a in engine.evaluate(again)] == ["BIG-001"]
    assert engine.state_size()["seen_events"] == 2


def test_many_rules_compile_without_hanging(tmp_path: Path) -> None:
    """Above 512 sibling tests durable_rules spins forever; chunked rulesets must not."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent.parent)!r})
        from tests.helpers import BUNDLE_YAML, pack, rule_yaml
        from pathlib import Path
        from mandate_rules import Engine
        root = Path({str(tmp_path)!r})
        (root / "bundle.yaml").write_text(BUNDLE_YAML)
        rules = [rule_yaml(f"SYN-{{i:03d}}", "escort.request",
                           [f"terms.separation_m > {{i}}", "provider.kind in [nsag, militia]"])
                 for i in range(600)]
        (root / "syn.yaml").write_text(pack(*rules))
        engine = Engine.from_directory(root)
        print(len(engine.compiled_rulesets()["escort.request"]))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 6


def test_bundled_packs_compile_into_rulesets_per_event_type() -> None:
    engine = Engine.from_directory(RULES_DIR)
    rulesets = engine.compiled_rulesets()
    assert {"escort.request", "movement.request", "asset.request"} <= set(rulesets)
    for chunks in rulesets.values():
        for chunk in chunks:
            for body in chunk.values():
                first = body["all"][0]["m"]["$and"][0]
                assert set(first) == {"type"}


def test_an_event_meeting_several_alternatives_counts_once(
        engine_for: Callable[..., Engine]) -> None:
    """durable_rules fires a rule once per `$or` alternative met; the engine counts it once."""
    pack = textwrap.dedent("""\
        pack: alt
        version: 0.0.1
        rules:
          - id: ALT-001
            title: escorted trips
            severity: warning
            advice: a
            actions: [a]
            references: [{source: s, checked: U}]
            triggers:
              - on: [movement.request]
                when:
                  - any of:
                      - escort.requested is true
                      - escort.request_id is present
                count: {by: [org.id], within: 30 days, at_least: 2}
        """)
    engine = engine_for({"alt.yaml": pack})
    both = {"status": "completed", "escort": {"requested": True, "request_id": "e-1"}}
    assert engine.evaluate(make_event("movement.request", data=both)) == ()
    (advisory,) = engine.evaluate(make_event("movement.request", data=both,
                                             time="2026-11-02T08:00:00Z"))
    assert len(advisory.evidence) == 2
    assert advisory.explanation[-1].value == 2


def test_preview_is_a_dry_run(engine: Engine) -> None:
    engine.evaluate(flight(0))
    engine.evaluate(flight(1))
    before = engine.state_size()
    (previewed,) = engine.preview(flight(2))
    assert engine.state_size() == before
    assert engine.preview(flight(2))[0] == previewed  # nothing was remembered
    (evaluated,) = engine.evaluate(flight(2))
    assert evaluated == previewed
    assert engine.preview(flight(3, country="PHL")) == ()
    assert engine.state_size()["operations"] == 1


def test_reset_forgets_every_operation(engine: Engine) -> None:
    engine.evaluate(flight(0))
    engine.evaluate(flight(1))
    engine.reset()
    assert engine.state_size() == {"operations": 0}
    assert engine.evaluate(flight(1)) == ()  # not a duplicate any more, and a fresh window


def test_a_rule_durable_rules_refuses_is_a_problem_at_its_line(
        write_pack: Callable[..., Path]) -> None:
    """durable_rules allows 31 expressions per rule (error 113); a rule needing more is
    reported at its place in the pack, not as a crash of the engine."""
    routes = "".join(f"          - route.id == R{i}\n" for i in range(16))
    text = ("pack: big\nversion: 0.0.1\nrules:\n  - id: BIG-001\n    title: t\n"
            "    on: [escort.request]\n    when:\n      - armed is true\n      - none of:\n"
            + routes + "    severity: info\n    advice: a\n    actions: [a]\n"
            "    references: [{source: s, checked: U}]\n")
    root = write_pack({"big.yaml": text})
    with pytest.raises(RulePackError) as info:
        Engine.from_directory(root)
    (problem,) = info.value.problems
    assert (problem.file.split("/")[-1], problem.line, problem.code) == ("big.yaml", 4,
                                                                          "engine-refused")
    assert "BIG-001" in problem.message
    assert "named sets" in problem.message


def test_top_level_alternatives_become_separate_matches(write_pack: Callable[..., Path]) -> None:
    """A rule with many alternatives stays within durable_rules' limits, and fires once."""
    routes = "".join(f"          - route.id in [R{i}, S{i}]\n" for i in range(16))
    text = ("pack: wide\nversion: 0.0.1\nrules:\n  - id: WID-001\n    title: t\n"
            "    on: [escort.request]\n    when:\n      - armed is true\n      - any of:\n"
            + routes + "    severity: info\n    advice: a\n    actions: [a]\n"
            "    references: [{source: s, checked: U}]\n")
    engine = Engine.from_directory(write_pack({"wide.yaml": text}))
    hit = make_event(data={"armed": True, "route": {"id": "S15"}})
    assert [a.rule_id for a in engine.evaluate(hit)] == ["WID-001"]
    miss = make_event(data={"armed": True, "route": {"id": "T1"}})
    assert engine.evaluate(miss) == ()


CONTEXT_PACK = """\
pack: ctx
version: 0.0.1
rules:
  - id: CTX-001
    title: escort where the mission is a party
    on: [escort.request]
    when:
      - armed is true
      - context.mission.party_to_conflict in [yes, perceived]
    severity: warning
    advice: a
    actions: [a]
    references: [{source: s, checked: U}]
"""


def test_an_explanation_read_later_shows_what_held_when_the_event_was_judged(
        engine_for: Callable[..., Engine]) -> None:
    """Explanations are built when first read; a later context.update (which changes the
    values the explanation shows) must not reach an advisory already returned."""
    engine = engine_for({"ctx.yaml": CONTEXT_PACK})
    engine.evaluate(make_event("context.update", country="PHL", id="ctx-1",
                               time="2026-11-01T00:00:00Z",
                               data={"mission": {"party_to_conflict": "yes"}}))
    (first,) = engine.evaluate(make_event(country="PHL", data={"armed": True},
                                          time="2026-11-01T08:00:00Z"))
    engine.evaluate(make_event("context.update", country="PHL", id="ctx-2",
                               time="2026-11-02T00:00:00Z",
                               data={"mission": {"party_to_conflict": "perceived"}}))
    (second,) = engine.evaluate(make_event(country="PHL", data={"armed": True},
                                           time="2026-11-02T08:00:00Z"))
    shown = {item.field: item.value for item in first.explanation}
    assert shown["context.mission.party_to_conflict"] == "yes"
    assert {item.field: item.value for item in second.explanation}[
        "context.mission.party_to_conflict"] == "perceived"
    assert first.explanation is first.explanation  # built once, then kept


def test_a_passed_deadline_explains_the_event_that_started_it(engine: Engine) -> None:
    """The explanation of a deadline is built only if it passes, from the starting event."""
    completed(engine, at(0))
    (advisory,) = tick(engine, at(days=5))
    conditions = [item.condition for item in advisory.explanation]
    assert conditions[:3] == ["status == completed", "escort.requested is true",
                              "debrief.submitted_at is missing"]
    assert conditions[-1].startswith("no later event meeting: (movement.request) "
                                     "debrief.submitted_at is present")
    assert advisory.explanation[-1].value == at(hours=72)
    assert all(item.held for item in advisory.explanation)


def test_a_loaded_bundle_cannot_be_changed_under_a_running_engine() -> None:
    # A plain dict let `engine.bundle.contexts.clear()` make every operation "unknown" inside a
    # running engine; the bundle's mappings are read-only, as event data is.
    engine = Engine.from_directory(RULES_DIR)
    bundle = engine.bundle
    assert bundle.contexts
    assert bundle.sets
    with_parameters = next(rule for rule in bundle.rules if rule.parameters)
    some_context = next(iter(bundle.contexts.values()))
    cases: list[tuple[Any, str, object]] = [
        (bundle.contexts, "XYZ", some_context),
        (bundle.sets, "ARMED", ("state_military",)),
        (with_parameters.parameters, "extra", next(iter(with_parameters.parameters.values())))]
    for mapping, key, value in cases:
        before = dict(mapping)
        with pytest.raises(AttributeError):
            mapping.clear()
        with pytest.raises(TypeError):
            mapping[key] = value
        with pytest.raises(TypeError):
            del mapping[next(iter(mapping))]
        assert dict(mapping) == before
