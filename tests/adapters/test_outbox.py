"""The write-back outbox: queued once, retried until the source takes it, written once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mandate_rules import Advisory
from mandate_rules._adapters import (
    Adapter,
    AdapterError,
    Batch,
    Outbox,
    Pulled,
    SourceAuthError,
    SourceRejectedError,
    SourceUnavailableError,
    WriteResult,
)
from mandate_rules._adapters.testing import sample_advisory
from mandate_rules._database import parse_target

from .helpers_local import event_for


class _Flaky(Adapter):
    name = "flaky"

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.writes: list[str] = []

    @classmethod
    def from_config(cls, config: Any, *, base_dir: Path, env: Any) -> Adapter:
        raise NotImplementedError

    @property
    def source(self) -> str:
        return "test://flaky"

    def parse(self, body: bytes, headers: Any) -> Batch:
        return Batch()

    def pull(self, cursor: str | None) -> Pulled:
        return Pulled()

    def write_back(self, advisory: Advisory) -> WriteResult:
        if self.failures:
            raise self.failures.pop(0)
        self.writes.append(advisory.id)
        return WriteResult("test record", remote_id="r1")


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def outbox(db_url: str, clock: _Clock) -> Outbox:
    return Outbox(parse_target(db_url), base_delay=10, max_delay=100, clock=clock)


def _advisory() -> Advisory:
    return sample_advisory(event_for("test://flaky"))


def test_enqueue_is_idempotent(outbox: Outbox) -> None:
    advisory = _advisory()
    assert outbox.enqueue(advisory) is True
    assert outbox.enqueue(advisory) is False
    assert len(outbox.rows()) == 1


def test_retried_until_written_then_never_again(outbox: Outbox, clock: _Clock) -> None:
    adapter = _Flaky([SourceUnavailableError("down", status=503),
                      SourceAuthError("401 Unauthorized", status=401)])
    advisory = _advisory()
    outbox.enqueue(advisory)
    resolve: Callable[[str], Adapter | None] = lambda source: adapter  # noqa: E731
    assert outbox.deliver_due(resolve).failed == 1
    assert outbox.deliver_due(resolve).failed == 0  # not due yet: 10 s later
    clock.now += 10
    report = outbox.deliver_due(resolve)
    assert report.failed == 1
    assert "401" in (outbox.rows()[0].last_error or "")
    clock.now += 19
    assert outbox.deliver_due(resolve).written == 0  # the delay doubled to 20 s
    clock.now += 1
    assert outbox.deliver_due(resolve).written == 1
    clock.now += 1000
    outbox.enqueue(advisory)
    assert outbox.deliver_due(resolve).written == 0
    assert adapter.writes == [advisory.id]
    (row,) = outbox.rows()
    assert (row.status, row.attempts, row.remote_id) == ("done", 3, "r1")


def test_retry_after_from_the_source_sets_the_next_attempt(outbox: Outbox,
                                                           clock: _Clock) -> None:
    adapter = _Flaky([SourceUnavailableError("slow down", status=429, retry_after=60)])
    outbox.enqueue(_advisory())
    outbox.deliver_due(lambda source: adapter)
    assert outbox.next_due() == pytest.approx(clock.now + 60)


def test_no_adapter_for_the_source_keeps_it_queued(outbox: Outbox) -> None:
    outbox.enqueue(_advisory())
    report = outbox.deliver_due(lambda source: None)
    assert report.failed == 1
    assert report.pending == 1
    assert "no adapter is configured for test://flaky" in (outbox.rows()[0].last_error or "")


def test_a_leased_row_is_not_written_by_a_second_deliverer(db_url: str,
                                                           clock: _Clock) -> None:
    first = Outbox(parse_target(db_url), clock=clock)
    second = Outbox(parse_target(db_url), clock=clock)
    advisory = _advisory()
    first.enqueue(advisory)
    adapter = _Flaky([])

    def write_while_other_delivers(source: str) -> Adapter:
        assert second.deliver_due(lambda s: adapter).written == 0  # leased by `first`
        return adapter

    assert first.deliver_due(write_while_other_delivers).written == 1
    assert adapter.writes == [advisory.id]


@pytest.mark.parametrize("status", [404, 409, 422])
def test_a_refusal_that_cannot_succeed_goes_dead_with_the_source_message(
        outbox: Outbox, clock: _Clock, status: int) -> None:
    message = f"PATCH /api/v2/cases/rec-1: {status}: field not found (flag_message)"
    adapter = _Flaky([SourceRejectedError(message, status=status)])
    advisory = _advisory()
    outbox.enqueue(advisory)
    report = outbox.deliver_due(lambda source: adapter)
    assert (report.written, report.failed, report.dead, report.pending) == (0, 0, 1, 0)
    (row,) = outbox.rows()
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == f"SourceRejectedError: {message}"
    assert outbox.next_due() is None
    clock.now += 10_000
    assert outbox.deliver_due(lambda source: adapter, all_pending=True).written == 0
    assert adapter.writes == []
    assert outbox.rows(statuses=("dead",)) == [row]
    assert outbox.rows(statuses=("pending", "done")) == []
    assert outbox.counts() == {("test://flaky", "dead"): 1}
    assert row.to_json()["status"] == "dead"
    assert row.to_json()["next_attempt_at"] is None


def test_a_dead_row_put_back_by_hand_is_written_once(outbox: Outbox, clock: _Clock) -> None:
    adapter = _Flaky([SourceRejectedError("422: the form has no field advisory", status=422)])
    advisory = _advisory()
    outbox.enqueue(advisory)
    outbox.deliver_due(lambda source: adapter)
    assert outbox.retry(sources=["test://other"]) == []  # another tenant's source: untouched
    assert outbox.retry(advisory_id="no-such-advisory") == []
    assert outbox.retry(advisory_id=advisory.id, sources=["test://flaky"]) == [advisory.id]
    assert outbox.retry() == []  # nothing dead any more
    (row,) = outbox.rows()
    assert (row.status, row.done_at) == ("pending", None)
    assert outbox.next_due() == clock.now
    assert outbox.deliver_due(lambda source: adapter).written == 1
    assert adapter.writes == [advisory.id]
    assert outbox.rows()[0].status == "done"
    assert outbox.rows()[0].attempts == 2


def test_failures_that_may_pass_are_retried_not_dead(outbox: Outbox, clock: _Clock) -> None:
    adapter = _Flaky([SourceAuthError("401 Unauthorized", status=401),
                      SourceUnavailableError("502 Bad Gateway", status=502),
                      RuntimeError("a bug in the adapter")])
    outbox.enqueue(_advisory())
    for _ in range(3):
        report = outbox.deliver_due(lambda source: adapter, all_pending=True)
        assert (report.failed, report.dead) == (1, 0)
    assert outbox.deliver_due(lambda source: adapter, all_pending=True).written == 1


def test_an_advisory_the_adapter_cannot_place_goes_dead(outbox: Outbox) -> None:
    adapter = _Flaky([AdapterError("advisory adv-1 names no submission (subject)")])
    outbox.enqueue(_advisory())
    assert outbox.deliver_due(lambda source: adapter).dead == 1
    assert "names no submission" in (outbox.rows()[0].last_error or "")


def test_rows_page_by_seq(outbox: Outbox) -> None:
    for subject in ("a", "b", "c"):
        outbox.enqueue(sample_advisory(event_for("test://flaky", subject)))
    first = outbox.rows(limit=2)
    rest = outbox.rows(after=first[-1].seq)
    assert [r.subject for r in first + rest] == ["a", "b", "c"]
    assert outbox.rows(sources=[]) == []
    assert len(outbox.rows(sources=["test://flaky"])) == 3


def test_a_pass_stopped_between_rows_leaves_the_rest_to_another_deliverer(
        db_url: str, clock: _Clock) -> None:
    first = Outbox(parse_target(db_url), clock=clock)
    second = Outbox(parse_target(db_url), clock=clock)
    for n in range(3):
        first.enqueue(sample_advisory(event_for("test://flaky", subject=f"rec-{n}")))
    adapter = _Flaky([])
    asked = iter([True, False])  # the sidecar stops after the first row
    assert first.deliver_due(lambda s: adapter, keep_going=lambda: next(asked)).written == 1
    # On PostgreSQL the stopped pass had leased all three: it gave back the two it left.
    assert second.deliver_due(lambda s: adapter).written == 2
    assert len(adapter.writes) == len(set(adapter.writes)) == 3
    assert first.pending() == 0
