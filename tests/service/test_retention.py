"""Retention (`retain_days`): the events and decision-log rows older than the setting that a
snapshot covers are deleted; advisories, resolutions, the candidate's advisories and every
event they refer to are kept, and the state rebuilt after pruning is the state before it.

Rows are made old by writing an earlier `received_at` (and `recorded_ts`) into the store,
as if they had been stored that long ago."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from benchmarks.stream import EventStream, StreamConfig

from mandate_rules import Engine, Event, load_bundle
from mandate_rules._database import parse_target
from mandate_rules._rules import Bundle
from mandate_rules._service._config import ConfigError, load_config
from mandate_rules._service._jobs import Resolve, Submit
from mandate_rules._service._metrics import Metrics
from mandate_rules._service._retention import longest_span, prune, span_warning
from mandate_rules._service._store import Store
from mandate_rules._service._worker import Worker

from .packs import at, escort, event, flight, v1_rules, v2_rules
from .server import RULES_DIR, Server

OLD_TEXT = "2000-01-01T00:00:00.000Z"
OLD_TS = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()


def quiet(**kwargs: Any) -> dict[str, Any]:
    """An event that raises nothing under the v1 or v2 packs."""
    return event("asset.request", {"asset": {"owner_kind": "ingo"}}, **kwargs)


def submit(worker: Worker, *events: dict[str, Any]) -> list[Any]:
    job = Submit(tenant="default", events=tuple(Event.from_json(e) for e in events),
                 batch=len(events) > 1)
    return list(worker.submit(job).result(60))


def started(store: Store, rules: Bundle, shadow: Bundle | None = None,
            **kwargs: Any) -> Worker:
    worker = Worker(store, Metrics(), ["default"], queue_limit=100, **kwargs)
    worker.start(rules, shadow).result(60)
    return worker


def write(store: Store, sql: str, *args: Any) -> None:
    conn = store.connection
    conn.execute(conn.begin_sql)
    conn.execute(sql, args)
    conn.execute("COMMIT")


def age_everything(store: Store) -> None:
    write(store, "UPDATE events SET received_at = ?", OLD_TEXT)
    write(store, "UPDATE decisions SET recorded_ts = ?, recorded_at = ?", OLD_TS, OLD_TEXT)


def seq_of(store: Store, event_id: str) -> int:
    return int(store.connection.execute("SELECT seq FROM events WHERE id = ?",
                                        (event_id,)).fetchone()[0])


def event_ids(store: Store) -> set[str]:
    return {row[0] for row in store.connection.execute("SELECT id FROM events")}


def count(store: Store, table: str) -> int:
    """Read on a reader's connection: the engine thread may be writing on its own."""
    return int(store._reader().execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def a_day_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=1)


@pytest.fixture
def rules(tmp_path: Path) -> Bundle:
    return load_bundle(v1_rules(tmp_path / "v1"))


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(parse_target(db_url))
    yield store
    store.close()


