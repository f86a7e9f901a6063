"""The engine thread when things go wrong: a write fails, a caller gives up, the queue fills."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Event, load_bundle
from mandate_rules._service._errors import ApiError
from mandate_rules._service._metrics import Metrics
from mandate_rules._service._store import Store
from mandate_rules._service._worker import Submit, Worker

from .packs import at, flight, rule_ids, v1_rules


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


@pytest.mark.parametrize("method", ["commit", "insert_decision"])
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
