"""The engine thread when things go wrong: a write fails, a caller gives up, the queue fills."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from mandate_rules import Engine, Event, load_bundle
from mandate_rules._errors import EngineError
from mandate_rules._service import _tenants
from mandate_rules._service._errors import ApiError
from mandate_rules._service._jobs import Preview, Submit
from mandate_rules._service._metrics import Metrics
from mandate_rules._service._store import Store
from mandate_rules._service._worker import Worker

from .packs import at, escort, flight, rule_ids, v1_rules


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "events.db")
    yield store
    store.close()


@pytest.fixture
def worker(store: Store, tmp_path: Path) -> Iterator[Worker]:
    worker = Worker(store, Metrics(), ["default"], queue_limit=100)
    worker.start(load_bundle(v1_rules(tmp_path / "rules")), None).result(60)
    yield worker
    worker.stop()


def submit(worker: Worker, *events: dict[str, Any]) -> Any:
    job = Submit(tenant="default", events=tuple(Event.from_json(e) for e in events),
                 batch=len(events) > 1)
    return worker.submit(job).result(60)


def stored(store: Store) -> int:
    return int(store._reader().execute("SELECT COUNT(*) FROM events").fetchone()[0])


def fail_once(monkeypatch: pytest.MonkeyPatch, store: Store, method: str) -> None:
    original = getattr(store, method)
    calls = []

    def failing(*args: Any) -> Any:
        if not calls:
            calls.append(1)
            raise sqlite3.OperationalError("database or disk is full")
        return original(*args)

    monkeypatch.setattr(store, method, failing)


@pytest.mark.parametrize("method", ["commit", "record"])
def test_a_failed_write_stores_nothing_and_leaves_no_trace_in_the_engine(
        worker: Worker, store: Store, monkeypatch: pytest.MonkeyPatch, method: str) -> None:
    fail_once(monkeypatch, store, method)
    with pytest.raises(ApiError) as caught:
        submit(worker, flight(org="org-w", time=at(0)), flight(org="org-w", time=at(1)))
    assert caught.value.code == "store-unavailable"
    assert caught.value.status == 503
    assert stored(store) == 0
    # Had the two flights stayed in the engine's window, this third one would be counted.
    (result,) = submit(worker, flight(org="org-w", time=at(2)))
    assert rule_ids(result.to_json()) == []
    assert stored(store) == 1
    assert worker.healthy


def test_a_job_whose_caller_gave_up_before_it_started_is_not_done(store: Store,
                                                                  tmp_path: Path) -> None:
    worker = Worker(store, Metrics(), ["default"], queue_limit=10)
    job = Submit(tenant="default", events=(Event.from_json(flight()),), batch=False)
    worker.submit(job)
    assert job.future.cancel()  # still queued: the thread has not started
    worker.start(load_bundle(v1_rules(tmp_path / "rules")), None).result(60)
    later = Submit(tenant="default", events=(Event.from_json(flight()),), batch=False)
    worker.submit(later).result(60)
    worker.stop()
    assert stored(store) == 1


def test_a_full_queue_answers_overloaded(store: Store) -> None:
    worker = Worker(store, Metrics(), ["default"], queue_limit=1)  # not started: nothing drains
    worker.submit(Submit(tenant="default", events=(Event.from_json(flight()),), batch=False))
    with pytest.raises(ApiError) as caught:
        worker.submit(Submit(tenant="default", events=(Event.from_json(flight()),),
                             batch=False))
    assert caught.value.code == "overloaded"
    assert caught.value.headers == {"Retry-After": "1"}


def test_jobs_of_one_group_are_written_together_and_see_each_other(
        worker: Worker, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hold the engine thread on a dry run, so that the next three jobs make one group.
    holding, release = threading.Event(), threading.Event()
    preview = worker._preview

    def held(job: Preview) -> Any:
        holding.set()
        release.wait(60)
        return preview(job)

    monkeypatch.setattr(worker, "_preview", held)
    evaluate = Engine.evaluate

    def refusing(engine: Engine, event: Event) -> Any:
        if event.id == "refused":
            raise EngineError("refused for the test")
        return evaluate(engine, event)

    monkeypatch.setattr(Engine, "evaluate", refusing)
    first = flight(org="org-g", id="f1", time=at(0))
    worker.submit(Preview(tenant="default", event=Event.from_json(escort())))
    assert holding.wait(60)
    jobs = [Submit(tenant="default", events=(Event.from_json(first),), batch=False),
            Submit(tenant="default", events=(Event.from_json(first),), batch=False),
            Submit(tenant="default", events=(Event.from_json(flight(org="org-g", id="f2",
                                                                      time=at(1))),
                                             Event.from_json(flight(org="org-g", id="refused",
                                                                    time=at(2)))),
                   batch=True)]
    futures = [worker.submit(job) for job in jobs]
    release.set()
    (one,), (again,) = futures[0].result(60), futures[1].result(60)
    with pytest.raises(ApiError) as caught:
        futures[2].result(60)
    assert (caught.value.code, caught.value.details["index"]) == ("engine-refused", 1)
    assert (one.duplicate, again.duplicate) == (False, True)
    assert again.advisory_texts == one.advisory_texts
    rows = store._reader().execute(
        "SELECT d.outcome, d.event_seq, e.id FROM decisions d JOIN events e "
        "ON e.seq = d.event_seq ORDER BY d.seq").fetchall()
    assert [tuple(r) for r in rows] == [("evaluated", rows[0][1], "f1"),
                                        ("duplicate", rows[0][1], "f1")]
    # The refused batch was taken out of the engine by replaying the log, which by then
    # held f1 (written before the replay): f2 is not counted, f1 is.
    (third,) = submit(worker, flight(org="org-g", id="f4", time=at(3)))
    assert rule_ids(third.to_json()) == []
    (fourth,) = submit(worker, flight(org="org-g", id="f5", time=at(4)))
    assert rule_ids(fourth.to_json()) == ["CNT-001"]


def test_an_event_sent_twice_in_one_batch_is_stored_once(worker: Worker, store: Store) -> None:
    sent = escort(id="twice")
    first, second = submit(worker, sent, dict(sent))
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.advisory_texts == first.advisory_texts
    (later,) = submit(worker, dict(sent))
    assert later.duplicate
    assert later.advisory_texts == first.advisory_texts
    assert stored(store) == 1
    outcomes = store._reader().execute(
        "SELECT outcome, COUNT(DISTINCT event_seq), COUNT(*) FROM decisions "
        "GROUP BY outcome ORDER BY outcome").fetchall()
    assert [tuple(r) for r in outcomes] == [("duplicate", 1, 2), ("evaluated", 1, 1)]


def fail_once_with(monkeypatch: pytest.MonkeyPatch, target: Any, method: str,
                   error: Exception) -> None:
    original = getattr(target, method)
    calls = []

    def failing(*args: Any) -> Any:
        if not calls:
            calls.append(1)
            raise error
        return original(*args)

    monkeypatch.setattr(target, method, failing)


UNEXPECTED = [
    # Not a database error: SQLite cannot encode a lone surrogate (what issue 10 found).
    ("record", UnicodeEncodeError("utf-8", "x\ud800", 1, 2, "surrogates not allowed")),
    ("commit", RuntimeError("injected: a bug in the write path")),
    ("find_events", UnicodeEncodeError("utf-8", "x\ud800", 1, 2, "surrogates not allowed")),
]


@pytest.mark.parametrize(("method", "error"), UNEXPECTED, ids=[u[0] for u in UNEXPECTED])
def test_an_unexpected_error_in_the_write_path_fails_that_request_not_the_thread(
        worker: Worker, store: Store, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, method: str, error: Exception) -> None:
    fail_once_with(monkeypatch, store, method, error)
    sent = [flight(org="org-u", time=at(0)), flight(org="org-u", time=at(1))]
    if method == "find_events":  # the group's look-up failed: each job asks again
        assert [r.duplicate for r in submit(worker, *sent)] == [False, False]
    else:
        with pytest.raises(ApiError) as caught:
            submit(worker, *sent)
        assert (caught.value.code, caught.value.status) == ("internal", 500)
        error_id = caught.value.details["error_id"]
        assert error_id in caught.value.message
        assert any(error_id in record.getMessage() and record.exc_info
                   for record in caplog.records)
        assert stored(store) == 0
    assert worker._thread.is_alive()
    assert worker.healthy
    (result,) = submit(worker, flight(org="org-u", time=at(2)))
    assert not result.duplicate
    # Nothing of a failed request stayed in the engine: the third flight is not counted.
    assert rule_ids(result.to_json()) == ([] if method != "find_events" else ["CNT-001"])
    assert worker._thread.is_alive()


def test_an_unexpected_error_outside_any_request_leaves_the_thread_running(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A snapshot is written after every group here; taking it fails once.
    worker = Worker(store, Metrics(), ["default"], queue_limit=10, snapshot_every=1)
    worker.start(load_bundle(v1_rules(tmp_path / "rules")), None).result(60)
    fail_once_with(monkeypatch, Engine, "snapshot", RuntimeError("injected"))
    try:
        submit(worker, flight(org="org-s", time=at(0)))
        (later,) = submit(worker, flight(org="org-s", time=at(1)))
        assert not later.duplicate
        assert worker._thread.is_alive()
        assert worker.healthy
        assert stored(store) == 2
    finally:
        worker.stop()


def refuse_id(monkeypatch: pytest.MonkeyPatch, refused: str) -> None:
    evaluate = Engine.evaluate

    def refusing(engine: Engine, event: Event) -> Any:
        if event.id == refused:
            raise EngineError("refused for the test")
        return evaluate(engine, event)

    monkeypatch.setattr(Engine, "evaluate", refusing)


@pytest.mark.parametrize("failure", ["refused half-way", "write failed"])
def test_a_failed_request_replays_only_the_events_after_the_tenants_baseline(
        worker: Worker, store: Store, monkeypatch: pytest.MonkeyPatch, failure: str) -> None:
    monkeypatch.setattr(_tenants, "BASELINE_EVERY", 10)
    for hour in range(23):
        submit(worker, escort(time=at(hours=hour)))
    # Stored after the last baseline (taken after the 20th event): they must stay counted.
    submit(worker, flight(org="org-b", time=at(1)))
    submit(worker, flight(org="org-b", time=at(2)))
    replayed = worker._metrics.replayed.value()
    refused = [flight(org="org-b", time=at(3)), flight(org="org-b", id="refused", time=at(4))]
    if failure == "refused half-way":
        refuse_id(monkeypatch, "refused")
    else:
        fail_once(monkeypatch, store, "record")
    with pytest.raises(ApiError):
        submit(worker, *refused)
    # The two stored flights are in the state, the refused batch's are not: the third.
    (third,) = submit(worker, flight(org="org-b", time=at(5)))
    assert rule_ids(third.to_json()) == ["CNT-001"]
    # Five events follow the baseline: three escorts and two flights; not the whole log.
    assert worker._metrics.replayed.value() - replayed == 5
    assert stored(store) == 26
    assert worker.healthy


def test_an_event_the_store_cannot_encode_fails_alone_and_the_thread_goes_on(
        worker: Worker, store: Store) -> None:
    # Built directly, as an embedder or an adapter could, past `Event.from_json`'s checks:
    # a real fault, SQLite's own UnicodeEncodeError, which once ended the engine thread.
    good = Event.from_json(escort(time=at(0)))
    bad = attrs.evolve(good, id="x\ud800")
    with pytest.raises(ApiError) as caught:
        worker.submit(Submit(tenant="default", events=(bad,), batch=False)).result(60)
    assert caught.value.status == 500
    assert caught.value.details["error_id"] in caught.value.message
    assert worker._thread.is_alive()
    assert worker.healthy
    (result,) = worker.submit(Submit(tenant="default", events=(good,), batch=False)).result(60)
    assert not result.duplicate
    assert stored(store) == 1