def test_old_covered_events_go_with_their_decisions_and_everything_else_stays(
        store: Store, db_url: str, rules: Bundle, tmp_path: Path) -> None:
    f1, f2, armed, unarmed, q1 = (flight(), flight(), escort(), escort(armed=False), quiet())
    q2, q3 = quiet(country="PHL"), quiet(country="PHL")
    # Shadow mode: the candidate (v2) raises STL-002 on the unarmed escort, STL-001 on both.
    worker = started(store, rules, load_bundle(v2_rules(tmp_path / "v2")))
    try:
        results = {item["id"]: submit(worker, item)[0]
                   for item in (f1, f2, armed, unarmed, q1, q2, q3)}
        (redelivered,) = submit(worker, f1)
        assert redelivered.duplicate
        (advisory,) = results[armed["id"]].advisories
        assert [results[e["id"]].advisories for e in (f1, f2, unarmed, q1, q2, q3)] == [[]] * 6
        worker.submit(Resolve(tenant="default", advisory_id=advisory["id"],
                              decision="acknowledged", text=None, by="officer")).result(60)
    finally:
        worker.stop()  # the snapshots: each operation's state up to the last event
    worker = started(store, rules)  # no shadow now; its snapshot is under the same live packs
    try:
        q4 = quiet()
        submit(worker, q4)  # stored after the snapshots: not covered
        age_everything(store)
        write(store, "UPDATE events SET received_at = ? WHERE id = ?",
              "2999-01-01T00:00:00.000Z", q3["id"])  # stored after the cutoff
        write(store, "UPDATE decisions SET recorded_ts = ? WHERE event_id = ? AND outcome = ?",
              time.time(), f1["id"], "duplicate")  # a recent re-delivery of f1
        before = {table: count(store, table) for table in
                  ("advisories", "shadow_advisories", "resolutions", "decisions")}
        other = Store(parse_target(db_url))  # the worker idles; this is the same database
        try:
            pruned = prune(other, "default", cutoff=a_day_ago(),
                           rules_hash=rules.version.hash)
        finally:
            other.close()
    finally:
        worker.stop()
    assert (pruned.events, pruned.decisions, pruned.done) == (3, 3, True)
    assert event_ids(store) == {f1["id"], armed["id"], unarmed["id"], q3["id"], q4["id"]}
    gone = {f2["id"], q1["id"], q2["id"]}
    assert not {row[0] for row in store.connection.execute("SELECT event_id FROM decisions")} \
        & gone
    assert count(store, "decisions") == before["decisions"] - 3
    for table in ("advisories", "shadow_advisories", "resolutions"):
        assert count(store, table) == before[table]
    shown = store.get_advisory("default", advisory["id"])
    assert shown is not None
    assert shown["raised_by"]["id"] == armed["id"]
    assert [r["decision"] for r in shown["resolutions"]] == ["acknowledged"]


def test_a_snapshot_of_other_rule_packs_or_of_no_operation_covers_nothing(
        store: Store, rules: Bundle) -> None:
    worker = started(store, rules)
    try:
        submit(worker, quiet(), quiet())
    finally:
        worker.stop()
    age_everything(store)
    stored = event_ids(store)
    assert prune(store, "default", cutoff=a_day_ago(), rules_hash="other").events == 0
    assert prune(store, "default", cutoff=a_day_ago(), countries=()).events == 0
    assert prune(store, "default", cutoff=a_day_ago(), countries={"PHL"}).events == 0
    assert event_ids(store) == stored
    assert prune(store, "default", cutoff=a_day_ago(), countries={"SOM"}).events == 2


def test_a_restart_after_pruning_counts_what_was_deleted(store: Store, rules: Bundle) -> None:
    """Two flights, then a prune deletes them (they raised nothing); the third flight after
    a restart still makes three in 30 days, as it does for an engine that kept them all."""
    flights = [flight(org="org-r", time=at(hours=h)) for h in range(3)]
    engine = Engine(rules)
    expected = [[a.rule_id for a in engine.evaluate(Event.from_json(f))] for f in flights]
    assert expected == [[], [], ["CNT-001"]]
    worker = started(store, rules)
    try:
        got = [[a["rule_id"] for a in submit(worker, f)[0].advisories] for f in flights[:2]]
    finally:
        worker.stop()
    age_everything(store)
    assert prune(store, "default", cutoff=a_day_ago(), rules_hash=rules.version.hash,
                 chunk=1).events == 2
    assert count(store, "events") == 0
    worker = started(store, rules)
    try:
        got += [[a["rule_id"] for a in submit(worker, flights[2])[0].advisories]]
    finally:
        worker.stop()
    assert got == expected


def test_a_pass_stopped_between_chunks_goes_on_where_it_stopped(
        store: Store, rules: Bundle) -> None:
    worker = started(store, rules)
    try:
        submit(worker, escort(), *(quiet() for _ in range(4)), escort())  # 2 with advisories
    finally:
        worker.stop()
    age_everything(store)
    progress: dict[str, Any] = {}
    calls = []
    while True:  # asked to stop after every chunk, as when requests keep coming
        calls.append(prune(store, "default", cutoff=a_day_ago(), progress=progress, chunk=2,
                           stop=lambda: True))
        if calls[-1].done:
            break
    # Chunks of two: (escort, quiet), (quiet, quiet), (quiet, escort), then none left.
    assert [(c.events, c.done) for c in calls] == [(1, False), (2, False), (1, False),
                                                   (0, True)]
    assert count(store, "events") == 2
    # At or below its mark every event left is evidence: the next pass starts past them.
    assert progress["SOM"].mark == max(seq_of(store, i) for i in event_ids(store))
    assert prune(store, "default", cutoff=a_day_ago(), progress=progress).events == 0


@pytest.mark.parametrize("split", ["each its own operations", "both every operation"])
def test_two_processes_pruning_at_once_delete_each_row_once(
        store: Store, db_url: str, rules: Bundle, split: str) -> None:
    """Replicas prune the operations they hold; one that has just lost an operation may still
    be pruning it while the new holder does. Two stores on one database pruning at once, in
    small chunks so that their transactions interleave: no deadlock or serialization
    failure, and each old row is deleted once between them."""
    worker = started(store, rules)
    try:
        for country in ("SOM", "PHL"):
            submit(worker, *(quiet(country=country) for _ in range(60)))
    finally:
        worker.stop()  # each operation's snapshot covers its 60 events
    age_everything(store)
    decisions = count(store, "decisions")
    plans = ([{"SOM"}, {"PHL"}] if split == "each its own operations" else [None, None])
    stores = [Store(parse_target(db_url)) for _ in plans]
    outcomes: list[Any] = [None] * len(plans)

    def run(index: int) -> None:
        try:
            outcomes[index] = prune(stores[index], "default", cutoff=a_day_ago(),
                                    rules_hash=rules.version.hash,
                                    countries=plans[index], chunk=7)
        except BaseException as exc:  # reported by the assertion below
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(plans))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for other in stores:
            other.close()
    assert not [o for o in outcomes if not hasattr(o, "events")], outcomes
    assert sum(o.events for o in outcomes) == 120
    assert sum(o.decisions for o in outcomes) == decisions
    assert count(store, "events") == count(store, "decisions") == 0
    worker = started(store, rules)  # and the state, from the snapshots alone, judges on
    try:
        (later,) = submit(worker, escort())
        assert [a["rule_id"] for a in later.advisories] == ["STL-001"]
    finally:
        worker.stop()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def test_a_worker_with_retain_days_prunes_between_groups_and_keeps_its_state(
        store: Store, rules: Bundle) -> None:
    flights = [flight(org="org-w", time=at(hours=h)) for h in range(3)]
    worker = started(store, rules)
    try:
        for item in [*flights[:2], *(quiet(country="PHL") for _ in range(3))]:
            submit(worker, item)
    finally:
        worker.stop()
    age_everything(store)
    # The pass starts after the first group (the rule packs' install) and yields between
    # chunks to the requests waiting; chunks of 1,000 events: one per operation here.
    worker = started(store, rules, retain_days=1)
    try:
        wait_for(lambda: count(store, "events") == 0, "the old events deleted")
        (third,) = submit(worker, flights[2])
        assert [a["rule_id"] for a in third.advisories] == ["CNT-001"]
        assert count(store, "events") == 1
    finally:
        worker.stop()
    assert count(store, "decisions") == 1


def test_retain_days_is_whole_days_and_zero_or_absent_turns_it_off(tmp_path: Path) -> None:
    file = tmp_path / "sidecar.toml"
    assert load_config(None, {}, {}).retain_days == 0
    file.write_text("retain_days = 30\n")
    assert load_config(file, {}, {}).retain_days == 30
    file.write_text("retain_days = 0\n")
    assert load_config(file, {}, {}).retain_days == 0
    for bad in ("-1", "1.5", '"30"', "true", "36501"):
        file.write_text(f"retain_days = {bad}\n")
        with pytest.raises(ConfigError) as caught:
            load_config(file, {}, {})
        (problem,) = caught.value.problems
        assert problem.startswith("retain_days: expected a whole number from 0 to 36500, got")
    file.write_text("retain_day = 30\n")
    with pytest.raises(ConfigError, match="did you mean 'retain_days'"):
        load_config(file, {}, {})


def test_the_warning_names_the_longest_window_or_deadline_longer_than_retention() -> None:
    bundle = Engine.from_directory(RULES_DIR).bundle
    seconds, where = longest_span(bundle) or (0.0, "")
    assert seconds == 90 * 86_400
    assert where.split()[0] in ("ESC-009", "ESC-010")
    warning = span_warning(bundle, 30)
    assert warning is not None
    assert "retain_days = 30" in warning
    assert f"90 days, {where}" in warning
    assert span_warning(bundle, 90) is None


def test_a_server_with_retain_days_deletes_what_a_snapshot_covers_and_judges_on_as_before(
        start_server: Callable[..., Server], tmp_path: Path) -> None:
    """A seeded stream over three operations: its first 300 events stored long ago (the
    rows aged while the server is stopped). With retain_days = 1 the server deletes every
    event its snapshots cover except the advisories' evidence, and, after a crash, judges
    the next 200 exactly as an engine that kept every event."""
    bundle = Engine.from_directory(RULES_DIR).bundle
    stream = EventStream(bundle, StreamConfig(seed=7, operations=3, ticks=0.0)).take(500)
    engine = Engine(bundle)
    expected = [[a.id for a in engine.evaluate(Event.from_json(e))] for e in stream]
    config = tmp_path / "sidecar.toml"
    config.write_text("retain_days = 1\n")
    server = start_server(rules=RULES_DIR, args=["--config", str(config)])
    client = server.client()
    old, new = stream[:300], stream[300:]
    got = [[a["id"] for a in r["advisories"]]
           for part in (old[:150], old[150:]) for r in client.events(part).json()["results"]]
    server.stop()  # writes the snapshots
    evidence = {row[0] for row in server.rows("SELECT event_seq FROM advisories")}
    assert 30 < len(evidence) < 270
    assert len({e["country"] for e in old}) == 3
    with sqlite3.connect(server.db) as conn:
        conn.execute("UPDATE events SET received_at = ?", (OLD_TEXT,))
        conn.execute("UPDATE decisions SET recorded_ts = ?", (OLD_TS,))
    server.start()
    wait_for(lambda: "retention: deleted" in server.log_text().rsplit("--- start", 1)[1],
             "the retention pass")
    last = server.log_text().rsplit("--- start", 1)[1]
    deleted = 300 - len(evidence)
    assert f"retention: deleted {deleted} events and {deleted} decision-log rows" in last
    assert "retain_days = 1 is shorter than the longest window or deadline of the live " \
           "rule packs (90 days, ESC-0" in last
    assert {row[0] for row in server.rows("SELECT seq FROM events")} == evidence
    assert {row[0] for row in server.rows("SELECT event_seq FROM decisions")} == evidence
    server.kill()
    server.start()  # from the snapshots and what is left of the log
    assert "restored the snapshots of 3 operations" in server.log_text().rsplit("--- start", 1)[1]
    got += [[a["id"] for a in r["advisories"]]
            for part in (new[:100], new[100:]) for r in client.events(part).json()["results"]]
    assert got == expected
    # The cost: a re-delivery of a deleted event is not known as one any more.
    gone = next(e for e, ids in zip(old, expected, strict=True) if not ids)
    assert client.events(gone).json()["duplicate"] is False
    assert server.rows("SELECT COUNT(*) FROM events WHERE id = ?", gone["id"]) == [(1,)]
